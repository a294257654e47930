//! `evaluate`: accuracy, precision, recall, F1, confusion matrix and ROC AUC of every run
//! of one or more `train` stages (from their test scores), and a comparison table with the
//! mean and standard deviation over seeds per (training, optimizer), e.g. E5 vs TF-IDF or
//! one layer vs two.
//!
//! Tables: `per_run` (source, optimizer, seed, status, metrics, tp/fp/tn/fn) and
//! `comparison` (source, optimizer, seeds, `<metric>_mean` and `<metric>_std`). The std
//! is the population one (ddof 0, numpy's `np.std`, the study's) unless `ddof: 1`.
//! Positive class +1; an output above 0 predicts +1.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use serde::{Deserialize, Serialize};

use super::train::{batch, strings};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::ml::metrics::{mean_std, BinaryReport};

pub const KIND: Kind = Kind {
    name: "evaluate",
    version: 1,
    summary: "per-run accuracy/precision/recall/F1/confusion/ROC AUC and a mean ± std comparison across trainings",
    inputs: &[Role::many("runs")],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Degrees of freedom of the std over seeds: 0 = population (numpy), 1 = sample.
    #[serde(default)]
    pub ddof: usize,
}

struct Evaluate {
    ddof: usize,
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if self.ddof > 1 {
            return Err(cx.error("ddof", "ddof must be 0 (population std) or 1 (sample std)"));
        }
        Ok(Box::new(Evaluate { ddof: self.ddof }))
    }
}

struct RunScores {
    source: String,
    optimizer: String,
    seed: u64,
    status: String,
    labels: Vec<f64>,
    scores: Vec<f64>,
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T> {
    b.column_by_name(name)
        .with_context(|| format!("table has no column `{name}`: is the input a `train` stage?"))?
        .as_any()
        .downcast_ref::<T>()
        .with_context(|| format!("column `{name}` has an unexpected type"))
}

/// The runs of one `train` artifact, in the order of its `runs` table.
fn read_runs(a: &Artifact) -> Result<Vec<RunScores>> {
    let source = a.manifest.stage.clone();
    let runs = a.table("runs")?;
    let scores = a.table("scores")?;
    let (ro, rs, rst) = (
        col::<StringArray>(&runs, "optimizer")?,
        col::<UInt64Array>(&runs, "seed")?,
        col::<StringArray>(&runs, "status")?,
    );
    let mut out: Vec<RunScores> = (0..runs.num_rows())
        .map(|i| RunScores {
            source: source.clone(),
            optimizer: ro.value(i).to_string(),
            seed: rs.value(i),
            status: rst.value(i).to_string(),
            labels: Vec::new(),
            scores: Vec::new(),
        })
        .collect();
    let (so, ss) = (
        col::<StringArray>(&scores, "optimizer")?,
        col::<UInt64Array>(&scores, "seed")?,
    );
    let (sl, sv) = (
        col::<Float64Array>(&scores, "label")?,
        col::<Float64Array>(&scores, "score")?,
    );
    for i in 0..scores.num_rows() {
        let r = out
            .iter_mut()
            .find(|r| r.optimizer == so.value(i) && r.seed == ss.value(i))
            .with_context(|| format!("scores of an unknown run {}/{}", so.value(i), ss.value(i)))?;
        r.labels.push(sl.value(i));
        r.scores.push(sv.value(i));
    }
    Ok(out)
}

const METRICS: [&str; 5] = ["accuracy", "precision", "recall", "f1", "roc_auc"];

fn metric(r: &BinaryReport, name: &str) -> Option<f64> {
    match name {
        "accuracy" => Some(r.accuracy),
        "precision" => Some(r.precision),
        "recall" => Some(r.recall),
        "f1" => Some(r.f1),
        _ => r.roc_auc,
    }
}

impl Stage for Evaluate {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let mut runs = Vec::new();
        for a in cx.input_all("runs") {
            runs.extend(read_runs(a)?);
        }
        let reports: Vec<BinaryReport> = runs
            .iter()
            .map(|r| BinaryReport::new(&r.labels, &r.scores))
            .collect();

        let n = runs.len();
        let text = |f: fn(&RunScores) -> String| strings(runs.iter().map(f).collect());
        let mut cols: Vec<(&str, ArrayRef)> = vec![
            ("source", text(|r| r.source.clone())),
            ("optimizer", text(|r| r.optimizer.clone())),
            (
                "seed",
                Arc::new(UInt64Array::from_iter_values(runs.iter().map(|r| r.seed))),
            ),
            ("status", text(|r| r.status.clone())),
        ];
        for m in METRICS {
            let v: Float64Array = reports.iter().map(|r| metric(r, m)).collect();
            cols.push((m, Arc::new(v)));
        }
        let count = |f: fn(&BinaryReport) -> usize| -> ArrayRef {
            Arc::new(UInt32Array::from_iter_values(
                reports.iter().map(|r| f(r) as u32),
            ))
        };
        cols.push(("tp", count(|r| r.confusion.tp)));
        cols.push(("fp", count(|r| r.confusion.fp)));
        cols.push(("tn", count(|r| r.confusion.tn)));
        cols.push(("fn", count(|r| r.confusion.fn_)));
        let per_run = batch(cols)?;

        // One comparison row per (source, optimizer), in first-seen order.
        let mut groups: Vec<(String, String, Vec<usize>)> = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            match groups
                .iter_mut()
                .find(|g| g.0 == r.source && g.1 == r.optimizer)
            {
                Some(g) => g.2.push(i),
                None => groups.push((r.source.clone(), r.optimizer.clone(), vec![i])),
            }
        }
        let mut cols: Vec<(String, ArrayRef)> = vec![
            (
                "source".into(),
                strings(groups.iter().map(|g| g.0.clone()).collect()),
            ),
            (
                "optimizer".into(),
                strings(groups.iter().map(|g| g.1.clone()).collect()),
            ),
            (
                "seeds".into(),
                Arc::new(UInt32Array::from_iter_values(
                    groups.iter().map(|g| g.2.len() as u32),
                )),
            ),
        ];
        for m in METRICS {
            let (mut means, mut stds) = (Vec::new(), Vec::new());
            for g in &groups {
                let xs: Vec<f64> = g.2.iter().filter_map(|&i| metric(&reports[i], m)).collect();
                let (mean, std) = mean_std(&xs, self.ddof);
                means.push((!xs.is_empty()).then_some(mean));
                stds.push((xs.len() > self.ddof).then_some(std));
            }
            cols.push((format!("{m}_mean"), Arc::new(Float64Array::from(means))));
            cols.push((format!("{m}_std"), Arc::new(Float64Array::from(stds))));
        }
        let comparison = batch(cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect())?;
        let mut out = Output::default()
            .table("per_run", per_run)
            .table("comparison", comparison);
        let diverged = runs.iter().filter(|r| r.status == "diverged").count();
        if diverged > 0 {
            out.notes.push(format!(
                "{diverged} of {n} runs diverged; their scores are from their last finite epoch"
            ));
        }
        Ok(out)
    }
}
