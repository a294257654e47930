//! The QA table every data stage produces (`ingest_csv`, `parse_llm`): one row per answer with
//! its source line, question, answer, label (+1/-1), question group and, for bad answers of a
//! dataset that declares them, the defect type.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{Array, Int8Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};

/// Column names of the QA table.
pub const LINE: &str = "line";
pub const QUESTION: &str = "question";
pub const ANSWER: &str = "answer";
pub const LABEL: &str = "label";
pub const GROUP: &str = "group";
/// Nullable: null for +1 rows and for data that declares no defect types. Older artifacts
/// have no such column; they read as all null.
pub const DEFECT: &str = "defect";

/// The kinds of bad answer a dataset may declare (data/README.md defines each).
pub const DEFECT_TYPES: [&str; 5] = ["off_topic", "non_answer", "vague", "partial", "wrong_fact"];

#[derive(Debug, Clone, PartialEq)]
pub struct QaRow {
    /// 1-based line in the source file (or raw response).
    pub line: u64,
    pub question: String,
    pub answer: String,
    pub label: i8,
    /// One of `DEFECT_TYPES` for a -1 row whose dataset says why it is bad; else `None`.
    pub defect: Option<String>,
}

/// Rows with their question group: the index of the question among the split's distinct
/// questions (compared after `normalize_question`), in order of first appearance.
pub fn to_batch(rows: &[QaRow]) -> Result<RecordBatch> {
    let mut groups = Vec::with_capacity(rows.len());
    let mut seen: Vec<String> = Vec::new();
    for r in rows {
        let q = normalize_question(&r.question);
        let g = match seen.iter().position(|s| *s == q) {
            Some(g) => g,
            None => {
                seen.push(q);
                seen.len() - 1
            }
        };
        groups.push(g as u32);
    }
    let schema = Schema::new(vec![
        Field::new(LINE, DataType::UInt64, false),
        Field::new(QUESTION, DataType::Utf8, false),
        Field::new(ANSWER, DataType::Utf8, false),
        Field::new(LABEL, DataType::Int8, false),
        Field::new(GROUP, DataType::UInt32, false),
        Field::new(DEFECT, DataType::Utf8, true),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.line))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.question.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.answer.as_str()),
            )),
            Arc::new(Int8Array::from_iter_values(rows.iter().map(|r| r.label))),
            Arc::new(UInt32Array::from(groups)),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.defect.as_deref()),
            )),
        ],
    )?)
}

/// The rows of a QA table, with their groups.
pub fn from_batch(batch: &RecordBatch) -> Result<(Vec<QaRow>, Vec<u32>)> {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .with_context(|| format!("QA table has no column `{name}`"))
    };
    let line = col(LINE)?
        .as_any()
        .downcast_ref::<UInt64Array>()
        .context("line: u64")?;
    let q = col(QUESTION)?
        .as_any()
        .downcast_ref::<StringArray>()
        .context("question: utf8")?;
    let a = col(ANSWER)?
        .as_any()
        .downcast_ref::<StringArray>()
        .context("answer: utf8")?;
    let l = col(LABEL)?
        .as_any()
        .downcast_ref::<Int8Array>()
        .context("label: i8")?;
    let g = col(GROUP)?
        .as_any()
        .downcast_ref::<UInt32Array>()
        .context("group: u32")?;
    // Absent in artifacts written before the column existed: every row reads as `None`.
    let d = match batch.column_by_name(DEFECT) {
        Some(c) => Some(
            c.as_any()
                .downcast_ref::<StringArray>()
                .context("defect: utf8")?,
        ),
        None => None,
    };
    let rows = (0..batch.num_rows())
        .map(|i| QaRow {
            line: line.value(i),
            question: q.value(i).to_string(),
            answer: a.value(i).to_string(),
            label: l.value(i),
            defect: d.filter(|d| d.is_valid(i)).map(|d| d.value(i).to_string()),
        })
        .collect();
    Ok((rows, g.values().to_vec()))
}

/// Questions compare equal when they differ only in case, spacing or trailing punctuation.
pub fn normalize_question(q: &str) -> String {
    q.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .trim_end_matches(['?', '.', '!', ' '])
        .to_string()
}

/// Labels as the study writes them: `+1`, `1`, `-1` (also `1.0`, `-1.0`), spaces allowed.
pub fn parse_label(s: &str) -> Option<i8> {
    match s.trim() {
        "+1" | "1" | "1.0" | "+1.0" => Some(1),
        "-1" | "-1.0" => Some(-1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64, label: i8, defect: Option<&str>) -> QaRow {
        QaRow {
            line,
            question: format!("S{line}?"),
            answer: format!("C{line}"),
            label,
            defect: defect.map(str::to_string),
        }
    }

    #[test]
    fn defect_column_round_trips_with_nulls() {
        let rows = vec![row(2, 1, None), row(3, -1, Some("vague")), row(4, -1, None)];
        let batch = to_batch(&rows).unwrap();
        let col = batch.column_by_name(DEFECT).unwrap();
        assert_eq!(col.null_count(), 2);
        let (back, groups) = from_batch(&batch).unwrap();
        assert_eq!(back, rows);
        assert_eq!(groups, vec![0, 1, 2]);
    }

    #[test]
    fn a_table_without_the_defect_column_reads_as_no_defects() {
        let rows = vec![row(2, 1, None), row(3, -1, Some("partial"))];
        let batch = to_batch(&rows).unwrap();
        let i = batch.schema().index_of(DEFECT).unwrap();
        let mut old = batch.clone();
        old.remove_column(i);
        let (back, _) = from_batch(&old).unwrap();
        assert!(back.iter().all(|r| r.defect.is_none()));
        assert_eq!(back[1].answer, "C3");
    }
}
