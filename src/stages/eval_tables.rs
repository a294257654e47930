//! Names of `evaluate`'s `per_run` table (one row per run: its classification metrics and
//! confusion counts) and `comparison` table (one row per configuration: each metric's mean
//! and standard deviation over seeds), which `plot` and `report` read by name.

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
