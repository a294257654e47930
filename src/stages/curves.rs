//! Training curves read back as runs: the long table `train` writes (one row per run and
//! epoch: `optimizer`, `seed`, `epoch`, `train_mse`, `train_acc`, `test_mse`, `test_acc`,
//! `elapsed_s`, ...) grouped into runs by every identifier column except `epoch`, each
//! run's rows ordered by epoch. Used by `plot` and `report`.

use std::collections::BTreeMap;

/// Table and column names of `train`'s `curves` (one row per run and epoch) and `runs` (one
/// row per run: final metrics) tables, and of `sweep`'s per-run rows; every reader and
/// writer spells them through these.
pub const CURVES: &str = "curves";
pub const RUNS: &str = "runs";
pub const OPTIMIZER: &str = "optimizer";
pub const SEED: &str = "seed";
pub const EPOCH: &str = "epoch";
pub const TRAIN_MSE: &str = "train_mse";
pub const TRAIN_ACC: &str = "train_acc";
pub const TEST_MSE: &str = "test_mse";
pub const TEST_ACC: &str = "test_acc";
pub const VAL_MSE: &str = "val_mse";
pub const VAL_ACC: &str = "val_acc";
pub const ELAPSED_S: &str = "elapsed_s";
pub const FRACTION: &str = "fraction";
pub const LR: &str = "lr";
pub const STATUS: &str = "status";
pub const STOPPED_EPOCH: &str = "stopped_epoch";
pub const EPOCHS_RUN: &str = "epochs_run";
pub const TRAIN_ROWS: &str = "train_rows";
pub const TRAIN_SECONDS: &str = "train_seconds";
/// `train`'s final weights (one row per layer: `layer`, `rows`, `cols`, `values`) and its
/// weight snapshots (one row per run and snapshot epoch, the flattened weights in
/// [`SNAPSHOT_WEIGHTS`]), which `tsne` reads.
pub const WEIGHTS: &str = "weights";
pub const SNAPSHOTS: &str = "snapshots";
pub const SNAPSHOT_WEIGHTS: &str = "weights";
pub const LAYER: &str = "layer";
pub const LAYER_ROWS: &str = "rows";
pub const LAYER_COLS: &str = "cols";
pub const LAYER_VALUES: &str = "values";

use arrow::array::RecordBatch;

use anyhow::{bail, Result};

use super::columns::{is_identifier, Named};

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Identifier columns and their values (seed, optimizer, run_id, ...), `epoch` aside.
    pub id: BTreeMap<String, String>,
    pub optimizer: String,
    pub epoch: Vec<f64>,
    /// Requested metric columns, in epoch order.
    pub metrics: BTreeMap<String, Vec<f64>>,
}

impl Run {
    pub fn metric(&self, name: &str) -> &[f64] {
        self.metrics.get(name).map_or(&[], Vec::as_slice)
    }

    /// The metric at the last epoch (NaN when absent).
    pub fn last(&self, name: &str) -> f64 {
        self.metric(name).last().copied().unwrap_or(f64::NAN)
    }
}

/// Groups the rows into runs, in order of first appearance. `required` metrics must be
/// columns of the table; `optional` ones are read when present.
pub fn read_runs(t: &Named<'_>, required: &[&str], optional: &[&str]) -> Result<Vec<Run>> {
    read_runs_by(t, &[], required, optional)
}

/// As [`read_runs`], with `keys` (of any type, e.g. a float `fraction`) also telling runs
/// apart.
pub fn read_runs_by(
    t: &Named<'_>,
    keys: &[&str],
    required: &[&str],
    optional: &[&str],
) -> Result<Vec<Run>> {
    if t.has("metric") && t.has("value") && !required.iter().all(|m| t.has(m)) {
        let wide = widen(t)?;
        return read_runs_by(&Named::new(&wide, t.what.clone()), keys, required, optional);
    }
    let optimizer = t.strings("optimizer")?;
    let n = optimizer.len();
    let epoch = if t.has("epoch") {
        t.f64s("epoch")?
    } else {
        (0..n).map(|i| i as f64).collect()
    };
    let schema = t.batch.schema();
    let id_names: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| {
            (is_identifier(f.data_type()) || keys.contains(&f.name().as_str()))
                && f.name() != "epoch"
        })
        .map(|f| f.name().clone())
        .collect();
    for k in keys {
        t.column(k)?;
    }
    let id_values: Vec<Vec<String>> = id_names
        .iter()
        .map(|c| t.strings(c))
        .collect::<Result<_>>()?;
    let mut metric_values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for m in required {
        metric_values.insert(m.to_string(), t.f64s(m)?);
    }
    for m in optional {
        if t.has(m) {
            metric_values.insert(m.to_string(), t.f64s(m)?);
        }
    }
    let mut order: Vec<Vec<String>> = Vec::new();
    let mut rows: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let key: Vec<String> = id_values.iter().map(|c| c[i].clone()).collect();
        let entry = rows.entry(key.clone()).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(i);
    }
    let mut runs = Vec::with_capacity(order.len());
    for key in order {
        let mut idx = rows.remove(&key).unwrap_or_default();
        idx.sort_by(|&a, &b| epoch[a].total_cmp(&epoch[b]).then(a.cmp(&b)));
        if idx.windows(2).any(|w| epoch[w[0]] == epoch[w[1]]) {
            bail!(
                "{}: run {} has two rows for one epoch; is a column that tells runs apart missing?",
                t.what,
                id_names
                    .iter()
                    .zip(&key)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let id: BTreeMap<String, String> = id_names.iter().cloned().zip(key).collect();
        runs.push(Run {
            optimizer: optimizer[idx[0]].clone(),
            id,
            epoch: idx.iter().map(|&i| epoch[i]).collect(),
            metrics: metric_values
                .iter()
                .map(|(k, v)| (k.clone(), idx.iter().map(|&i| v[i]).collect()))
                .collect(),
        });
    }
    Ok(runs)
}

/// The `train` stage's long curves (`metric`, `value` columns, one row per run, epoch and
/// metric) as one row per run and epoch with a column per metric; rows keep the order in
/// which their (run, epoch) first appears, missing values are NaN.
pub fn widen(t: &Named<'_>) -> Result<RecordBatch> {
    use arrow::array::{Float64Array, UInt32Array};
    use arrow::datatypes::{Field, Schema};
    let metric = t.strings("metric")?;
    let value = t.f64s("value")?;
    let schema = t.batch.schema();
    let id_cols: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !matches!(schema.field(i).name().as_str(), "metric" | "value"))
        .collect();
    let ids: Vec<Vec<String>> = id_cols
        .iter()
        .map(|&i| t.strings(schema.field(i).name()))
        .collect::<Result<_>>()?;
    let mut row_of: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
    let mut first_rows: Vec<u32> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut cells: Vec<(usize, usize, f64)> = Vec::new();
    for r in 0..metric.len() {
        let key: Vec<&str> = ids.iter().map(|c| c[r].as_str()).collect();
        let next = row_of.len();
        let row = *row_of.entry(key).or_insert_with(|| {
            first_rows.push(r as u32);
            next
        });
        let m = match names.iter().position(|n| *n == metric[r]) {
            Some(m) => m,
            None => {
                names.push(metric[r].clone());
                names.len() - 1
            }
        };
        cells.push((row, m, value[r]));
    }
    let mut grid = vec![vec![f64::NAN; first_rows.len()]; names.len()];
    for (row, m, v) in cells {
        grid[m][row] = v;
    }
    let take = UInt32Array::from(first_rows);
    let mut fields = Vec::new();
    let mut columns: Vec<arrow::array::ArrayRef> = Vec::new();
    for &i in &id_cols {
        fields.push(schema.field(i).clone());
        columns.push(arrow::compute::take(t.batch.column(i), &take, None)?);
    }
    for (name, col) in names.iter().zip(grid) {
        fields.push(Field::new(name, arrow::datatypes::DataType::Float64, true));
        columns.push(std::sync::Arc::new(Float64Array::from(col)));
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Runs grouped by optimizer, optimizers in `order` when given (others dropped), else in
/// order of first appearance.
pub fn by_optimizer<'a>(runs: &'a [Run], order: Option<&[String]>) -> Vec<(String, Vec<&'a Run>)> {
    let mut names: Vec<String> = Vec::new();
    for r in runs {
        if !names.contains(&r.optimizer) {
            names.push(r.optimizer.clone());
        }
    }
    if let Some(order) = order {
        names = order
            .iter()
            .filter(|o| names.contains(o))
            .cloned()
            .collect();
    }
    names
        .into_iter()
        .map(|o| {
            let rs = runs.iter().filter(|r| r.optimizer == o).collect();
            (o, rs)
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn widens_long_curves_into_a_column_per_metric() {
        use arrow::array::{Float64Array, StringArray, UInt64Array};
        use arrow::datatypes::{DataType, Field, Schema};
        let schema = Schema::new(vec![
            Field::new("optimizer", DataType::Utf8, false),
            Field::new("epoch", DataType::UInt64, false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("value", DataType::Float64, false),
        ]);
        let long = RecordBatch::try_new(
            std::sync::Arc::new(schema),
            vec![
                std::sync::Arc::new(StringArray::from(vec!["adam", "adam", "adam", "gd"])),
                std::sync::Arc::new(UInt64Array::from(vec![1, 1, 2, 1])),
                std::sync::Arc::new(StringArray::from(vec![
                    "train_mse",
                    "test_acc",
                    "train_mse",
                    "test_acc",
                ])),
                std::sync::Arc::new(Float64Array::from(vec![0.9, 0.5, 0.8, 0.6])),
            ],
        )
        .unwrap();
        let wide = widen(&Named::new(&long, "t")).unwrap();
        let t = Named::new(&wide, "w");
        assert_eq!(t.strings("optimizer").unwrap(), vec!["adam", "adam", "gd"]);
        assert_eq!(t.f64s("epoch").unwrap(), vec![1.0, 2.0, 1.0]);
        let mse = t.f64s("train_mse").unwrap();
        assert_eq!(&mse[..2], &[0.9, 0.8]);
        assert!(mse[2].is_nan());
        let acc = t.f64s("test_acc").unwrap();
        assert_eq!(acc[0], 0.5);
        assert!(acc[1].is_nan());
        assert_eq!(acc[2], 0.6);
    }

    use super::*;
    use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array};
    use std::sync::Arc;

    #[test]
    fn groups_rows_into_runs_ordered_by_epoch() {
        let b = RecordBatch::try_from_iter(vec![
            (
                "optimizer",
                Arc::new(StringArray::from(vec!["adam", "adam", "gd", "adam"])) as ArrayRef,
            ),
            (
                "seed",
                Arc::new(UInt32Array::from(vec![42, 42, 42, 7])) as ArrayRef,
            ),
            (
                "epoch",
                Arc::new(UInt32Array::from(vec![2, 1, 1, 1])) as ArrayRef,
            ),
            (
                "test_acc",
                Arc::new(Float64Array::from(vec![0.9, 0.8, 0.5, 0.7])) as ArrayRef,
            ),
        ])
        .unwrap();
        let runs = read_runs(&Named::new(&b, "t"), &["test_acc"], &["elapsed_s"]).unwrap();
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].epoch, vec![1.0, 2.0]);
        assert_eq!(runs[0].metric("test_acc"), &[0.8, 0.9]);
        assert_eq!(runs[0].id["seed"], "42");
        assert!(runs[0].metric("elapsed_s").is_empty());
        let groups = by_optimizer(&runs, Some(&["gd".to_string(), "adam".to_string()]));
        assert_eq!(groups[0].0, "gd");
        assert_eq!(groups[1].1.len(), 2);
    }

    #[test]
    fn duplicate_epochs_mean_a_missing_run_column() {
        let b = RecordBatch::try_from_iter(vec![
            (
                "optimizer",
                Arc::new(StringArray::from(vec!["adam", "adam"])) as ArrayRef,
            ),
            ("epoch", Arc::new(UInt32Array::from(vec![1, 1])) as ArrayRef),
            (
                "test_acc",
                Arc::new(Float64Array::from(vec![0.9, 0.8])) as ArrayRef,
            ),
        ])
        .unwrap();
        let err = read_runs(&Named::new(&b, "table `curves`"), &["test_acc"], &[]).unwrap_err();
        assert!(err.to_string().contains("two rows for one epoch"), "{err}");
    }
}
