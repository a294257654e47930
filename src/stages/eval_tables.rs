//! Names of `evaluate`'s `per_run` table (one row per run: its classification metrics and
//! confusion counts) and `comparison` table (one row per configuration: each metric's mean
//! and standard deviation over seeds), which `plot` reads by name and `report` through
//! [`comparison_from_batch`].

use anyhow::Result;
use arrow::array::RecordBatch;

use super::columns::Named;

pub const PER_RUN: &str = "per_run";
pub const COMPARISON: &str = "comparison";

pub const SOURCE: &str = "source";
/// The configuration: the optimizer of a `train` run, the cell label of a `sweep` run.
pub const CONFIG: &str = "optimizer";
pub const SEED: &str = "seed";
pub const STATUS: &str = "status";
pub const SATURATED: &str = "saturated";
pub const SEEDS: &str = "seeds";
pub const TP: &str = "tp";
pub const FP: &str = "fp";
pub const TN: &str = "tn";
pub const FN: &str = "fn";

pub const ACCURACY: &str = "accuracy";
pub const PRECISION: &str = "precision";
pub const RECALL: &str = "recall";
pub const F1: &str = "f1";
pub const ROC_AUC: &str = "roc_auc";
/// The per-run metric columns, in table order.
pub const METRICS: [&str; 5] = [ACCURACY, PRECISION, RECALL, F1, ROC_AUC];

/// `comparison`'s column of a metric's mean over seeds.
pub fn mean(metric: &str) -> String {
    format!("{metric}_mean")
}

/// `comparison`'s column of a metric's standard deviation over seeds.
pub fn std(metric: &str) -> String {
    format!("{metric}_std")
}

/// One row of `comparison`: (mean, std) per metric of [`METRICS`], in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRow {
    pub source: String,
    pub config: String,
    pub seeds: u32,
    pub metrics: Vec<(f64, f64)>,
}

pub fn comparison_from_batch(b: &RecordBatch, what: &str) -> Result<Vec<ComparisonRow>> {
    let t = Named::new(b, format!("table `{COMPARISON}` of {what}"));
    let (source, config, seeds) = (t.strings(SOURCE)?, t.strings(CONFIG)?, t.f64s(SEEDS)?);
    let cols = METRICS
        .iter()
        .map(|m| Ok((t.f64s(&mean(m))?, t.f64s(&std(m))?)))
        .collect::<Result<Vec<_>>>()?;
    Ok((0..source.len())
        .map(|i| ComparisonRow {
            source: source[i].clone(),
            config: config[i].clone(),
            seeds: seeds[i] as u32,
            metrics: cols.iter().map(|(m, s)| (m[i], s[i])).collect(),
        })
        .collect())
}
