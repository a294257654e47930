//! `ingest_csv`: the study's `soru,cevap,etiket` CSV files (train and test) as QA tables, with
//! an optional `kusur` column naming each bad answer's defect type.
//! Every physical line ends up in a row, a reject (with its line and reason) or is blank;
//! nothing is dropped silently. A file that is not in the declared encoding fails with the
//! lines that are not, and how to convert it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1254};
use serde::{Deserialize, Serialize};

use super::qa_table::{self, normalize_question, parse_label, QaRow, DEFECT_TYPES};
use super::{build_with, BuildCx, Check, Kind, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;

pub const KIND: Kind = Kind {
    name: "ingest_csv",
    // 2: the QA tables gained the `defect` column.
    // 3: an unbalanced quote rejects its own line only; the `encoding` param.
    version: 3,
    summary: "read train/test CSV files (soru,cevap,etiket[,kusur]) into QA tables",
    inputs: &[],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Training CSV, relative to the project folder.
    pub train: String,
    /// Test CSV.
    pub test: String,
    #[serde(default = "default_question")]
    pub question_column: String,
    #[serde(default = "default_answer")]
    pub answer_column: String,
    #[serde(default = "default_label")]
    pub label_column: String,
    /// Optional column with the defect type of each -1 row; a file without it has no defects.
    #[serde(default = "default_defect")]
    pub defect_column: String,
    /// Fail the stage when any row is rejected, instead of reporting and continuing.
    #[serde(default)]
    pub strict: bool,
    /// The files' character encoding, a WHATWG label (`utf-8`, `windows-1254`, `iso-8859-9`).
    #[serde(default = "default_encoding")]
    pub encoding: String,
}

fn default_question() -> String {
    "soru".into()
}
fn default_answer() -> String {
    "cevap".into()
}
fn default_label() -> String {
    "etiket".into()
}
fn default_defect() -> String {
    "kusur".into()
}
fn default_encoding() -> String {
    "utf-8".into()
}

/// The header names `parse_csv` looks for.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub question: &'a str,
    pub answer: &'a str,
    pub label: &'a str,
    /// Optional: when the header lacks it, every row's defect is `None`.
    pub defect: &'a str,
}

impl Default for Columns<'static> {
    fn default() -> Self {
        Columns {
            question: "soru",
            answer: "cevap",
            label: "etiket",
            defect: "kusur",
        }
    }
}

struct IngestCsv {
    params: Params,
    train: PathBuf,
    test: PathBuf,
    encoding: &'static Encoding,
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        let train = cx.file("train", &self.train)?;
        let test = cx.file("test", &self.test)?;
        let Some(encoding) = Encoding::for_label(self.encoding.trim().as_bytes()) else {
            return Err(cx
                .error("encoding", format!("unknown encoding `{}`", self.encoding))
                .help("a WHATWG encoding label: utf-8, windows-1254 (Turkish), iso-8859-9, utf-16le, ..."));
        };
        Ok(Box::new(IngestCsv {
            params: self,
            train,
            test,
            encoding,
        }))
    }
}

/// A row that could not be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub line: u64,
    pub raw: String,
    pub reason: String,
}

/// What `parse_csv` made of a file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<QaRow>,
    pub rejects: Vec<Reject>,
    /// Lines used in an unusual way (a quoted field spanning lines), for the user to see.
    pub notes: Vec<String>,
    /// Bytes the scanner looked at, re-reads included: the parse's work, which must stay
    /// linear in the input (issue 15 item 6: line numbers were once recounted from byte 0).
    pub scanned: usize,
}

/// A quoted field may span at most this many physical lines. A quote left open is retried
/// from the next line, so the bound keeps the scan linear even when many lines hold one.
const MAX_RECORD_LINES: usize = 50;

/// Parses one CSV text: a header naming the columns, then one record per line (RFC 4180
/// quoting: a field in `"` may hold commas, doubled quotes and line breaks). Handles a BOM
/// and CRLF. A line whose quote does not close, or opens a multi-line record that is not a
/// usable row, is rejected as an unbalanced quote and reading resumes at the next line.
pub fn parse_csv(text: &str, columns: Columns<'_>) -> Result<Parsed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut out = Parsed::default();
    let header = match scan_record(bytes, 0) {
        Ok(r) if r.lines == 1 => r,
        _ => bail!("the header line has an unbalanced quote"),
    };
    out.scanned += header.next;
    let names: Vec<String> = header.fields.iter().map(|h| h.trim().to_string()).collect();
    let pos = |c: &str| names.iter().position(|n| n == c);
    let (Some(qi), Some(ai), Some(li)) = (
        pos(columns.question),
        pos(columns.answer),
        pos(columns.label),
    ) else {
        bail!(
            "header must name the columns {},{},{}, found `{}`",
            columns.question,
            columns.answer,
            columns.label,
            names.join(",")
        );
    };
    let layout = Layout {
        ncols: names.len(),
        qi,
        ai,
        li,
        di: pos(columns.defect),
        defect_column: columns.defect,
    };
    let mut at = header.next;
    let mut line: u64 = 2;
    while at < bytes.len() {
        let scanned = scan_record(bytes, at);
        out.scanned += match &scanned {
            Ok(r) => r.next,
            Err(stop) => *stop,
        } - at;
        match scanned {
            Ok(r) if r.lines == 1 => {
                if !is_blank(&r.fields) {
                    match layout.row(r.fields, line) {
                        Ok(row) => out.rows.push(row),
                        Err(reason) => out.rejects.push(Reject {
                            line,
                            raw: raw_line(&text[at..r.next]),
                            reason,
                        }),
                    }
                }
                at = r.next;
                line += 1;
                continue;
            }
            // A multi-line record is trusted only if it is well-formed and a usable row;
            // otherwise the quote on this line is the mistake, and the next line is read on
            // its own.
            Ok(r) if r.strict => {
                let lines = r.lines;
                if let Ok(row) = layout.row(r.fields, line) {
                    let last = line + lines as u64 - 1;
                    out.notes
                        .push(format!("{line}-{last}: a quoted field spans {lines} lines"));
                    out.rows.push(row);
                    at = r.next;
                    line = last + 1;
                    continue;
                }
            }
            Ok(_) | Err(_) => {}
        }
        let line_end = bytes[at..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |p| at + p + 1);
        out.scanned += line_end - at;
        out.rejects
            .push(unbalanced(line, raw_line(&text[at..line_end])));
        at = line_end;
        line += 1;
    }
    Ok(out)
}

fn raw_line(s: &str) -> String {
    s.trim_end_matches(['\n', '\r']).to_string()
}

fn unbalanced(line: u64, raw: String) -> Reject {
    Reject {
        line,
        raw,
        reason: "unbalanced quote: a field opened with `\"` does not close on this line \
                 (write a quote inside a quoted field as `\"\"`)"
            .into(),
    }
}

fn is_blank(fields: &[String]) -> bool {
    fields.len() == 1 && fields[0].trim().is_empty()
}

/// Where the wanted columns are in the header.
struct Layout<'a> {
    ncols: usize,
    qi: usize,
    ai: usize,
    li: usize,
    di: Option<usize>,
    defect_column: &'a str,
}

impl Layout<'_> {
    /// One record as a row, or the reason it cannot be one.
    fn row(&self, mut fields: Vec<String>, line: u64) -> Result<QaRow, String> {
        if fields.len() != self.ncols {
            let hint = if fields.len() > self.ncols {
                "; quote fields that contain commas"
            } else {
                ""
            };
            return Err(format!(
                "expected {} fields, found {}{hint}",
                self.ncols,
                fields.len()
            ));
        }
        let mut take = |i: usize| std::mem::take(&mut fields[i]).trim().to_string();
        let (question, answer, l) = (take(self.qi), take(self.ai), take(self.li));
        let d = self.di.map(&mut take);
        if question.is_empty() || answer.is_empty() {
            return Err("empty question or answer".into());
        }
        let label = parse_label(&l).ok_or_else(|| format!("label `{l}` is not +1, 1 or -1"))?;
        let defect = match d {
            Some(d) => check_defect(&d, label, self.defect_column)?,
            None => None,
        };
        Ok(QaRow {
            line,
            question,
            answer,
            label,
            defect,
        })
    }
}

/// One record: its fields, where the next one starts, how many physical lines it took.
struct Scanned {
    fields: Vec<String>,
    next: usize,
    lines: usize,
    /// Every closing quote was followed by a comma or the end of the line, as RFC 4180 says.
    /// A line that leaves a quote open is otherwise closed by the next line's first quote,
    /// which in a real file is the start of another quoted field, followed by its text.
    strict: bool,
}

/// Scans the record starting at byte `start`. `Err(where it stopped)` when a quoted field is
/// still open at the end of the text or after `MAX_RECORD_LINES` lines. A `"` opens a quoted field only as
/// its first character; elsewhere it is kept as text, as most CSV readers do. The text is
/// UTF-8 and fields split only at ASCII bytes, so every field stays valid UTF-8.
fn scan_record(bytes: &[u8], start: usize) -> Result<Scanned, usize> {
    let mut fields = Vec::new();
    let mut field: Vec<u8> = Vec::new();
    let mut lines = 1;
    let mut in_quotes = false;
    let mut field_start = true;
    let mut just_closed = false;
    let mut strict = true;
    let mut i = start;
    let end_field = |field: &mut Vec<u8>| {
        String::from_utf8(std::mem::take(field))
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    };
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if just_closed && !matches!(b, b',' | b'\n' | b'\r') {
            strict = false;
        }
        just_closed = false;
        if in_quotes {
            match b {
                b'"' if bytes.get(i) == Some(&b'"') => {
                    field.push(b'"');
                    i += 1;
                }
                b'"' => {
                    in_quotes = false;
                    just_closed = true;
                }
                b'\n' => {
                    lines += 1;
                    if lines > MAX_RECORD_LINES {
                        return Err(i);
                    }
                    field.push(b);
                }
                _ => field.push(b),
            }
            continue;
        }
        match b {
            b'"' if field_start => in_quotes = true,
            b',' => {
                fields.push(end_field(&mut field));
                field_start = true;
                continue;
            }
            b'\n' => {
                if field.last() == Some(&b'\r') {
                    field.pop();
                }
                fields.push(end_field(&mut field));
                return Ok(Scanned {
                    fields,
                    next: i,
                    lines,
                    strict,
                });
            }
            _ => field.push(b),
        }
        field_start = false;
    }
    if in_quotes {
        return Err(bytes.len());
    }
    if field.last() == Some(&b'\r') {
        field.pop();
    }
    fields.push(end_field(&mut field));
    Ok(Scanned {
        fields,
        next: bytes.len(),
        lines,
        strict,
    })
}

/// An empty defect is `None` (a +1 row, or a -1 row whose kind is not declared). A +1 row
/// with a defect is rejected rather than guessed at: either its label or its defect is wrong.
fn check_defect(d: &str, label: i8, column: &str) -> Result<Option<String>, String> {
    if d.is_empty() {
        return Ok(None);
    }
    if !DEFECT_TYPES.contains(&d) {
        return Err(format!(
            "{column} `{d}` is not one of {}",
            DEFECT_TYPES.join(", ")
        ));
    }
    if label == 1 {
        return Err(format!(
            "a +1 row has {column} `{d}`: only -1 rows have a defect"
        ));
    }
    Ok(Some(d.to_string()))
}

/// The file's text in `encoding`. UTF-8 (the default) loses a leading BOM; a file with bytes
/// that are not UTF-8 fails with the lines that hold them, the first one read as Windows-1254
/// (the usual Turkish legacy encoding), and how to convert or declare it. Failing the whole
/// file, not rejecting those lines, is deliberate: in a Turkish file the lines with ş, ğ, ı
/// would go and the ASCII-only lines stay, a biased subset.
pub fn decode(bytes: &[u8], encoding: &'static Encoding, shown: &str) -> Result<String> {
    if encoding == UTF_8 {
        return match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => bail!("{}", not_utf8(bytes, shown)),
        };
    }
    match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(s) => Ok(s.into_owned()),
        None => bail!(
            "{shown} is not valid {}: check the file's encoding (`file -i {shown}`) and set \
             `encoding:` to it",
            encoding.name()
        ),
    }
}

/// How many lines of a non-UTF-8 file to name.
const SHOW_LINES: usize = 10;

fn not_utf8(bytes: &[u8], shown: &str) -> String {
    let mut bad = Vec::new(); // (line, column, byte)
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if let Err(e) = std::str::from_utf8(line) {
            let at = e.valid_up_to();
            bad.push((i + 1, at + 1, line[at]));
        }
    }
    let (first, column, byte) = bad[0];
    let listed: Vec<String> = bad
        .iter()
        .take(SHOW_LINES)
        .map(|b| b.0.to_string())
        .collect();
    let more = if bad.len() > SHOW_LINES {
        format!(" and {} more", bad.len() - SHOW_LINES)
    } else {
        String::new()
    };
    let line_text = bytes.split(|b| *b == b'\n').nth(first - 1).unwrap_or(b"");
    let (as_1254, _, _) = WINDOWS_1254.decode(line_text);
    let as_1254 = as_1254.trim_end_matches('\r');
    let turkish = as_1254.contains(['ş', 'ğ', 'ı', 'İ', 'Ş', 'Ğ']);
    let mut msg = format!(
        "{shown} is not UTF-8: {} line(s) hold bytes that are not valid UTF-8 (line{} {}{more}); \
         line {first}, column {column}: byte 0x{byte:02X}",
        bad.len(),
        if bad.len() == 1 { "" } else { "s" },
        listed.join(", ")
    );
    if turkish {
        msg.push_str(&format!(
            ".\nRead as windows-1254 (Turkish; ISO-8859-9 is the same for letters), line {first} \
             is `{as_1254}`.\nConvert the file: `iconv -f WINDOWS-1254 -t UTF-8 {shown} > \
             {shown}.utf8`, or set `encoding: windows-1254` on this stage."
        ));
    } else {
        msg.push_str(&format!(
            ".\nFind its encoding (`file -i {shown}`) and convert it: `iconv -f ENCODING -t \
             UTF-8 {shown} > {shown}.utf8`, or set `encoding:` on this stage (a WHATWG label: \
             windows-1254, windows-1252, utf-16le, ...)."
        ));
    }
    msg
}

pub fn rejects_batch(rejects: &[(String, Reject)]) -> Result<RecordBatch> {
    let schema = Schema::new(vec![
        Field::new("split", DataType::Utf8, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from_iter_values(
                rejects.iter().map(|(s, _)| s.as_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rejects.iter().map(|(_, r)| r.line),
            )),
            Arc::new(StringArray::from_iter_values(
                rejects.iter().map(|(_, r)| r.reason.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rejects.iter().map(|(_, r)| r.raw.as_str()),
            )),
        ],
    )?)
}

impl IngestCsv {
    fn read(
        &self,
        path: &Path,
        shown: &str,
        cx: &RunCx<'_>,
        all_rejects: &mut Vec<(String, Reject)>,
        split: &str,
    ) -> Result<Vec<QaRow>> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {shown}"))?;
        if self.encoding != UTF_8 && !bytes.is_ascii() && std::str::from_utf8(&bytes).is_ok() {
            cx.warn(format!(
                "{shown} is valid UTF-8 but read as {} (`encoding:`); its non-ASCII letters \
                 may come out wrong",
                self.encoding.name()
            ));
        }
        let text = decode(&bytes, self.encoding, shown)?;
        let p = &self.params;
        let columns = Columns {
            question: &p.question_column,
            answer: &p.answer_column,
            label: &p.label_column,
            defect: &p.defect_column,
        };
        let Parsed {
            rows,
            rejects,
            notes,
            ..
        } = parse_csv(&text, columns).with_context(|| shown.to_string())?;
        for n in &notes {
            cx.warn(format!("{shown}:{n}"));
        }
        for r in &rejects {
            cx.warn(format!("{shown}:{}: row rejected: {}", r.line, r.reason));
        }
        if rows.is_empty() {
            bail!("{shown}: no usable rows");
        }
        all_rejects.extend(rejects.into_iter().map(|r| (split.to_string(), r)));
        Ok(rows)
    }
}

impl Stage for IngestCsv {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let mut rejects = Vec::new();
        let train = self.read(&self.train, &self.params.train, cx, &mut rejects, "train")?;
        let test = self.read(&self.test, &self.params.test, cx, &mut rejects, "test")?;
        if self.params.strict && !rejects.is_empty() {
            bail!(
                "{} rows rejected and `strict: true` (see the notes above)",
                rejects.len()
            );
        }
        let mut train_q: BTreeMap<String, u64> = BTreeMap::new();
        for r in &train {
            train_q
                .entry(normalize_question(&r.question))
                .or_insert(r.line);
        }
        for r in &test {
            if let Some(tl) = train_q.get(&normalize_question(&r.question)) {
                cx.warn(format!(
                    "{}:{}: test question also in train ({}:{tl}): `{}`",
                    self.params.test, r.line, self.params.train, r.question
                ));
            }
        }
        Ok(Output::default()
            .table("train", qa_table::to_batch(&train)?)
            .table("test", qa_table::to_batch(&test)?)
            .table("rejects", rejects_batch(&rejects)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Columns<'static> {
        Columns::default()
    }

    #[test]
    fn handles_bom_crlf_quotes_and_label_forms() {
        let text = "\u{feff}soru,cevap,etiket\r\nAy kaç günde döner?,\"27,3 gün\",+1\r\n\"Su, nedir?\",\"H2O \"\"su\"\"\", -1 \r\nX?,Y,1\r\n";
        let Parsed { rows, rejects, .. } = parse_csv(text, cols()).unwrap();
        assert!(rejects.is_empty(), "{rejects:?}");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].answer, "27,3 gün");
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].question, "Su, nedir?");
        assert_eq!(rows[1].answer, "H2O \"su\"");
        assert_eq!(rows[1].label, -1);
        assert_eq!(rows[2].label, 1);
    }

    #[test]
    fn bad_rows_are_rejected_with_line_and_reason() {
        let text = "soru,cevap,etiket\nA?,27,3,+1\nB?,b,2\nC?,c,-1\n\n,d,1\n";
        let Parsed { rows, rejects, .. } = parse_csv(text, cols()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 4);
        let got: Vec<(u64, &str)> = rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(got[0].0, 2);
        assert!(got[0].1.contains("expected 3 fields, found 4"), "{got:?}");
        assert_eq!(got[1], (3, "label `2` is not +1, 1 or -1"));
        assert_eq!(got[2], (6, "empty question or answer"));
        assert_eq!(rejects[0].raw, "A?,27,3,+1");
    }

    #[test]
    fn missing_columns_are_an_error() {
        let err = parse_csv("q,a,l\nx,y,1\n", cols()).unwrap_err();
        assert!(
            err.to_string()
                .contains("header must name the columns soru,cevap,etiket"),
            "{err}"
        );
    }

    #[test]
    fn defect_column_is_kept_for_bad_rows_and_checked() {
        let text = "soru,cevap,etiket,kusur\n\
            A?,iyi,+1,\n\
            A?,kötü,-1,vague\n\
            B?,kötü,-1,\n\
            C?,kötü,-1,boş\n\
            D?,iyi,+1,partial\n\
            E?,kötü,-1, wrong_fact \n";
        let Parsed { rows, rejects, .. } = parse_csv(text, cols()).unwrap();
        let got: Vec<(u64, Option<&str>)> =
            rows.iter().map(|r| (r.line, r.defect.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                (2, None),
                (3, Some("vague")),
                (4, None),
                (7, Some("wrong_fact"))
            ]
        );
        let got: Vec<(u64, &str)> = rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    5,
                    "kusur `boş` is not one of off_topic, non_answer, vague, partial, wrong_fact"
                ),
                (
                    6,
                    "a +1 row has kusur `partial`: only -1 rows have a defect"
                ),
            ]
        );
    }

    #[test]
    fn a_file_without_the_defect_column_has_no_defects() {
        let Parsed { rows, rejects, .. } =
            parse_csv("soru,cevap,etiket\nA?,b,-1\n", cols()).unwrap();
        assert!(rejects.is_empty());
        assert_eq!(rows[0].defect, None);
    }

    /// Issue 15 item 6: the line of every record was counted from byte 0, so the parse did
    /// work quadratic in the file (10k rows 9.5 s, 40k rows 147 s). Its work is now counted:
    /// each byte is looked at about once. (Speed itself is measured by `benches/ingest.rs`.)
    #[test]
    fn r15_6_line_numbers_do_not_rescan_the_file_per_record() {
        let mut text = String::from("soru,cevap,etiket\n");
        for i in 0..5000 {
            text.push_str(&format!("Soru {i}?,\"Cevap, {i}\",+1\n"));
        }
        let p = parse_csv(&text, cols()).unwrap();
        assert_eq!(p.rows.len(), 5000);
        assert_eq!(p.rows[4999].line, 5001);
        assert!(
            p.scanned <= text.len(),
            "scanned {} bytes of {}",
            p.scanned,
            text.len()
        );
    }

    #[test]
    fn open_quotes_on_many_lines_cost_bounded_rescans() {
        // Every line opens a quote that never closes: each is retried from its own start,
        // reading at most MAX_RECORD_LINES lines ahead.
        let mut text = String::from("soru,cevap,etiket\n");
        for i in 0..2000 {
            text.push_str(&format!("S{i}?,\"açık,+1\n"));
        }
        let p = parse_csv(&text, cols()).unwrap();
        assert_eq!(p.rejects.len(), 2000);
        assert!(p
            .rejects
            .iter()
            .all(|r| r.reason.starts_with("unbalanced quote")));
        // Each open quote here closes at the next line's first quote (not strictly), so every
        // line is read twice and its own line once more: 3 passes at most.
        assert!(
            p.scanned <= 3 * text.len(),
            "{} of {}",
            p.scanned,
            text.len()
        );
    }

    #[test]
    fn every_line_is_a_row_a_reject_or_blank() {
        let text = "soru,cevap,etiket\r\n\
            A?,\"a \"\"b\"\" c\",+1\r\n\
            \r\n\
            B?,\"açık,-1\r\n\
            C?,x\"y,1\r\n\
            D?,\"çok\r\nsatır\",-1\r\n\
            E?,\"kapanır ama\nalan sayısı,yanlış\",+1,fazla\n\
            F?,son,-1";
        let p = parse_csv(text, cols()).unwrap();
        let rows: Vec<(u64, &str)> = p.rows.iter().map(|r| (r.line, r.answer.as_str())).collect();
        assert_eq!(
            rows,
            vec![
                (2, "a \"b\" c"),
                (5, "x\"y"),
                (6, "çok\r\nsatır"),
                (10, "son")
            ]
        );
        let rejects: Vec<(u64, &str)> = p.rejects.iter().map(|r| (r.line, &r.raw[..])).collect();
        // Lines 8-9 would close as one record of 4 fields: line 8 is rejected for its quote,
        // and line 9, read on its own, for its field count (its `"` is mid-field text).
        assert_eq!(
            rejects,
            vec![
                (4, "B?,\"açık,-1"),
                (8, "E?,\"kapanır ama"),
                (9, "alan sayısı,yanlış\",+1,fazla")
            ]
        );
        assert!(p.rejects[..2]
            .iter()
            .all(|r| r.reason.starts_with("unbalanced quote")));
        assert_eq!(
            p.rejects[2].reason,
            "expected 3 fields, found 4; quote fields that contain commas"
        );
        assert_eq!(p.notes, vec!["6-7: a quoted field spans 2 lines"]);
    }

    #[test]
    fn a_header_with_an_open_quote_is_an_error() {
        let err = parse_csv("soru,\"cevap,etiket\nA?,b,+1\n", cols()).unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
    }

    #[test]
    fn decode_names_bad_lines_and_reads_windows_1254() {
        let bytes = b"soru,cevap,etiket\nA?,ok,+1\nS\xfdnav?,\xfe,-1\n";
        let err = decode(bytes, UTF_8, "x.csv").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "x.csv is not UTF-8: 1 line(s) hold bytes that are not valid UTF-8 (line 3); \
                 line 3, column 2: byte 0xFD"
            ),
            "{err}"
        );
        assert!(err.contains("line 3 is `Sınav?,ş,-1`"), "{err}");
        let text = decode(bytes, WINDOWS_1254, "x.csv").unwrap();
        assert!(text.ends_with("Sınav?,ş,-1\n"), "{text}");
        assert_eq!(decode("ğ".as_bytes(), UTF_8, "x.csv").unwrap(), "ğ");
    }
}
