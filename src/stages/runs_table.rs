//! The `runs` table: one row per run with its final metrics. `train` and `llm_judge` write
//! it (runs named by `optimizer`), every `sweep` unit writes it (named by `cell`) and the
//! sweep's own `sweep` table carries its columns beside the grid's params; `sweep`'s combine
//! and `evaluate` read it back. Each writer has a [`Layout`]: which of the columns its runs
//! have, always in the one order of [`Col`].

use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt32Array, UInt64Array};

use super::columns::Named;
use super::curves::{
    EPOCHS_RUN, LR, OPTIMIZER, SEED, STATUS, STOPPED_EPOCH, TEST_ACC, TEST_MSE, TRAIN_ACC,
    TRAIN_MSE, TRAIN_ROWS, TRAIN_SECONDS,
};
use super::scores::CELL;
use super::train::{batch, strings};

/// `sweep`'s table of every (cell, seed) run: the grid's params, then the [`SWEEP`] columns.
pub const SWEEP_RUNS: &str = "sweep";

pub const TEST_ROWS: &str = "test_rows";
/// Judge answers that gave no readable grade.
pub const UNREAD: &str = "unread";

/// A run's status as written: `completed`, `diverged` or `early_stopped`.
pub const DIVERGED: &str = "diverged";

/// One run. `None` is a null in the table (no epoch ran, no early stop).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunRow {
    /// The optimizer (`train`, `llm_judge`) or the cell id (`sweep`).
    pub config: String,
    pub seed: u64,
    pub status: String,
    pub lr: Option<f64>,
    pub stopped_epoch: Option<u64>,
    pub epochs_run: Option<u32>,
    pub train_rows: Option<u32>,
    pub test_rows: Option<u32>,
    pub unread: Option<u32>,
    pub train_mse: Option<f64>,
    pub train_acc: Option<f64>,
    pub test_mse: Option<f64>,
    pub test_acc: Option<f64>,
    pub train_seconds: Option<f64>,
}

/// The optional columns, in table order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Col {
    Lr,
    StoppedEpoch,
    EpochsRun,
    TrainRows,
    TestRows,
    Unread,
    TrainMse,
    TrainAcc,
    TestMse,
    TestAcc,
    TrainSeconds,
}

/// The columns one writer's table has: the configuration column, `seed`, `status` and
/// `columns` (each placed by its position in [`Col`]).
pub struct Layout {
    pub config: &'static str,
    pub columns: &'static [Col],
}

pub const TRAIN: Layout = Layout {
    config: OPTIMIZER,
    columns: &[
        Col::Lr,
        Col::StoppedEpoch,
        Col::EpochsRun,
        Col::TrainRows,
        Col::TrainMse,
        Col::TrainAcc,
        Col::TestMse,
        Col::TestAcc,
        Col::TrainSeconds,
    ],
};

pub const SWEEP: Layout = Layout {
    config: CELL,
    columns: &[
        Col::EpochsRun,
        Col::TrainMse,
        Col::TrainAcc,
        Col::TestMse,
        Col::TestAcc,
    ],
};

pub const JUDGE: Layout = Layout {
    config: OPTIMIZER,
    columns: &[Col::TestRows, Col::Unread, Col::TestAcc],
};

impl Col {
    fn name(self) -> &'static str {
        match self {
            Col::Lr => LR,
            Col::StoppedEpoch => STOPPED_EPOCH,
            Col::EpochsRun => EPOCHS_RUN,
            Col::TrainRows => TRAIN_ROWS,
            Col::TestRows => TEST_ROWS,
            Col::Unread => UNREAD,
            Col::TrainMse => TRAIN_MSE,
            Col::TrainAcc => TRAIN_ACC,
            Col::TestMse => TEST_MSE,
            Col::TestAcc => TEST_ACC,
            Col::TrainSeconds => TRAIN_SECONDS,
        }
    }

    fn array(self, rows: &[RunRow]) -> ArrayRef {
        let f = |g: fn(&RunRow) -> Option<f64>| -> ArrayRef {
            Arc::new(rows.iter().map(g).collect::<Float64Array>())
        };
        let u = |g: fn(&RunRow) -> Option<u32>| -> ArrayRef {
            Arc::new(rows.iter().map(g).collect::<UInt32Array>())
        };
        match self {
            Col::Lr => f(|r| r.lr),
            Col::StoppedEpoch => Arc::new(
                rows.iter()
                    .map(|r| r.stopped_epoch)
                    .collect::<UInt64Array>(),
            ),
            Col::EpochsRun => u(|r| r.epochs_run),
            Col::TrainRows => u(|r| r.train_rows),
            Col::TestRows => u(|r| r.test_rows),
            Col::Unread => u(|r| r.unread),
            Col::TrainMse => f(|r| r.train_mse),
            Col::TrainAcc => f(|r| r.train_acc),
            Col::TestMse => f(|r| r.test_mse),
            Col::TestAcc => f(|r| r.test_acc),
            Col::TrainSeconds => f(|r| r.train_seconds),
        }
    }
}

/// The table's columns (name, array), for writers that put more columns beside them.
pub fn to_columns(layout: &Layout, rows: &[RunRow]) -> Vec<(&'static str, ArrayRef)> {
    let mut cols: Vec<(&'static str, ArrayRef)> = vec![
        (
            layout.config,
            strings(rows.iter().map(|r| r.config.clone()).collect()),
        ),
        (
            SEED,
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.seed))),
        ),
    ];
    // `status` sits after `lr` when a layout has one (the order tables were first written in).
    let status = (
        STATUS,
        strings(rows.iter().map(|r| r.status.clone()).collect()),
    );
    let mut placed = false;
    for &c in layout.columns {
        if !placed && c != Col::Lr {
            cols.push(status.clone());
            placed = true;
        }
        cols.push((c.name(), c.array(rows)));
    }
    if !placed {
        cols.push(status);
    }
    cols
}

pub fn to_batch(layout: &Layout, rows: &[RunRow]) -> Result<RecordBatch> {
    batch(to_columns(layout, rows))
}

/// The runs of a table with `config` as its configuration column; optional columns that
/// the table lacks read as `None`, as do nulls and NaNs.
pub fn from_batch(t: &Named<'_>, config: &str) -> Result<Vec<RunRow>> {
    let (cfg, seed, status) = (t.strings(config)?, t.f64s(SEED)?, t.strings(STATUS)?);
    let opt = |name: &str| -> Result<Vec<Option<f64>>> {
        Ok(if t.has(name) {
            t.f64s(name)?
                .into_iter()
                .map(|x| x.is_finite().then_some(x))
                .collect()
        } else {
            vec![None; cfg.len()]
        })
    };
    let int = |name: &str| -> Result<Vec<Option<u32>>> {
        Ok(opt(name)?
            .into_iter()
            .map(|x| x.map(|v| v as u32))
            .collect())
    };
    let (lr, stopped, epochs) = (opt(LR)?, opt(STOPPED_EPOCH)?, int(EPOCHS_RUN)?);
    let (train_rows, test_rows, unread) = (int(TRAIN_ROWS)?, int(TEST_ROWS)?, int(UNREAD)?);
    let (train_mse, train_acc) = (opt(TRAIN_MSE)?, opt(TRAIN_ACC)?);
    let (test_mse, test_acc, secs) = (opt(TEST_MSE)?, opt(TEST_ACC)?, opt(TRAIN_SECONDS)?);
    Ok((0..cfg.len())
        .map(|i| RunRow {
            config: cfg[i].clone(),
            seed: seed[i] as u64,
            status: status[i].clone(),
            lr: lr[i],
            stopped_epoch: stopped[i].map(|e| e as u64),
            epochs_run: epochs[i],
            train_rows: train_rows[i],
            test_rows: test_rows[i],
            unread: unread[i],
            train_mse: train_mse[i],
            train_acc: train_acc[i],
            test_mse: test_mse[i],
            test_acc: test_acc[i],
            train_seconds: secs[i],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(config: &str, seed: u64) -> RunRow {
        RunRow {
            config: config.into(),
            seed,
            status: "completed".into(),
            lr: Some(0.01),
            epochs_run: Some(3),
            train_rows: Some(80),
            train_mse: Some(0.5),
            train_acc: Some(0.75),
            test_mse: Some(0.9),
            test_acc: None,
            train_seconds: Some(0.02),
            ..RunRow::default()
        }
    }

    #[test]
    fn each_layout_writes_its_columns_in_the_tables_order_and_reads_back() {
        let names = |b: &RecordBatch| -> Vec<String> {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        };
        let rows = vec![row("adam", 1), row("sgd", 2)];
        let b = to_batch(&TRAIN, &rows).unwrap();
        assert_eq!(
            names(&b),
            [
                "optimizer",
                "seed",
                "lr",
                "status",
                "stopped_epoch",
                "epochs_run",
                "train_rows",
                "train_mse",
                "train_acc",
                "test_mse",
                "test_acc",
                "train_seconds"
            ]
        );
        assert_eq!(from_batch(&Named::new(&b, "t"), OPTIMIZER).unwrap(), rows);
        let s = to_batch(&SWEEP, &rows).unwrap();
        assert_eq!(
            names(&s),
            [
                "cell",
                "seed",
                "status",
                "epochs_run",
                "train_mse",
                "train_acc",
                "test_mse",
                "test_acc"
            ]
        );
        let back = from_batch(&Named::new(&s, "t"), CELL).unwrap();
        assert_eq!(back[1].train_acc, Some(0.75));
        assert_eq!((back[1].lr, back[1].train_seconds), (None, None));
        let j = to_batch(&JUDGE, &rows).unwrap();
        assert_eq!(
            names(&j),
            [
                "optimizer",
                "seed",
                "status",
                "test_rows",
                "unread",
                "test_acc"
            ]
        );
    }
}
