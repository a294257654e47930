//! Raw model answers -> clean `soru,cevap,etiket` rows split into train and test, plus
//! every other line with the reason it was skipped or rejected.
//!
//! Invariant (fuzzed in tests/llm_parse_props.rs): each line of each response, as cut by
//! [`lines`], ends up in exactly one of `rows`, `rejects`, `skipped`; the one exception is
//! a line of a JSON answer holding several records (`[{...}, {...}]` on one line), which
//! gives one row or reject per record.
//!
//! After each line is classified ([`super::line`]), rows are checked as a set:
//! exact duplicates are rejected, then rows are grouped by question (across all
//! responses, see [`question_key`]). A question keeps its first +1 and first -1 answer;
//! more answers of a label are extra, and a question lacking one label (the study's
//! "both answers +1") loses all its rows. Questions are then split train/test as whole
//! questions, so no question can be on both sides.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::json;
use super::line::{numbered_list_lines, Classified, Fields, LineScanner};
use super::reason::{RejectReason, SkipReason, Split};
use super::split::{self, question_key, Position, SplitMode};

/// One model answer.
#[derive(Debug, Clone, Copy)]
pub struct RawResponse<'a> {
    pub text: &'a str,
    /// The server stopped it at the token limit.
    pub truncated: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParseOptions {
    pub split: SplitMode,
}

/// A clean row. `response` is 0-based, `line` 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaRow {
    pub soru: String,
    pub cevap: String,
    pub etiket: i8,
    pub split: Split,
    pub response: usize,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub response: usize,
    pub line: usize,
    pub raw: String,
    pub reason: RejectReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub response: usize,
    pub line: usize,
    pub raw: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub responses: usize,
    pub truncated_responses: usize,
    pub lines: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    pub train_questions: usize,
    pub test_questions: usize,
    /// Rejected lines by [`RejectReason::code`].
    pub rejected: BTreeMap<&'static str, usize>,
    /// Skipped lines by [`SkipReason::code`].
    pub skipped: BTreeMap<&'static str, usize>,
    /// Questions in both train and test (always empty; checked, not assumed).
    pub leaked: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParseOutcome {
    /// Clean rows ordered by (response, line); pairs of (+1, -1) per question.
    pub rows: Vec<QaRow>,
    pub rejects: Vec<Reject>,
    pub skipped: Vec<Skipped>,
    pub summary: Summary,
}

impl ParseOutcome {
    pub fn train(&self) -> impl Iterator<Item = &QaRow> {
        self.rows.iter().filter(|r| r.split == Split::Train)
    }

    pub fn test(&self) -> impl Iterator<Item = &QaRow> {
        self.rows.iter().filter(|r| r.split == Split::Test)
    }
}

/// How a response is cut into lines: `\n` or `\r\n` (the `\r` is dropped).
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
}

struct Candidate<'a> {
    response: usize,
    line: usize,
    raw: &'a str,
    fields: Fields,
    pos: Position,
}

/// Parse all responses of one generation run.
pub fn parse_responses(responses: &[RawResponse<'_>], opts: &ParseOptions) -> ParseOutcome {
    let mut out = ParseOutcome::default();
    let mut candidates = Vec::new();
    for (r, resp) in responses.iter().enumerate() {
        classify_response(r, resp, &mut candidates, &mut out);
    }
    let candidates = drop_duplicates(candidates, &mut out.rejects);
    let pairs = pair_answers(candidates, &mut out.rejects);
    let positions: Vec<Position> = pairs.iter().map(|(a, b)| first(a, b).pos).collect();
    let splits = split::assign(&opts.split, &positions);
    for ((a, b), s) in pairs.into_iter().zip(splits) {
        for c in [a, b] {
            out.rows.push(QaRow {
                soru: c.fields.soru,
                cevap: c.fields.cevap,
                etiket: c.fields.etiket,
                split: s,
                response: c.response,
                line: c.line,
            });
        }
    }
    out.rows.sort_by_key(|r| (r.response, r.line));
    out.rejects.sort_by_key(|r| (r.response, r.line));
    out.summary = summarize(responses, &out);
    out
}

fn first<'x, 'a>(a: &'x Candidate<'a>, b: &'x Candidate<'a>) -> &'x Candidate<'a> {
    if (a.response, a.line) <= (b.response, b.line) {
        a
    } else {
        b
    }
}

fn classify_response<'a>(
    r: usize,
    resp: &RawResponse<'a>,
    candidates: &mut Vec<Candidate<'a>>,
    out: &mut ParseOutcome,
) {
    let all: Vec<&str> = lines(resp.text).collect();
    let last_nonblank = all.iter().rposition(|l| !l.trim().is_empty());
    let numbered = numbered_list_lines(all.iter().copied());
    let blocks = json::blocks(&all, |l| {
        let t = l.trim();
        t.starts_with("```") || t.starts_with("~~~")
    });
    let mut blocks = blocks.into_iter().peekable();
    let mut scanner = LineScanner::for_response(resp.text);
    let mut section = None;
    let mut data_index = 0;
    let first_candidate = candidates.len();
    let mut has_sections = false;
    let mut i = 0;
    while i < all.len() {
        while blocks.peek().is_some_and(|b| b.start < i) {
            blocks.next();
        }
        if !scanner.in_think() && blocks.peek().is_some_and(|b| b.start == i) {
            let block = blocks.next().expect("peeked");
            for (k, raw) in all.iter().copied().enumerate().take(block.end + 1).skip(i) {
                let skip = |reason| Skipped {
                    response: r,
                    line: k + 1,
                    raw: raw.to_string(),
                    reason,
                };
                let reject = |reason| Reject {
                    response: r,
                    line: k + 1,
                    raw: raw.to_string(),
                    reason,
                };
                if raw.trim().is_empty() {
                    out.skipped.push(skip(SkipReason::Blank));
                    continue;
                }
                let records = match &block.records {
                    Err(why) => {
                        out.rejects.push(reject(RejectReason::Json(why.clone())));
                        data_index += 1;
                        continue;
                    }
                    Ok(records) => records,
                };
                let here: Vec<_> = records.iter().filter(|rec| rec.line == k).collect();
                if here.is_empty() {
                    out.skipped.push(skip(SkipReason::Json));
                }
                for rec in here {
                    if rec.section.is_some() {
                        has_sections = true;
                    }
                    match &rec.fields {
                        Ok(fields) => candidates.push(Candidate {
                            response: r,
                            line: k + 1,
                            raw,
                            fields: fields.clone(),
                            pos: Position {
                                data_index,
                                section: rec.section.or(section),
                                response_has_sections: false,
                            },
                        }),
                        Err(why) => out.rejects.push(reject(RejectReason::Json(why.clone()))),
                    }
                    data_index += 1;
                }
            }
            i = block.end + 1;
            continue;
        }
        let raw = all[i];
        let line = i + 1;
        let mut class = scanner.classify_in(raw, numbered[i]);
        // A cut-off answer's last line is suspect even when it parses: "…,-1" cut to
        // "…,-" is rejected anyway, but "…,1 km,+1" cut to "…,1" would look fine.
        if resp.truncated && Some(i) == last_nonblank {
            let data_like = matches!(
                class,
                Classified::Row(_) | Classified::Reject(_) | Classified::Skip(SkipReason::Prose)
            );
            if data_like {
                class = Classified::Reject(RejectReason::Truncated);
            }
        }
        match class {
            Classified::Row(fields) => {
                let pos = Position {
                    data_index,
                    section,
                    response_has_sections: false,
                };
                candidates.push(Candidate {
                    response: r,
                    line,
                    raw,
                    fields,
                    pos,
                });
                data_index += 1;
            }
            Classified::Reject(reason) => {
                out.rejects.push(Reject {
                    response: r,
                    line,
                    raw: raw.to_string(),
                    reason,
                });
                data_index += 1;
            }
            Classified::Skip(reason) => {
                if let SkipReason::Section(s) = reason {
                    section = Some(s);
                    has_sections = true;
                }
                out.skipped.push(Skipped {
                    response: r,
                    line,
                    raw: raw.to_string(),
                    reason,
                });
            }
        }
        i += 1;
    }
    for c in &mut candidates[first_candidate..] {
        c.pos.response_has_sections = has_sections;
    }
}

fn drop_duplicates<'a>(
    candidates: Vec<Candidate<'a>>,
    rejects: &mut Vec<Reject>,
) -> Vec<Candidate<'a>> {
    let mut seen: HashMap<(String, String, i8), (usize, usize)> = HashMap::new();
    let mut kept = Vec::with_capacity(candidates.len());
    for c in candidates {
        let key = (
            question_key(&c.fields.soru),
            question_key(&c.fields.cevap),
            c.fields.etiket,
        );
        match seen.get(&key) {
            Some(&(response, line)) => rejects.push(Reject {
                response: c.response,
                line: c.line,
                raw: c.raw.to_string(),
                reason: RejectReason::Duplicate { response, line },
            }),
            None => {
                seen.insert(key, (c.response, c.line));
                kept.push(c);
            }
        }
    }
    kept
}

/// Group by question; keep one (+1, -1) pair per question, reject the rest.
fn pair_answers<'a>(
    candidates: Vec<Candidate<'a>>,
    rejects: &mut Vec<Reject>,
) -> Vec<(Candidate<'a>, Candidate<'a>)> {
    let mut order: Vec<Vec<Candidate<'a>>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for c in candidates {
        let k = question_key(&c.fields.soru);
        let i = *index.entry(k).or_insert_with(|| {
            order.push(Vec::new());
            order.len() - 1
        });
        order[i].push(c);
    }
    let reject = |c: Candidate<'_>, reason: RejectReason, rejects: &mut Vec<Reject>| {
        rejects.push(Reject {
            response: c.response,
            line: c.line,
            raw: c.raw.to_string(),
            reason,
        })
    };
    let mut pairs = Vec::new();
    for group in order {
        let (pos, neg): (Vec<_>, Vec<_>) = group.into_iter().partition(|c| c.fields.etiket > 0);
        if pos.is_empty() || neg.is_empty() {
            let (label, count) = if pos.is_empty() {
                (-1, neg.len())
            } else {
                (1, pos.len())
            };
            for c in pos.into_iter().chain(neg) {
                reject(c, RejectReason::SameLabels { label, count }, rejects);
            }
            continue;
        }
        let mut pos = pos.into_iter();
        let mut neg = neg.into_iter();
        let (p, n) = (
            pos.next().unwrap_or_else(|| unreachable!()),
            neg.next().unwrap_or_else(|| unreachable!()),
        );
        for (rest, kept) in [(pos, &p), (neg, &n)] {
            for c in rest {
                let reason = RejectReason::ExtraAnswer {
                    label: kept.fields.etiket,
                    kept_response: kept.response,
                    kept_line: kept.line,
                };
                reject(c, reason, rejects);
            }
        }
        if question_key(&p.fields.cevap) == question_key(&n.fields.cevap) {
            reject(p, RejectReason::Contradiction, rejects);
            reject(n, RejectReason::Contradiction, rejects);
            continue;
        }
        pairs.push((p, n));
    }
    pairs
}

fn summarize(responses: &[RawResponse<'_>], out: &ParseOutcome) -> Summary {
    let mut s = Summary {
        responses: responses.len(),
        truncated_responses: responses.iter().filter(|r| r.truncated).count(),
        lines: responses.iter().map(|r| lines(r.text).count()).sum(),
        ..Summary::default()
    };
    for r in &out.rows {
        match r.split {
            Split::Train => s.train_rows += 1,
            Split::Test => s.test_rows += 1,
        }
    }
    // Each question contributes exactly two rows.
    s.train_questions = s.train_rows / 2;
    s.test_questions = s.test_rows / 2;
    for r in &out.rejects {
        *s.rejected.entry(r.reason.code()).or_default() += 1;
    }
    for r in &out.skipped {
        *s.skipped.entry(r.reason.code()).or_default() += 1;
    }
    s.leaked = split::leaked_questions(out.rows.iter().map(|r| (r.soru.as_str(), r.split)));
    s
}

impl Summary {
    /// Rows, rejects and skips on one line, for logs.
    pub fn one_line(&self) -> String {
        let list = |m: &BTreeMap<&str, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{} clean rows (train {}, test {}); rejected {} [{}]; skipped {} [{}]; leakage: {}",
            self.train_rows + self.test_rows,
            self.train_rows,
            self.test_rows,
            self.rejected.values().sum::<usize>(),
            list(&self.rejected),
            self.skipped.values().sum::<usize>(),
            list(&self.skipped),
            if self.leaked.is_empty() {
                "none".to_string()
            } else {
                self.leaked.len().to_string()
            }
        )
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "parsed {} response(s), {} line(s); {} cut off at the token limit",
            self.responses, self.lines, self.truncated_responses
        )?;
        writeln!(
            f,
            "  clean rows: {} (train {} rows / {} questions, test {} rows / {} questions)",
            self.train_rows + self.test_rows,
            self.train_rows,
            self.train_questions,
            self.test_rows,
            self.test_questions
        )?;
        let total = |m: &BTreeMap<&str, usize>| m.values().sum::<usize>();
        writeln!(f, "  rejected lines: {}", total(&self.rejected))?;
        for (code, n) in &self.rejected {
            writeln!(f, "    {code:<20} {n}")?;
        }
        writeln!(f, "  skipped lines: {}", total(&self.skipped))?;
        for (code, n) in &self.skipped {
            writeln!(f, "    {code:<20} {n}")?;
        }
        if self.leaked.is_empty() {
            write!(f, "  leakage check: no question in both train and test")
        } else {
            write!(
                f,
                "  leakage check: FAILED, in both train and test: {}",
                self.leaked.join(" | ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUDY_RAW: &str = include_str!("../../tests/fixtures/llm/study-raw-output.txt");

    fn parse(text: &str, truncated: bool, train_rows: usize) -> ParseOutcome {
        let opts = ParseOptions {
            split: SplitMode::Layout { train_rows },
        };
        parse_responses(&[RawResponse { text, truncated }], &opts)
    }

    fn reasons(out: &ParseOutcome) -> Vec<(usize, String)> {
        out.rejects
            .iter()
            .map(|r| (r.line, r.reason.to_string()))
            .collect()
    }

    #[test]
    fn study_raw_output_from_the_report() {
        let out = parse(STUDY_RAW, false, 20);
        // 20 questions; 4 have both answers labelled +1 (Ay, Su, Everest, İstanbul).
        assert_eq!(out.rows.len(), 32);
        assert_eq!(out.rejects.len(), 8);
        assert!(out
            .rejects
            .iter()
            .all(|r| r.reason.to_string() == "both answers labelled +1"));
        let rejected_q: Vec<&str> = out
            .rejects
            .iter()
            .map(|r| r.raw.split('?').next().unwrap())
            .collect();
        assert_eq!(
            rejected_q[0],
            "Ay'in Dünya etrafındaki dönüş süresi kaç gündür"
        );
        assert_eq!(rejected_q[7], "Türkiye'nin en kalabalık şehri hangisidir");
        // The unquoted "27,3" stayed one answer before the pair check rejected it.
        assert_eq!(out.rejects[0].line, 4);
        // Title line, blank line and a space-only line.
        assert_eq!(out.skipped.len(), 3);
        assert_eq!(out.skipped[0].reason, SkipReason::Prose);
        // The first 20 data lines (10 questions, 4 of them rejected) are train.
        assert_eq!(out.summary.train_rows, 12);
        assert_eq!(out.summary.test_rows, 20);
        assert!(out.summary.leaked.is_empty());
        let first = &out.rows[0];
        assert_eq!(
            (
                first.soru.as_str(),
                first.cevap.as_str(),
                first.etiket,
                first.line
            ),
            ("İnsan vücudunda kaç tane kemik vardır?", "206", 1, 12)
        );
        let total = out.rows.len() + out.rejects.len() + out.skipped.len();
        assert_eq!(total, STUDY_RAW.lines().count());
    }

    #[test]
    fn messy_answer_every_case() {
        let text = "<think>\nÖnce eğitim, sonra test.\n</think>\r\n\
                    İşte veriler:\r\n\
                    ```csv\r\n\
                    soru,cevap,etiket\r\n\
                    1. A nedir?,Bir harf,+1\r\n\
                    2. A nedir?,Bir sayı, -1\r\n\
                    \r\n\
                    - B nedir?,\"Harf, ikinci\",1\r\n\
                    - B nedir?,Renk,- 1\r\n\
                    soru,cevap,etiket\r\n\
                    C nedir?,Üç,+1\r\n\
                    C nedir?,Üç,+1\r\n\
                    C nedir?,Dört,-1\r\n\
                    C nedir?,Beş,-1\r\n\
                    D nedir?,Dee,+2\r\n\
                    D nedir?,Dii,-1\r\n\
                    ```\r\n\
                    Test kümesi:\r\n\
                    E nedir?,Beşinci harf,+1\r\n\
                    E nedir?,Sesli değil,-1\r\n\
                    F nedir?,Altıncı,+1\r\n\
                    F nedir?,Alt";
        let out = parse(text, true, 100);
        let rows: Vec<(&str, &str, i8, Split)> = out
            .rows
            .iter()
            .map(|r| (r.soru.as_str(), r.cevap.as_str(), r.etiket, r.split))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("A nedir?", "Bir harf", 1, Split::Train),
                ("A nedir?", "Bir sayı", -1, Split::Train),
                ("B nedir?", "Harf, ikinci", 1, Split::Train),
                ("B nedir?", "Renk", -1, Split::Train),
                ("C nedir?", "Üç", 1, Split::Train),
                ("C nedir?", "Dört", -1, Split::Train),
                ("E nedir?", "Beşinci harf", 1, Split::Test),
                ("E nedir?", "Sesli değil", -1, Split::Test),
            ]
        );
        assert_eq!(
            reasons(&out),
            vec![
                (14, "duplicate of response 0 line 13".to_string()),
                (
                    16,
                    "extra -1 answer; the question's -1 answer is response 0 line 15".to_string()
                ),
                (17, "invalid label '+2' (expected +1, 1 or -1)".to_string()),
                (
                    18,
                    "only answer to its question is labelled -1; no +1 answer".to_string()
                ),
                (
                    23,
                    "only answer to its question is labelled +1; no -1 answer".to_string()
                ),
                (
                    24,
                    "last line of a cut-off answer (finish reason: length)".to_string()
                ),
            ]
        );
        let skipped: Vec<(usize, &str)> = out
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.code()))
            .collect();
        assert_eq!(
            skipped,
            vec![
                (1, "think"),
                (2, "think"),
                (3, "think"),
                (4, "prose"),
                (5, "code_fence"),
                (6, "header"),
                (9, "blank"),
                (12, "header"),
                (19, "code_fence"),
                (20, "section"),
            ]
        );
        assert_eq!(out.rows.len() + out.rejects.len() + out.skipped.len(), 24);
        assert_eq!(out.summary.lines, 24);
        assert_eq!(out.rows[0].line, 7);
    }

    #[test]
    fn questions_are_paired_across_responses_without_leakage() {
        // The second answer repeats question A (as a "test" question): it must not land
        // in test while A is in train.
        let a = "A?,iyi,+1\nA?,kötü,-1\nB?,iyi,+1\nB?,kötü,-1\n";
        let b = "A?,güzel,+1\nA?,çirkin,-1\nC?,iyi,+1\nC?,kötü,-1\n";
        let opts = ParseOptions {
            split: SplitMode::Layout { train_rows: 2 },
        };
        let out = parse_responses(
            &[
                RawResponse {
                    text: a,
                    truncated: false,
                },
                RawResponse {
                    text: b,
                    truncated: false,
                },
            ],
            &opts,
        );
        let got: Vec<(usize, &str, Split)> = out
            .rows
            .iter()
            .map(|r| (r.response, r.soru.as_str(), r.split))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "A?", Split::Train),
                (0, "A?", Split::Train),
                (0, "B?", Split::Test),
                (0, "B?", Split::Test),
                (1, "C?", Split::Test),
                (1, "C?", Split::Test),
            ]
        );
        assert_eq!(out.rejects.len(), 2);
        assert!(matches!(
            out.rejects[0].reason,
            RejectReason::ExtraAnswer {
                label: 1,
                kept_response: 0,
                kept_line: 1
            }
        ));
        assert!(out.summary.leaked.is_empty());
    }

    #[test]
    fn same_answer_for_both_labels_is_a_contradiction() {
        let out = parse("A?,x,+1\nA?,X ,-1\n", false, 10);
        assert!(out.rows.is_empty());
        assert_eq!(
            out.rejects
                .iter()
                .filter(|r| r.reason == RejectReason::Contradiction)
                .count(),
            2
        );
    }

    #[test]
    fn truncated_flag_only_touches_the_last_nonblank_data_line() {
        let text = "A?,x,+1\nA?,y,-1\n\n";
        assert_eq!(parse(text, false, 10).rows.len(), 2);
        let out = parse(text, true, 10);
        assert_eq!(
            reasons(&out),
            vec![
                (
                    1,
                    "only answer to its question is labelled +1; no -1 answer".to_string()
                ),
                (2, RejectReason::Truncated.to_string()),
            ]
        );
        // Cut inside a think block: nothing data-like to blame.
        let out = parse("A?,x,+1\nA?,y,-1\n<think>hmm", true, 10);
        assert_eq!(out.rows.len(), 2);
    }

    #[test]
    fn summary_reads_well() {
        let out = parse(STUDY_RAW, false, 20);
        assert_eq!(
            out.summary.to_string(),
            "parsed 1 response(s), 43 line(s); 0 cut off at the token limit\n\
             \x20 clean rows: 32 (train 12 rows / 6 questions, test 20 rows / 10 questions)\n\
             \x20 rejected lines: 8\n\
             \x20   same_labels          8\n\
             \x20 skipped lines: 3\n\
             \x20   blank                2\n\
             \x20   prose                1\n\
             \x20 leakage check: no question in both train and test"
        );
    }
}
