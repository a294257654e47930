//! JSON answers: small models often answer with `[{"soru": ..., "cevap": ..., "etiket": ...}]`
//! despite the prompt, and Ollama's `format` (a JSON schema) asks for exactly that. A JSON
//! block is found in a response's lines, its records (objects holding no nested object or
//! array) are located by a small string-aware scanner, and each record becomes a row or a
//! reject with reason `json`.
//!
//! A block starts at a line opening with `[` or `{` whose next non-space character is one
//! JSON allows there (`{`, `[`, `"`, `]`, `}`), so `[Kimya] Suyun formülü nedir?,H2O,+1`
//! stays a CSV row. It ends where its outermost bracket closes; one that never closes (a
//! cut-off answer) or does not parse as JSON is rejected line by line.

use serde_json::{Map, Value};

use super::line::{parse_label, Fields};
use super::reason::Split;

/// One JSON block: lines `start..=end` (0-based) of a response.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub start: usize,
    pub end: usize,
    /// `Err` when the block is not valid JSON; then none of its lines is used.
    pub records: Result<Vec<Record>, String>,
}

/// One record: the line its `{` is on, the section its enclosing key names (`"test": [...]`),
/// and the row or why it is unusable.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub line: usize,
    pub section: Option<Split>,
    pub fields: Result<Fields, String>,
}

/// The JSON blocks among `lines`, in order. `is_fence` lines (code fences) end a block that
/// has not closed.
pub fn blocks(lines: &[&str], is_fence: impl Fn(&str) -> bool) -> Vec<Block> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !starts_json(lines, i) {
            i += 1;
            continue;
        }
        let mut text = String::new();
        let mut starts = Vec::new();
        let mut scan = Scanner::default();
        let mut end = None;
        let mut j = i;
        while j < lines.len() && !(j > i && is_fence(lines[j])) {
            starts.push(text.len());
            text.push_str(lines[j]);
            text.push('\n');
            if scan.feed(&text) {
                end = Some(j);
                break;
            }
            j += 1;
        }
        let Some(end) = end else {
            let last = j.saturating_sub(1).max(i);
            out.push(Block {
                start: i,
                end: last,
                records: Err("its brackets never close (cut off?)".to_string()),
            });
            i = last + 1;
            continue;
        };
        let line_of = |offset: usize| i + starts.partition_point(|&s| s <= offset) - 1;
        let records = match serde_json::from_str::<Value>(&text[..scan.pos]) {
            Err(e) => Err(format!("not valid JSON ({e})")),
            Ok(_) => Ok(scan
                .leaves
                .iter()
                .map(|leaf| Record {
                    line: line_of(leaf.start),
                    section: leaf.section,
                    fields: record(&text[leaf.start..leaf.end]),
                })
                .collect()),
        };
        out.push(Block {
            start: i,
            end,
            records,
        });
        i = end + 1;
    }
    out
}

fn starts_json(lines: &[&str], i: usize) -> bool {
    let t = lines[i].trim().trim_start_matches('\u{feff}');
    let Some(open) = t.chars().next().filter(|c| matches!(c, '[' | '{')) else {
        return false;
    };
    // The next non-space character, possibly on a following line.
    let rest = std::iter::once(&t[1..]).chain(lines[i + 1..].iter().copied());
    let next = rest.flat_map(str::chars).find(|c| !c.is_whitespace());
    match (open, next) {
        ('[', Some('{' | '[' | '"' | ']')) | ('{', Some('"' | '}')) => true,
        (_, None) => t.len() == 1,
        _ => false,
    }
}

/// A record object -> fields. Keys are matched case-insensitively, in Turkish or English.
fn record(text: &str) -> Result<Fields, String> {
    let map: Map<String, Value> =
        serde_json::from_str(text).map_err(|_| "a record is not a JSON object".to_string())?;
    let get = |names: &[&str]| {
        map.iter()
            .find(|(k, _)| names.contains(&k.trim().to_lowercase().as_str()))
            .map(|(_, v)| v)
    };
    let text_field = |names: &[&str], what: &str| -> Result<String, String> {
        match get(names) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(Value::String(_)) => Err(format!("empty `{what}`")),
            Some(other) => Err(format!("`{what}` is {other}, not a string")),
            None => Err(format!("object without `{what}`")),
        }
    };
    let soru = text_field(&["soru", "question"], "soru")?;
    let cevap = text_field(&["cevap", "answer"], "cevap")?;
    let etiket = match get(&["etiket", "label"]) {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(1.0) => Some(1),
            Some(-1.0) => Some(-1),
            _ => None,
        },
        Some(Value::String(s)) => parse_label(s),
        _ => return Err("object without `etiket`".to_string()),
    };
    let etiket = etiket.ok_or_else(|| {
        format!(
            "etiket {} is not +1 or -1",
            get(&["etiket", "label"]).map_or(String::new(), Value::to_string)
        )
    })?;
    if soru.contains('\u{fffd}') || cevap.contains('\u{fffd}') {
        return Err("contains U+FFFD".to_string());
    }
    Ok(Fields {
        soru,
        cevap,
        etiket,
    })
}

struct Leaf {
    start: usize,
    end: usize,
    section: Option<Split>,
}

struct Frame {
    start: usize,
    nested: bool,
    section: Option<Split>,
}

/// Brackets outside strings, fed the growing block text; remembers where it stopped.
#[derive(Default)]
struct Scanner {
    pos: usize,
    stack: Vec<Frame>,
    in_string: bool,
    escaped: bool,
    string_start: usize,
    last_string: Option<(usize, usize)>,
    key: Option<(usize, usize)>,
    opened: bool,
    leaves: Vec<Leaf>,
}

impl Scanner {
    /// Scan the new part of `text`; true once the outermost bracket has closed.
    fn feed(&mut self, text: &str) -> bool {
        let bytes = text.as_bytes();
        while self.pos < bytes.len() {
            let (i, b) = (self.pos, bytes[self.pos]);
            self.pos += 1;
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => {
                        self.in_string = false;
                        self.last_string = Some((self.string_start, i));
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.string_start = i + 1;
                }
                b':' => self.key = self.last_string.take(),
                b'{' | b'[' => {
                    let named = self.key.take().map(|(s, e)| section(&text[s..e]));
                    let inherited = self.stack.last().and_then(|f| f.section);
                    if let Some(parent) = self.stack.last_mut() {
                        parent.nested = true;
                    }
                    self.stack.push(Frame {
                        start: i,
                        nested: b == b'[',
                        section: named.flatten().or(inherited),
                    });
                    self.opened = true;
                }
                b'}' | b']' => {
                    if let Some(f) = self.stack.pop() {
                        if b == b'}' && !f.nested {
                            self.leaves.push(Leaf {
                                start: f.start,
                                end: i + 1,
                                section: f.section,
                            });
                        }
                    }
                    if self.opened && self.stack.is_empty() {
                        return true;
                    }
                }
                b',' => self.key = None,
                _ => {}
            }
        }
        false
    }
}

/// `"test"`, `"egitim"`, `"train"`... as a key naming a split.
fn section(key: &str) -> Option<Split> {
    let k = crate::text::turkish_lowercase(key);
    if k.contains("test") {
        Some(Split::Test)
    } else if ["eğitim", "egitim", "train"].iter().any(|w| k.contains(w)) {
        Some(Split::Train)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(l: &str) -> bool {
        l.trim().starts_with("```")
    }

    #[test]
    fn array_of_records_over_many_lines() {
        let text = "[\n  {\"soru\": \"Ay nedir?\", \"cevap\": \"Uydu\", \"etiket\": 1},\n  {\n    \"soru\": \"Ay nedir?\",\n    \"cevap\": \"Yıldız\",\n    \"etiket\": \"-1\"\n  }\n]";
        let lines: Vec<&str> = text.lines().collect();
        let b = blocks(&lines, fence);
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].start, b[0].end), (0, 7));
        let recs = b[0].records.as_ref().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].line, 1);
        assert_eq!(recs[1].line, 2);
        assert_eq!(
            recs[1].fields,
            Ok(Fields {
                soru: "Ay nedir?".into(),
                cevap: "Yıldız".into(),
                etiket: -1
            })
        );
    }

    #[test]
    fn sections_bad_records_and_csv_lookalikes() {
        let text = "{\"egitim\": [{\"soru\": \"A?\", \"cevap\": \"x\", \"etiket\": 1}],\n\"test\": [{\"soru\": \"B?\", \"etiket\": 2, \"cevap\": \"y\"}, {\"soru\": \"C?\"}]}\n[Kimya] Su nedir?,H2O,+1\n[{\"soru\": \"D?\"";
        let lines: Vec<&str> = text.lines().collect();
        let b = blocks(&lines, fence);
        assert_eq!(b.len(), 2, "{b:?}");
        let recs = b[0].records.as_ref().unwrap();
        assert_eq!(recs[0].section, Some(Split::Train));
        assert_eq!(recs[1].section, Some(Split::Test));
        assert_eq!(recs[1].fields, Err("etiket 2 is not +1 or -1".into()));
        assert_eq!(recs[2].fields, Err("object without `cevap`".into()));
        assert_eq!((b[1].start, b[1].end), (3, 3));
        assert!(b[1].records.is_err());
    }
}
