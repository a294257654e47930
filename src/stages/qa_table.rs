//! The QA table every data stage produces (`ingest_csv`, `parse_llm`): one row per answer with
//! its source line, question, answer, label (+1/-1) and question group.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{Array, Int8Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};

#[derive(Debug, Clone, PartialEq)]
pub struct QaRow {
    /// 1-based line in the source file (or raw response).
    pub line: u64,
    pub question: String,
    pub answer: String,
    pub label: i8,
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
        Field::new("line", DataType::UInt64, false),
        Field::new("question", DataType::Utf8, false),
        Field::new("answer", DataType::Utf8, false),
        Field::new("label", DataType::Int8, false),
        Field::new("group", DataType::UInt32, false),
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
    let line = col("line")?
        .as_any()
        .downcast_ref::<UInt64Array>()
        .context("line: u64")?;
    let q = col("question")?
        .as_any()
        .downcast_ref::<StringArray>()
        .context("question: utf8")?;
    let a = col("answer")?
        .as_any()
        .downcast_ref::<StringArray>()
        .context("answer: utf8")?;
    let l = col("label")?
        .as_any()
        .downcast_ref::<Int8Array>()
        .context("label: i8")?;
    let g = col("group")?
        .as_any()
        .downcast_ref::<UInt32Array>()
        .context("group: u32")?;
    let rows = (0..batch.num_rows())
        .map(|i| QaRow {
            line: line.value(i),
            question: q.value(i).to_string(),
            answer: a.value(i).to_string(),
            label: l.value(i),
        })
        .collect();
    Ok((rows, g.values().to_vec()))
}

/// Questions compare equal when they differ only in case (folded the Turkish way:
/// `IŞIK` = `ışık`, `İ` = `i`), spacing or trailing punctuation.
pub fn normalize_question(q: &str) -> String {
    crate::text::turkish_lowercase(&q.split_whitespace().collect::<Vec<_>>().join(" "))
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
