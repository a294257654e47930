//! `ingest_csv`: the study's `soru,cevap,etiket` CSV files (train and test) as QA tables, with
//! an optional `kusur` column naming each bad answer's defect type.
//! Bad rows are kept in a `rejects` table with their line and reason, never dropped silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::qa_table::{self, normalize_question, parse_label, QaRow, DEFECT_TYPES};
use super::{build_with, BuildCx, Check, Kind, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;

pub const KIND: Kind = Kind {
    name: "ingest_csv",
    // 2: the QA tables gained the `defect` column.
    version: 2,
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
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        let train = cx.file("train", &self.train)?;
        let test = cx.file("test", &self.test)?;
        Ok(Box::new(IngestCsv {
            params: self,
            train,
            test,
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

/// Parses one CSV text. Handles a UTF-8 BOM, CRLF, quoted fields with commas and quotes.
pub fn parse_csv(bytes: &[u8], columns: Columns<'_>) -> Result<(Vec<QaRow>, Vec<Reject>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let raw_lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = rdr
        .byte_headers()
        .context("reading the header line")?
        .clone();
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_string())
        .collect();
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
    let di = pos(columns.defect);
    let ncols = names.len();
    let mut rows = Vec::new();
    let mut rejects = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = line_of(bytes, rdr.position().byte());
        let more = match rdr.read_byte_record(&mut record) {
            Ok(m) => m,
            Err(e) => {
                rejects.push(Reject {
                    line,
                    raw: raw_line(&raw_lines, line),
                    reason: format!("unreadable CSV: {e}"),
                });
                continue;
            }
        };
        if !more {
            break;
        }
        let line = record
            .position()
            .map(|p| line_of(bytes, p.byte()))
            .unwrap_or(line);
        let raw = raw_line(&raw_lines, line);
        if record.len() == 1
            && record
                .get(0)
                .is_some_and(|f| f.iter().all(u8::is_ascii_whitespace))
        {
            continue; // blank line
        }
        if record.len() != ncols {
            let hint = if record.len() > ncols {
                "; quote fields that contain commas"
            } else {
                ""
            };
            rejects.push(Reject {
                line,
                raw,
                reason: format!("expected {ncols} fields, found {}{hint}", record.len()),
            });
            continue;
        }
        let field = |i: usize| std::str::from_utf8(&record[i]).map(|s| s.trim().to_string());
        let (Ok(q), Ok(a), Ok(l)) = (field(qi), field(ai), field(li)) else {
            rejects.push(Reject {
                line,
                raw,
                reason: "not valid UTF-8".into(),
            });
            continue;
        };
        if q.is_empty() || a.is_empty() {
            rejects.push(Reject {
                line,
                raw,
                reason: "empty question or answer".into(),
            });
            continue;
        }
        let Some(label) = parse_label(&l) else {
            rejects.push(Reject {
                line,
                raw,
                reason: format!("label `{l}` is not +1, 1 or -1"),
            });
            continue;
        };
        let defect = match di.map(field) {
            None => None,
            Some(Err(_)) => {
                rejects.push(Reject {
                    line,
                    raw,
                    reason: "not valid UTF-8".into(),
                });
                continue;
            }
            Some(Ok(d)) => match check_defect(&d, label, columns.defect) {
                Ok(d) => d,
                Err(reason) => {
                    rejects.push(Reject { line, raw, reason });
                    continue;
                }
            },
        };
        rows.push(QaRow {
            line,
            question: q,
            answer: a,
            label,
            defect,
        });
    }
    Ok((rows, rejects))
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

/// csv reports where it started looking for a record, before any blank lines or the `\n` of
/// a CRLF it skipped; the record's own line starts after those.
fn line_of(bytes: &[u8], offset: u64) -> u64 {
    let mut at = (offset as usize).min(bytes.len());
    while at < bytes.len() && (bytes[at] == b'\n' || bytes[at] == b'\r') {
        at += 1;
    }
    1 + bytes[..at].iter().filter(|b| **b == b'\n').count() as u64
}

fn raw_line(lines: &[&[u8]], line: u64) -> String {
    let s = lines
        .get((line as usize).saturating_sub(1))
        .copied()
        .unwrap_or(b"");
    String::from_utf8_lossy(s)
        .trim_end_matches('\r')
        .to_string()
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
        let p = &self.params;
        let columns = Columns {
            question: &p.question_column,
            answer: &p.answer_column,
            label: &p.label_column,
            defect: &p.defect_column,
        };
        let (rows, rejects) = parse_csv(&bytes, columns).with_context(|| shown.to_string())?;
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
        let (rows, rejects) = parse_csv(text.as_bytes(), cols()).unwrap();
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
        let (rows, rejects) = parse_csv(text.as_bytes(), cols()).unwrap();
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
        let err = parse_csv(b"q,a,l\nx,y,1\n", cols()).unwrap_err();
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
        let (rows, rejects) = parse_csv(text.as_bytes(), cols()).unwrap();
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
        let (rows, rejects) = parse_csv(b"soru,cevap,etiket\nA?,b,-1\n", cols()).unwrap();
        assert!(rejects.is_empty());
        assert_eq!(rows[0].defect, None);
    }
}
