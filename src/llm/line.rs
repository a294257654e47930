//! One line of model output -> a row (soru, cevap, etiket), a skip, or a reject.
//!
//! Field rule, for rows where commas were not quoted ("…kaç gündür?,27,3,+1"):
//! the label is the last field; the question runs up to the first field ending in
//! '?' (else just the first field); the answer is everything between, joined back with
//! the commas it was split on. Questions end in '?' far more reliably than answers are
//! free of commas, so this keeps "27,3" whole and also allows commas in questions.
//! Quotes follow RFC 4180 (`"a, b"`, `""` for a quote) but only open at a field's start,
//! so `Hangi gezegen "Kızıl Gezegen" olarak bilinir?` stays literal.

use super::reason::{RejectReason, SkipReason, Split};

/// A parsed data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub soru: String,
    pub cevap: String,
    pub etiket: i8,
}

/// What a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    Row(Fields),
    Skip(SkipReason),
    Reject(RejectReason),
}

/// Classifies lines of one response in order; remembers whether a `<think>` block is open.
#[derive(Debug, Default)]
pub struct LineScanner {
    in_think: bool,
}

const THINK_OPEN: &str = "<think>";
const THINK_CLOSE: &str = "</think>";

impl LineScanner {
    /// A scanner for `text`. Some chat templates put the opening `<think>` in the prompt,
    /// so the answer starts inside the block: a `</think>` before any `<think>` means that.
    pub fn for_response(text: &str) -> Self {
        let in_think = match (text.find(THINK_OPEN), text.find(THINK_CLOSE)) {
            (None, Some(_)) => true,
            (Some(open), Some(close)) => close < open,
            _ => false,
        };
        LineScanner { in_think }
    }

    /// Classify `raw`, stripping a number marker (`1. `, `12) `) only when it is part of a
    /// numbered list (see [`numbered_list_lines`]).
    pub fn classify(&mut self, raw: &str) -> Classified {
        self.classify_in(raw, false)
    }

    /// Whether the next line starts inside a `<think>` block.
    pub fn in_think(&self) -> bool {
        self.in_think
    }

    /// Classify `raw`; `numbered_list` says whether its `N. ` / `N) ` prefix is a list
    /// marker (the lines around it are numbered in sequence) rather than part of the
    /// question (`2. Dünya Savaşı ...`, `19. yüzyıl ...`, `3. Selim ...`).
    pub fn classify_in(&mut self, raw: &str, numbered_list: bool) -> Classified {
        let (content, had_think) = self.strip_think(raw);
        let mut t = content.trim().trim_start_matches('\u{feff}').trim();
        if t.is_empty() {
            return Classified::Skip(if had_think {
                SkipReason::Think
            } else {
                SkipReason::Blank
            });
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            return Classified::Skip(SkipReason::CodeFence);
        }
        t = strip_list_marker(t, numbered_list);
        let fields = match split_fields(t) {
            Ok(f) => f,
            Err(reason) => return Classified::Reject(reason),
        };
        if fields.len() == 1 {
            return classify_commaless(t);
        }
        if is_header(&fields) {
            return Classified::Skip(SkipReason::Header);
        }
        if fields.len() == 2 {
            return Classified::Reject(RejectReason::TooFewFields(2));
        }
        let last = fields.len() - 1;
        let Some(etiket) = parse_label(&fields[last]) else {
            return Classified::Reject(RejectReason::InvalidLabel(short(fields[last].trim())));
        };
        // The question ends at the first field ending in '?', leaving one field at least
        // for the answer.
        let q_end = (0..last - 1)
            .find(|&k| ends_with_question_mark(&fields[k]))
            .unwrap_or(0);
        let soru = fields[..=q_end].join(",").trim().to_string();
        let cevap = fields[q_end + 1..last].join(",").trim().to_string();
        if soru.is_empty() {
            return Classified::Reject(RejectReason::EmptyQuestion);
        }
        if cevap.is_empty() {
            return Classified::Reject(RejectReason::EmptyAnswer);
        }
        if soru.contains('\u{fffd}') || cevap.contains('\u{fffd}') {
            return Classified::Reject(RejectReason::ReplacementChar);
        }
        Classified::Row(Fields {
            soru,
            cevap,
            etiket,
        })
    }

    /// The line without `<think>` blocks, and whether any part of it was one.
    fn strip_think(&mut self, raw: &str) -> (String, bool) {
        let mut out = String::new();
        let mut rest = raw;
        let mut had = false;
        loop {
            if self.in_think {
                had = true;
                match rest.find(THINK_CLOSE) {
                    Some(i) => {
                        rest = &rest[i + THINK_CLOSE.len()..];
                        self.in_think = false;
                    }
                    None => return (out, had),
                }
            }
            match rest.find(THINK_OPEN) {
                Some(i) => {
                    out.push_str(&rest[..i]);
                    rest = &rest[i + THINK_OPEN.len()..];
                    self.in_think = true;
                }
                None => {
                    out.push_str(rest);
                    return (out, had);
                }
            }
        }
    }
}

/// A line without any comma cannot be a row: it is a section marker, a comment, a row
/// written with the wrong separator, or prose.
fn classify_commaless(t: &str) -> Classified {
    // Lowercasing 'İ' gives 'i' + U+0307 (combining dot); drop the dot to match "eğitim".
    let lower = t.to_lowercase().replace('\u{307}', "");
    // Short lines only: a long sentence that happens to mention "test" is prose.
    if t.chars().count() <= 60 {
        if lower.contains("test") {
            return Classified::Skip(SkipReason::Section(Split::Test));
        }
        if ["eğitim", "egitim", "train"]
            .iter()
            .any(|w| lower.contains(w))
        {
            return Classified::Skip(SkipReason::Section(Split::Train));
        }
    }
    if t.starts_with('#') || t.starts_with("//") {
        return Classified::Skip(SkipReason::Comment);
    }
    let inner = t.trim_matches('|').trim();
    for sep in ['\t', ';', '|'] {
        let parts: Vec<&str> = inner.split(sep).collect();
        if parts.len() >= 3 && parse_label(parts[parts.len() - 1]).is_some() {
            return Classified::Reject(RejectReason::WrongSeparator(sep));
        }
    }
    Classified::Skip(SkipReason::Prose)
}

/// `- `, `* `, `• ` before the row, and `1. `, `12) ` when `numbered_list` says the number
/// is a list marker or when the text after it opens a quoted field (a quote only opens at
/// a field's start, so the number cannot belong to the question). The marker must be
/// followed by whitespace, so `1.5 nedir?` and `-1 nedir?` keep their numbers.
fn strip_list_marker(t: &str, numbered_list: bool) -> &str {
    if let Some((_, rest)) = number_marker(t) {
        return if numbered_list || rest.starts_with('"') {
            rest
        } else {
            t
        };
    }
    match t.strip_prefix(['-', '*', '•']) {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => t,
    }
}

/// `N. ` or `N) ` (1 to 4 digits, then whitespace) at the start of `t`: the number and the
/// text after the marker.
pub fn number_marker(t: &str) -> Option<(u32, &str)> {
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=4).contains(&digits) || !matches!(t.as_bytes().get(digits), Some(b'.' | b')')) {
        return None;
    }
    let after = &t[digits + 1..];
    if !after.starts_with(char::is_whitespace) {
        return None;
    }
    Some((t[..digits].parse().ok()?, after.trim_start()))
}

/// Which lines' `N. ` prefix is a list marker. Lines that start with one are taken in
/// order; a run of them numbered n, n+1, n+2, ... is a list when it is at least 3 long,
/// or when it is `1., 2.` and no other line is numbered. So a numbered list is stripped,
/// while Turkish ordinals (`2. Dünya Savaşı`, `19. yüzyıl`, `3. Selim`), which repeat for
/// the +1 and -1 answer of a question and do not count up, stay in the question.
pub fn numbered_list_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<bool> {
    let numbers: Vec<Option<u32>> = lines
        .into_iter()
        .map(|l| number_marker(l.trim().trim_start_matches('\u{feff}').trim()).map(|m| m.0))
        .collect();
    let numbered: Vec<(usize, u32)> = numbers
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (i, n)))
        .collect();
    let mut out = vec![false; numbers.len()];
    let mut start = 0;
    while start < numbered.len() {
        let mut end = start + 1;
        while end < numbered.len() && numbered[end].1 == numbered[end - 1].1.wrapping_add(1) {
            end += 1;
        }
        let len = end - start;
        let pair_alone = len == 2 && numbered[start].1 == 1 && numbered.len() == 2;
        if len >= 3 || pair_alone {
            for &(i, _) in &numbered[start..end] {
                out[i] = true;
            }
        }
        start = end;
    }
    out
}

/// Split on commas outside quotes. A quote that never closes, or an odd number of quotes
/// in an unquoted field (`Türkiye'nin başkenti neresidir?","Ankara",+1`: the row lost its
/// opening quote), makes the line unusable: guessing where the field was meant to start
/// would put a stray `"` into a clean row.
fn split_fields(t: &str) -> Result<Vec<String>, RejectReason> {
    let mut fields = Vec::new();
    let mut chars = t.chars().peekable();
    loop {
        let mut field = String::new();
        // Leading spaces do not stop a field from being quoted (`a, "b, c", +1`).
        let mut lead = String::new();
        while let Some(&c) = chars.peek() {
            if c == ' ' || c == '\t' {
                lead.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(RejectReason::UnterminatedQuote),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
        } else {
            field.push_str(&lead);
        }
        // Unquoted text, or stray text after a closing quote, up to the next comma.
        let mut ended = true;
        let mut quotes = 0usize;
        for c in chars.by_ref() {
            if c == ',' {
                ended = false;
                break;
            }
            quotes += usize::from(c == '"');
            field.push(c);
        }
        if quotes % 2 == 1 {
            return Err(RejectReason::StrayQuote);
        }
        fields.push(field);
        if ended {
            return Ok(fields);
        }
    }
}

fn is_header(fields: &[String]) -> bool {
    let names: Vec<String> = fields.iter().map(|f| f.trim().to_lowercase()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    matches!(
        names.as_slice(),
        ["soru", "cevap", "etiket"] | ["question", "answer", "label"]
    )
}

/// `+1`, `1`, `-1`, with stray spaces (`+ 1`) and the Unicode minus sign.
pub fn parse_label(field: &str) -> Option<i8> {
    let compact: String = field.chars().filter(|c| !c.is_whitespace()).collect();
    match compact.as_str() {
        "+1" | "1" => Some(1),
        "-1" | "\u{2212}1" => Some(-1),
        _ => None,
    }
}

fn ends_with_question_mark(field: &str) -> bool {
    field.trim_end().ends_with(['?', '？'])
}

fn short(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(soru: &str, cevap: &str, etiket: i8) -> Classified {
        Classified::Row(Fields {
            soru: soru.into(),
            cevap: cevap.into(),
            etiket,
        })
    }

    fn one(line: &str) -> Classified {
        LineScanner::default().classify(line)
    }

    #[test]
    fn unquoted_comma_in_answer_stays_in_the_answer() {
        assert_eq!(
            one("Ay'in Dünya etrafındaki dönüş süresi kaç gündür?,27,3,+1"),
            row(
                "Ay'in Dünya etrafındaki dönüş süresi kaç gündür?",
                "27,3",
                1
            )
        );
    }

    #[test]
    fn comma_in_question_before_its_question_mark() {
        assert_eq!(
            one("Peki, overfitting nedir?,Ezberleme, genelleyememe,-1"),
            row("Peki, overfitting nedir?", "Ezberleme, genelleyememe", -1)
        );
    }

    #[test]
    fn without_question_mark_the_question_is_the_first_field() {
        assert_eq!(
            one("Açıkla: ROC,Eğri, eşikler,1"),
            row("Açıkla: ROC", "Eğri, eşikler", 1)
        );
    }

    #[test]
    fn answer_ending_in_question_mark_is_not_taken_as_the_question() {
        // The last candidate for the question end is the second-to-last field minus one.
        assert_eq!(
            one("Ne?,Neden olmasın?,-1"),
            row("Ne?", "Neden olmasın?", -1)
        );
        assert_eq!(one("Soru,Neden?,-1"), row("Soru", "Neden?", -1));
    }

    #[test]
    fn quoted_fields_and_escaped_quotes() {
        assert_eq!(
            one(r#""Ay, kaç günde döner?", "27,3 günde ""yaklaşık""" ,+1"#),
            row("Ay, kaç günde döner?", "27,3 günde \"yaklaşık\"", 1)
        );
        assert_eq!(
            one(r#"Hangi gezegen "Kızıl Gezegen" olarak bilinir?,Mars,+1"#),
            row("Hangi gezegen \"Kızıl Gezegen\" olarak bilinir?", "Mars", 1)
        );
        assert_eq!(
            one(r#""Ay nedir?,Uydu,+1"#),
            Classified::Reject(RejectReason::UnterminatedQuote)
        );
    }

    #[test]
    fn labels_with_spaces_and_forms() {
        assert_eq!(one("S?,C, + 1 "), row("S?", "C", 1));
        assert_eq!(one("S?,C,1"), row("S?", "C", 1));
        assert_eq!(one("S?,C,\t-1\r"), row("S?", "C", -1));
        assert_eq!(one("S?,C,\u{2212}1"), row("S?", "C", -1));
        assert_eq!(
            one("S?,C,2"),
            Classified::Reject(RejectReason::InvalidLabel("2".into()))
        );
        assert_eq!(
            one("S?,C,iyi"),
            Classified::Reject(RejectReason::InvalidLabel("iyi".into()))
        );
        assert_eq!(
            one("S?,C,"),
            Classified::Reject(RejectReason::InvalidLabel(String::new()))
        );
    }

    #[test]
    fn list_markers_are_stripped_but_not_numbers() {
        let listed = |l: &str| LineScanner::default().classify_in(l, true);
        assert_eq!(listed("1. S?,C,+1"), row("S?", "C", 1));
        assert_eq!(listed("12) S?,C,-1"), row("S?", "C", -1));
        // Outside a numbered list the number is part of the question (an ordinal).
        assert_eq!(one("2. S?,C,+1"), row("2. S?", "C", 1));
        assert_eq!(
            numbered_list_lines(["1. a", "x", "2. b", "3. c", "7. d", "7. e", "8. f"]),
            [true, false, true, true, false, false, false]
        );
        assert_eq!(numbered_list_lines(["1. a", "2. b"]), [true, true]);
        assert_eq!(
            numbered_list_lines(["1. a", "1. a", "2. b", "2. b"]),
            [false, false, false, false]
        );
        assert_eq!(one("- S?,C,+1"), row("S?", "C", 1));
        assert_eq!(one("• S?,C,+1"), row("S?", "C", 1));
        assert_eq!(
            one("1.5 nedir?,Bir buçuk,+1"),
            row("1.5 nedir?", "Bir buçuk", 1)
        );
        assert_eq!(
            one("-1 nedir?,Eksi bir,+1"),
            row("-1 nedir?", "Eksi bir", 1)
        );
    }

    #[test]
    fn non_data_lines_are_skipped_with_their_reason() {
        assert_eq!(one("   "), Classified::Skip(SkipReason::Blank));
        assert_eq!(one("```csv"), Classified::Skip(SkipReason::CodeFence));
        assert_eq!(
            one("soru,cevap,etiket"),
            Classified::Skip(SkipReason::Header)
        );
        assert_eq!(
            one(" \"Soru\" , Cevap,ETIKET"),
            Classified::Skip(SkipReason::Header)
        );
        assert_eq!(
            one("Test kümesi:"),
            Classified::Skip(SkipReason::Section(Split::Test))
        );
        assert_eq!(
            one("### Eğitim verisi"),
            Classified::Skip(SkipReason::Section(Split::Train))
        );
        assert_eq!(one("# not"), Classified::Skip(SkipReason::Comment));
        assert_eq!(
            one("İşte istediğiniz veriler:"),
            Classified::Skip(SkipReason::Prose)
        );
        assert_eq!(
            one("Komut İstemi - ollama run ka + v"),
            Classified::Skip(SkipReason::Prose)
        );
    }

    #[test]
    fn data_like_lines_are_rejected_with_their_reason() {
        assert_eq!(
            one("S?,C"),
            Classified::Reject(RejectReason::TooFewFields(2))
        );
        assert_eq!(
            one("S?;C;+1"),
            Classified::Reject(RejectReason::WrongSeparator(';'))
        );
        assert_eq!(
            one("| S? | C | -1 |"),
            Classified::Reject(RejectReason::WrongSeparator('|'))
        );
        assert_eq!(
            one("S?\tC\t1"),
            Classified::Reject(RejectReason::WrongSeparator('\t'))
        );
        assert_eq!(
            one(" ,C,+1"),
            Classified::Reject(RejectReason::EmptyQuestion)
        );
        assert_eq!(
            one("S?, ,+1"),
            Classified::Reject(RejectReason::EmptyAnswer)
        );
        assert_eq!(
            one("S\u{fffd}?,C,+1"),
            Classified::Reject(RejectReason::ReplacementChar)
        );
    }

    #[test]
    fn think_blocks_within_and_across_lines() {
        let mut s = LineScanner::default();
        assert_eq!(
            s.classify("<think>plan: 50 soru"),
            Classified::Skip(SkipReason::Think)
        );
        assert_eq!(
            s.classify("S?,C,+1 still thinking"),
            Classified::Skip(SkipReason::Think)
        );
        assert_eq!(s.classify("done</think>S?,C,+1"), row("S?", "C", 1));
        assert_eq!(
            s.classify("<think>x</think>"),
            Classified::Skip(SkipReason::Think)
        );
        assert_eq!(s.classify("A?,<think>hm</think>B,-1"), row("A?", "B", -1));
    }

    #[test]
    fn answer_starting_inside_a_think_block() {
        let text = "reasoning first\n</think>\nS?,C,+1\n";
        let mut s = LineScanner::for_response(text);
        let got: Vec<_> = text.lines().map(|l| s.classify(l)).collect();
        assert_eq!(
            got,
            vec![
                Classified::Skip(SkipReason::Think),
                Classified::Skip(SkipReason::Think),
                row("S?", "C", 1)
            ]
        );
        assert!(!LineScanner::for_response("<think>a</think> b").in_think);
    }
}
