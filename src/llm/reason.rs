//! Why a line of model output is not a clean row: skipped (recognised non-data) or
//! rejected (looked like data, or might be, but is unusable).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which half of the data a question belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// A line recognised as not being data; nothing is lost by dropping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    Blank,
    /// Inside (or wholly made of) a `<think>...</think>` block.
    Think,
    CodeFence,
    /// `soru,cevap,etiket` (or `question,answer,label`), possibly repeated.
    Header,
    /// A line announcing the train or test part ("Test kümesi:").
    Section(Split),
    /// Starts with `#` or `//`.
    Comment,
    /// Text with no comma: preambles, explanations, echoed prompt lines.
    Prose,
    /// A line of a JSON answer holding no record (brackets, a field of a multi-line object).
    Json,
}

impl SkipReason {
    /// Stable short name, used as a column value and to group the summary.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::Blank => "blank",
            SkipReason::Think => "think",
            SkipReason::CodeFence => "code_fence",
            SkipReason::Header => "header",
            SkipReason::Section(_) => "section",
            SkipReason::Comment => "comment",
            SkipReason::Prose => "prose",
            SkipReason::Json => "json",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Blank => f.write_str("blank line"),
            SkipReason::Think => f.write_str("inside a <think> block"),
            SkipReason::CodeFence => f.write_str("code fence"),
            SkipReason::Header => f.write_str("header line"),
            SkipReason::Section(s) => write!(f, "section marker ({})", s.name()),
            SkipReason::Comment => f.write_str("comment"),
            SkipReason::Prose => f.write_str("prose: no comma, not a data row"),
            SkipReason::Json => f.write_str("part of a JSON answer, no record starts here"),
        }
    }
}

/// A line that could have been data but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Fewer than the three fields `soru,cevap,etiket`.
    TooFewFields(usize),
    /// Tab-, semicolon- or pipe-separated instead of comma-separated.
    WrongSeparator(char),
    EmptyQuestion,
    EmptyAnswer,
    /// The last field is not `+1`, `1` or `-1`.
    InvalidLabel(String),
    UnterminatedQuote,
    /// An odd number of `"` in an unquoted field: a quote lost its partner.
    StrayQuote,
    /// Part of a JSON answer (`[{"soru": ..., "cevap": ..., "etiket": ...}]`) that cannot
    /// be used: the JSON does not parse, or an object lacks a field or a valid label.
    Json(String),
    /// U+FFFD: bytes the server could not decode; the text is damaged.
    ReplacementChar,
    /// Last line of an answer cut off at the token limit.
    Truncated,
    /// Same question, answer and label as an earlier line.
    Duplicate {
        response: usize,
        line: usize,
    },
    /// The question has no answer of the other label (e.g. both answers +1).
    SameLabels {
        label: i8,
        count: usize,
    },
    /// The question already has an answer with this label.
    ExtraAnswer {
        label: i8,
        kept_response: usize,
        kept_line: usize,
    },
    /// The question's +1 and -1 answers are the same text.
    Contradiction,
}

impl RejectReason {
    /// Stable short name, used as a column value and to group the summary.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::TooFewFields(_) => "too_few_fields",
            RejectReason::WrongSeparator(_) => "wrong_separator",
            RejectReason::EmptyQuestion => "empty_question",
            RejectReason::EmptyAnswer => "empty_answer",
            RejectReason::InvalidLabel(_) => "invalid_label",
            RejectReason::UnterminatedQuote => "unterminated_quote",
            RejectReason::StrayQuote => "stray_quote",
            RejectReason::Json(_) => "json",
            RejectReason::ReplacementChar => "replacement_char",
            RejectReason::Truncated => "truncated",
            RejectReason::Duplicate { .. } => "duplicate",
            RejectReason::SameLabels { .. } => "same_labels",
            RejectReason::ExtraAnswer { .. } => "extra_answer",
            RejectReason::Contradiction => "contradiction",
        }
    }
}

fn label(l: i8) -> &'static str {
    if l > 0 {
        "+1"
    } else {
        "-1"
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::TooFewFields(n) => {
                write!(f, "only {n} field{}; expected soru,cevap,etiket", if *n == 1 { "" } else { "s" })
            }
            RejectReason::WrongSeparator(c) => {
                write!(f, "fields separated by {} instead of commas", c.escape_debug())
            }
            RejectReason::EmptyQuestion => f.write_str("empty question"),
            RejectReason::EmptyAnswer => f.write_str("empty answer"),
            RejectReason::InvalidLabel(l) => write!(f, "invalid label '{l}' (expected +1, 1 or -1)"),
            RejectReason::UnterminatedQuote => f.write_str("quoted field without its closing quote"),
            RejectReason::StrayQuote => {
                f.write_str("unbalanced quote in an unquoted field (a quote lost its partner)")
            }
            RejectReason::Json(why) => write!(f, "JSON answer: {why}"),
            RejectReason::ReplacementChar => {
                f.write_str("contains U+FFFD (bytes the server could not decode)")
            }
            RejectReason::Truncated => {
                f.write_str("last line of a cut-off answer (finish reason: length)")
            }
            RejectReason::Duplicate { response, line } => {
                write!(f, "duplicate of response {response} line {line}")
            }
            RejectReason::SameLabels { label: l, count: 1 } => {
                write!(f, "only answer to its question is labelled {}; no {} answer", label(*l), label(-l))
            }
            RejectReason::SameLabels { label: l, count: 2 } => {
                write!(f, "both answers labelled {}", label(*l))
            }
            RejectReason::SameLabels { label: l, count } => {
                write!(f, "all {count} answers labelled {}", label(*l))
            }
            RejectReason::ExtraAnswer { label: l, kept_response, kept_line } => write!(
                f,
                "extra {} answer; the question's {} answer is response {kept_response} line {kept_line}",
                label(*l),
                label(*l)
            ),
            RejectReason::Contradiction => f.write_str("same answer labelled both +1 and -1"),
        }
    }
}
