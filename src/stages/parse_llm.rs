//! `parse_llm`: raw LLM answers (from `llm_generate`) -> clean train/test QA tables in the
//! shape `ingest_csv` produces, plus a `rejects` table holding every other non-blank line
//! with its response, line and reason (see `llm::parse`).

use std::sync::Arc;

use anyhow::{bail, Result};
use arrow::array::{RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::llm_generate::responses_from_batch;
use super::qa_table::{self, QaRow};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::llm::parse::{parse_responses, ParseOptions, ParseOutcome, RawResponse};
use crate::llm::reason::SkipReason;
use crate::llm::split::{Split, SplitMode};

pub const KIND: Kind = Kind {
    name: "parse_llm",
    version: 1,
    summary: "clean raw LLM answers into train/test QA tables and a rejects table",
    inputs: &[Role::one("responses")],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// How questions go to train or test. Default: the study's layout, each answer's
    /// first `train_rows` data lines (taken from the `llm_generate` stage) are train.
    /// Or `{mode: layout, train_rows: N}`, or `{mode: seeded, test_fraction: 0.5, seed: 1}`.
    #[serde(default)]
    pub split: Option<SplitMode>,
    /// Fail when any line is rejected, instead of reporting it and continuing.
    #[serde(default)]
    pub strict: bool,
}

struct ParseLlm {
    p: Params,
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        match &self.split {
            Some(SplitMode::Seeded { test_fraction, .. })
                if !(0.0..=1.0).contains(test_fraction) =>
            {
                return Err(cx.error("split.test_fraction", "must be between 0 and 1"));
            }
            _ => {}
        }
        Ok(Box::new(ParseLlm { p: self }))
    }
}

fn rejects_batch(out: &ParseOutcome) -> Result<RecordBatch> {
    struct Line<'a> {
        response: usize,
        line: usize,
        kind: &'static str,
        code: &'static str,
        reason: String,
        raw: &'a str,
    }
    let mut lines: Vec<Line<'_>> = out
        .rejects
        .iter()
        .map(|r| Line {
            response: r.response,
            line: r.line,
            kind: "rejected",
            code: r.reason.code(),
            reason: r.reason.to_string(),
            raw: &r.raw,
        })
        .chain(
            out.skipped
                .iter()
                .filter(|s| s.reason != SkipReason::Blank)
                .map(|s| Line {
                    response: s.response,
                    line: s.line,
                    kind: "skipped",
                    code: s.reason.code(),
                    reason: s.reason.to_string(),
                    raw: &s.raw,
                }),
        )
        .collect();
    lines.sort_by_key(|l| (l.response, l.line));
    let schema = Schema::new(vec![
        Field::new("response", DataType::UInt32, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("code", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(UInt32Array::from_iter_values(
                lines.iter().map(|l| l.response as u32),
            )),
            Arc::new(UInt64Array::from_iter_values(
                lines.iter().map(|l| l.line as u64),
            )),
            Arc::new(StringArray::from_iter_values(lines.iter().map(|l| l.kind))),
            Arc::new(StringArray::from_iter_values(lines.iter().map(|l| l.code))),
            Arc::new(StringArray::from_iter_values(
                lines.iter().map(|l| l.reason.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(lines.iter().map(|l| l.raw))),
        ],
    )?)
}

fn qa_rows(out: &ParseOutcome, split: Split) -> Vec<QaRow> {
    out.rows
        .iter()
        .filter(|r| r.split == split)
        .map(|r| QaRow {
            line: r.line as u64,
            question: r.soru.clone(),
            answer: r.cevap.clone(),
            label: r.etiket,
            defect: None,
        })
        .collect()
}

impl Stage for ParseLlm {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let input = cx.input("responses")?;
        let stored = responses_from_batch(&input.table("responses")?)?;
        let split = self.p.split.clone().unwrap_or_else(|| {
            // The generating stage's row count is the study's layout boundary.
            let train_rows = input.manifest.params["train_rows"].as_u64().unwrap_or(100) as usize;
            SplitMode::Layout { train_rows }
        });
        let raw: Vec<RawResponse<'_>> = stored
            .iter()
            .map(|r| RawResponse {
                text: &r.text,
                truncated: r.truncated,
            })
            .collect();
        let out = parse_responses(&raw, &ParseOptions { split });
        let s = &out.summary;
        cx.warn(format!(
            "{} answer(s), {} lines: {}",
            s.responses,
            s.lines,
            s.one_line()
        ));
        if !s.leaked.is_empty() {
            bail!(
                "train/test leakage: questions in both splits: {}",
                s.leaked.join(" | ")
            );
        }
        if out.rows.is_empty() {
            // A failed stage's notes are not shown, so the error carries the summary.
            bail!(
                "no usable rows in {} answer(s): {}; see the raw answers with `qa-pipe show {} --table responses`",
                s.responses,
                s.one_line(),
                input.manifest.stage
            );
        }
        if self.p.strict && !out.rejects.is_empty() {
            bail!(
                "{} lines rejected and `strict: true` (see the notes above)",
                out.rejects.len()
            );
        }
        for (name, n) in [("train", s.train_rows), ("test", s.test_rows)] {
            if n == 0 {
                cx.warn(format!(
                    "the {name} split is empty; ask for more rows, or set `split: {{mode: seeded, test_fraction: 0.5, seed: 1}}`"
                ));
            }
        }
        Ok(Output::default()
            .table("train", qa_table::to_batch(&qa_rows(&out, Split::Train))?)
            .table("test", qa_table::to_batch(&qa_rows(&out, Split::Test))?)
            .table("rejects", rejects_batch(&out)?)
            .file("summary.txt", format!("{}\n", out.summary).into_bytes()))
    }
}
