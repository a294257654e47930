//! The `scores` table `train` and `sweep` write and `evaluate` reads: the raw test output of
//! every run on every test row (`row` indexes the test feature table, so it lines up with
//! the test QA table's questions and defects). A run is named by a configuration column
//! (`optimizer` for `train`, `cell_label` for `sweep`) and its seed.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt32Array, UInt64Array};

use super::columns::Named;
use super::train::{batch, strings};

pub const SCORES: &str = "scores";
pub const OPTIMIZER: &str = "optimizer";
/// A sweep cell's readable name, `hidden=32,lr=0.01`.
pub const CELL_LABEL: &str = "cell_label";
pub const CELL: &str = "cell";
pub const SEED: &str = "seed";
pub const ROW: &str = "row";
pub const LABEL: &str = "label";
pub const SCORE: &str = "score";

/// The output is one constant for every test row (e.g. tanh pinned at ±1): the run learned
/// nothing, and its accuracy is the share of one class, not a measurement of the model.
pub fn is_saturated(scores: &[f64]) -> bool {
    let (lo, hi) = scores
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &s| {
            (a.min(s), b.max(s))
        });
    scores.len() > 1 && hi - lo < 1e-6
}

/// One run's test outputs, rows in test-table order.
#[derive(Debug, Clone, PartialEq)]
pub struct RunScores {
    pub config: String,
    pub seed: u64,
    pub labels: Vec<f64>,
    pub scores: Vec<f64>,
}

/// The rows of one run. `names` are leading text columns (name, value) that identify it,
/// e.g. `[(OPTIMIZER, "adam")]` or `[(CELL, id), (CELL_LABEL, "hidden=32,lr=0.01")]`.
pub fn to_batch(
    names: &[(&str, &str)],
    seed: u64,
    labels: &[f64],
    scores: &[f64],
) -> Result<RecordBatch> {
    let n = scores.len();
    let mut cols: Vec<(&str, ArrayRef)> = names
        .iter()
        .map(|(c, v)| (*c, strings(vec![v.to_string(); n])))
        .collect();
    cols.push((SEED, Arc::new(UInt64Array::from(vec![seed; n]))));
    cols.push((ROW, Arc::new(UInt32Array::from_iter_values(0..n as u32))));
    cols.push((LABEL, Arc::new(Float64Array::from(labels.to_vec()))));
    cols.push((SCORE, Arc::new(Float64Array::from(scores.to_vec()))));
    batch(cols)
}

/// Runs in order of first appearance, named by `config_column`, each run's rows by `row`.
pub fn from_batch(b: &RecordBatch, config_column: &str, what: &str) -> Result<Vec<RunScores>> {
    let t = Named::new(b, format!("table `{SCORES}` of {what}"));
    let config = t.strings(config_column)?;
    let seed = t.f64s(SEED)?;
    let row = t.f64s(ROW)?;
    let label = t.f64s(LABEL)?;
    let score = t.f64s(SCORE)?;
    let mut runs: Vec<(RunScores, Vec<usize>)> = Vec::new();
    for i in 0..b.num_rows() {
        let s = seed[i] as u64;
        let pos = match runs
            .iter()
            .position(|(r, _)| r.config == config[i] && r.seed == s)
        {
            Some(p) => p,
            None => {
                runs.push((
                    RunScores {
                        config: config[i].clone(),
                        seed: s,
                        labels: Vec::new(),
                        scores: Vec::new(),
                    },
                    Vec::new(),
                ));
                runs.len() - 1
            }
        };
        runs[pos].1.push(i);
    }
    runs.into_iter()
        .map(|(mut r, mut idx)| {
            idx.sort_by(|&a, &c| row[a].total_cmp(&row[c]));
            for (k, &i) in idx.iter().enumerate() {
                if row[i] as usize != k {
                    return Err(anyhow::anyhow!(
                        "{what}: run {}/seed={} has no score for test row {k}",
                        r.config,
                        r.seed
                    ))
                    .context("reading test scores");
                }
            }
            r.labels = idx.iter().map(|&i| label[i]).collect();
            r.scores = idx.iter().map(|&i| score[i]).collect();
            Ok(r)
        })
        .collect::<Result<Vec<_>>>()
        .context("scores table")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::compute::concat_batches;

    #[test]
    fn runs_round_trip_in_row_order() {
        let a = to_batch(&[(OPTIMIZER, "adam")], 42, &[1.0, -1.0], &[0.5, -0.25]).unwrap();
        let b = to_batch(&[(OPTIMIZER, "gd")], 42, &[1.0, -1.0], &[0.1, 0.2]).unwrap();
        let both = concat_batches(&a.schema(), &[a, b]).unwrap();
        let runs = from_batch(&both, OPTIMIZER, "t").unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].config, "adam");
        assert_eq!(runs[0].scores, vec![0.5, -0.25]);
        assert_eq!(runs[1].labels, vec![1.0, -1.0]);
    }
}
