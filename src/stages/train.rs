//! `train`: the study's MLP trained on a feature table (from `tfidf` or `e5`) with several
//! optimizers and seeds. Every (optimizer, seed) run is its own cached unit, so adding a
//! seed or an optimizer trains only the new runs; runs go in parallel.
//!
//! Tables: `curves` (one row per run and epoch: optimizer, seed, epoch, train_mse,
//! train_acc, test_mse, test_acc, val_mse/val_acc (with early stopping), elapsed_s =
//! cumulative training seconds with evaluation excluded, fraction; timings are the only
//! numbers that change between identical runs), `runs` (one row per run: status and final
//! metrics), `weights` (one row per layer: rows, cols, row-major `values`), `snapshots`
//! (optimizer, seed, epoch and a list column `weights` of f32, projected if asked; the
//! `tsne` stage's default layout) and `scores` (raw test outputs per row, for `evaluate`).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{
    Array, ArrayRef, Float32Builder, Float64Array, Float64Builder, ListBuilder, RecordBatch,
    StringArray, UInt32Array, UInt64Array,
};
use arrow::compute::concat_batches;
use arrow::datatypes::{Field, Schema};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::curves;
use super::features;
use super::runs_table::{self, RunRow};
use super::scores;
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage, Unit};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::ml::mlp::BiasMode;
use crate::ml::optim::OptimizerSpec;
use crate::ml::real::Real;
use crate::ml::rng::{RngScope, RunKey};
use crate::ml::train::{
    one_or_many, train_observed, Dataset, EarlyStopping, FirstLayer, FractionMode, RunResult,
    RunStatus, SnapshotConfig, TrainConfig, TrainError,
};

pub const KIND: Kind = Kind {
    name: "train",
    version: 2,
    summary: "tanh MLP trained with each optimizer x seed (cached per run): curves, weights, snapshots, test scores",
    inputs: &[Role::one("features")],
    build: build_with::<Params>,
};

/// Numeric precision of a run. `f32` is about twice as fast (measured by
/// `scripts/bench-train.sh`); `f64` is the study's (numpy) precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    F64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Hidden layer sizes (`64`, `[128, 64, 32]`, or `[]` for the one-layer model).
    #[serde(default = "default_hidden", deserialize_with = "one_or_many")]
    pub hidden: Vec<usize>,
    /// Optimizers by name or as maps with overrides: `[gd, sgd, {name: adam, lr: 0.01}]`.
    #[serde(default = "default_optimizers")]
    pub optimizers: Vec<OptimizerSpec>,
    /// Learning rates by optimizer name, overriding the optimizers' own.
    #[serde(default)]
    pub learning_rates: BTreeMap<String, f64>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Share of the training rows used, and how they are picked (`first_n` as the study,
    /// or `groups`: whole question pairs drawn with the seed).
    #[serde(default = "one")]
    pub fraction: f64,
    #[serde(default)]
    pub fraction_mode: FractionMode,
    #[serde(default)]
    pub bias: BiasMode,
    #[serde(default)]
    pub snapshots: Option<SnapshotConfig>,
    #[serde(default)]
    pub early_stopping: Option<EarlyStopping>,
    #[serde(default)]
    pub precision: Precision,
    #[serde(default)]
    pub first_layer: FirstLayer,
    /// What seeds a run's random numbers: `run` (seed, optimizer; every run its own) or
    /// `seed` (the seed alone, as the study: one seed's optimizers share initial weights
    /// and shuffles).
    #[serde(default)]
    pub rng: RngScope,
}

fn default_hidden() -> Vec<usize> {
    vec![64]
}
fn default_optimizers() -> Vec<OptimizerSpec> {
    ["gd", "sgd", "adam"]
        .iter()
        .filter_map(|n| OptimizerSpec::from_name(n))
        .collect()
}
fn default_seeds() -> Vec<u64> {
    vec![42, 10, 2024, 7, 99]
}
fn default_epochs() -> usize {
    100
}
fn default_batch() -> usize {
    32
}
fn one() -> f64 {
    1.0
}

/// What one unit (run) needs: hashed into its cache key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSpec {
    pub config: TrainConfig,
    /// The run's seed, optimizer and cell as far as they seed its random streams.
    pub key: RunKey,
    pub precision: Precision,
}

impl RunSpec {
    pub fn seed(&self) -> u64 {
        self.key.seed
    }
}

struct Train {
    runs: Vec<(String, RunSpec)>,
}

impl Params {
    /// The run config of one optimizer, or the param to blame and why: the optimizer's
    /// entry (`optimizers[i]`, or its `learning_rates` override) or the shared setting
    /// itself (`batch_size`), wherever the value came from (pipeline or preset).
    fn config_for(&self, i: usize, opt: &OptimizerSpec) -> Result<TrainConfig, (String, String)> {
        let mut optimizer = opt.clone();
        if let Some(&lr) = self.learning_rates.get(opt.name()) {
            optimizer.set_lr(lr);
        }
        let cfg = TrainConfig {
            hidden: self.hidden.clone(),
            optimizer,
            epochs: self.epochs,
            batch_size: self.batch_size,
            fraction: self.fraction,
            fraction_mode: self.fraction_mode,
            bias: self.bias,
            snapshots: self.snapshots.clone(),
            early_stopping: self.early_stopping.clone(),
            first_layer: self.first_layer,
        };
        cfg.validate().map_err(|e| {
            let field = match &e {
                TrainError::Field {
                    field: "optimizer", ..
                } => match self.learning_rates.contains_key(opt.name()) {
                    true if e.to_string().contains(": lr ") => {
                        format!("learning_rates.{}", opt.name())
                    }
                    _ => format!("optimizers[{i}]"),
                },
                TrainError::Field { field, .. } => field.to_string(),
                _ => format!("optimizers[{i}]"),
            };
            (field, e.to_string())
        })?;
        Ok(cfg)
    }
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if self.optimizers.is_empty() {
            return Err(cx.error("optimizers", "at least one optimizer is needed"));
        }
        if self.seeds.is_empty() {
            return Err(cx.error("seeds", "at least one seed is needed"));
        }
        for name in self.learning_rates.keys() {
            if !self.optimizers.iter().any(|o| o.name() == name) {
                return Err(cx
                    .error(
                        "learning_rates",
                        format!("`{name}` is not one of the optimizers"),
                    )
                    .help("learning_rates are keyed by the names listed in `optimizers`"));
            }
        }
        let mut runs = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, opt) in self.optimizers.iter().enumerate() {
            let config = self
                .config_for(i, opt)
                .map_err(|(field, e)| cx.error(&field, e))?;
            if !seen.insert(opt.name()) {
                return Err(cx
                    .error(
                        &format!("optimizers[{i}]"),
                        format!("optimizer `{}` is listed twice", opt.name()),
                    )
                    .help("to compare settings of one optimizer, use a `sweep` stage"));
            }
            for &seed in &self.seeds {
                let id = format!("{}/seed={seed}", opt.name());
                runs.push((
                    id,
                    RunSpec {
                        config: config.clone(),
                        key: RunKey::new(self.rng, seed, opt.name(), ""),
                        precision: self.precision,
                    },
                ));
            }
        }
        Ok(Box::new(Train { runs }))
    }
}

/// The feature table's train and test parts, with group ids.
pub(crate) struct Loaded {
    pub x_train: Array2<f64>,
    pub y_train: Array1<f64>,
    pub groups: Vec<u64>,
    pub x_test: Array2<f64>,
    pub y_test: Array1<f64>,
}

pub(crate) fn load_features(cx: &RunCx<'_>) -> Result<Loaded> {
    let a = cx.input("features")?;
    let tr =
        features::from_batch(&a.table("train")?).context("reading the `train` feature table")?;
    let te = features::from_batch(&a.table("test")?).context("reading the `test` feature table")?;
    Ok(Loaded {
        groups: tr.groups.iter().map(|&g| u64::from(g)).collect(),
        x_train: tr.x,
        y_train: tr.y,
        x_test: te.x,
        y_test: te.y,
    })
}

/// One run in precision `T`, its numbers returned in f64.
pub(crate) fn run_in<T: Real>(
    d: &Loaded,
    cfg: &TrainConfig,
    key: &RunKey,
    on_epoch: &dyn Fn(usize),
) -> Result<RunResult<f64>> {
    let (xtr, ytr) = (d.x_train.mapv(T::from_f64), d.y_train.mapv(T::from_f64));
    let (xte, yte) = (d.x_test.mapv(T::from_f64), d.y_test.mapv(T::from_f64));
    let data = Dataset {
        x_train: xtr.view(),
        y_train: ytr.view(),
        x_test: xte.view(),
        y_test: yte.view(),
        groups: Some(&d.groups),
    };
    let r = train_observed(&data, cfg, key.clone(), on_epoch)?;
    Ok(RunResult {
        curves: r.curves,
        weights: r
            .weights
            .into_iter()
            .map(|w| w.mapv(Real::to_f64))
            .collect(),
        snapshots: r.snapshots,
        test_scores: r.test_scores.mapv(Real::to_f64),
        status: r.status,
        train_rows: r.train_rows,
    })
}

/// Runs `spec`, ticking `cx`'s progress once per epoch.
pub(crate) fn run_spec(d: &Loaded, spec: &RunSpec, cx: &RunCx<'_>) -> Result<RunResult<f64>> {
    let epochs = spec.config.epochs as u64;
    cx.tick("epochs", 0, epochs);
    let tick = |e: usize| cx.tick("epochs", e as u64, epochs);
    let r = match spec.precision {
        Precision::F32 => run_in::<f32>(d, &spec.config, &spec.key, &tick),
        Precision::F64 => run_in::<f64>(d, &spec.config, &spec.key, &tick),
    };
    cx.tick("epochs", epochs, epochs);
    r
}

pub(crate) fn batch(fields: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema = Schema::new(
        fields
            .iter()
            // Always nullable, so units with and without nulls concatenate.
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        fields.into_iter().map(|(_, a)| a).collect(),
    )?)
}

pub(crate) fn strings(v: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

pub(crate) fn status_parts(s: RunStatus) -> (&'static str, Option<u64>) {
    match s {
        RunStatus::Completed => ("completed", None),
        RunStatus::Diverged(e) => ("diverged", Some(e as u64)),
        RunStatus::EarlyStopped(e) => ("early_stopped", Some(e as u64)),
    }
}

/// The tables of one run.
fn run_tables(
    opt: &str,
    spec: &RunSpec,
    r: &RunResult<f64>,
    y_test: &Array1<f64>,
) -> Result<Output> {
    let seed = spec.seed();
    // curves: one row per run and epoch (long in runs and epochs, one column per metric)
    let n = r.curves.len();
    let col = |f: fn(&crate::ml::train::EpochRecord) -> Option<f64>| -> ArrayRef {
        Arc::new(r.curves.iter().map(f).collect::<Float64Array>())
    };
    let curves = batch(vec![
        (curves::OPTIMIZER, strings(vec![opt.to_string(); n])),
        (curves::SEED, Arc::new(UInt64Array::from(vec![seed; n]))),
        (
            curves::EPOCH,
            Arc::new(UInt32Array::from_iter_values(
                r.curves.iter().map(|c| c.epoch as u32),
            )),
        ),
        (curves::TRAIN_MSE, col(|c| Some(c.train_mse))),
        (curves::TRAIN_ACC, col(|c| Some(c.train_acc))),
        (curves::TEST_MSE, col(|c| Some(c.test_mse))),
        (curves::TEST_ACC, col(|c| Some(c.test_acc))),
        (curves::VAL_MSE, col(|c| c.val_mse)),
        (curves::VAL_ACC, col(|c| c.val_acc)),
        (curves::ELAPSED_S, col(|c| Some(c.elapsed_s))),
        (
            curves::FRACTION,
            Arc::new(Float64Array::from(vec![spec.config.fraction; n])),
        ),
    ])?;

    let last = r.curves.last();
    let (status, stopped) = status_parts(r.status);
    let at_end = |g: fn(&crate::ml::train::EpochRecord) -> f64| last.map(g);
    let runs = runs_table::to_batch(
        &runs_table::TRAIN,
        &[RunRow {
            config: opt.to_string(),
            seed,
            status: status.to_string(),
            lr: Some(spec.config.optimizer.lr()),
            stopped_epoch: stopped,
            epochs_run: Some(r.curves.len() as u32),
            train_rows: Some(r.train_rows as u32),
            train_mse: at_end(|c| c.train_mse),
            train_acc: at_end(|c| c.train_acc),
            test_mse: at_end(|c| c.test_mse),
            test_acc: at_end(|c| c.test_acc),
            train_seconds: at_end(|c| c.elapsed_s),
            ..RunRow::default()
        }],
    )?;

    let mut wvals = ListBuilder::new(Float64Builder::new());
    let (mut layer, mut rows, mut cols) = (Vec::new(), Vec::new(), Vec::new());
    for (l, w) in r.weights.iter().enumerate() {
        layer.push(l as u32);
        rows.push(w.nrows() as u32);
        cols.push(w.ncols() as u32);
        wvals
            .values()
            .append_slice(w.as_standard_layout().as_slice().expect("standard layout"));
        wvals.append(true);
    }
    let nl = layer.len();
    let weights = batch(vec![
        (curves::OPTIMIZER, strings(vec![opt.to_string(); nl])),
        (curves::SEED, Arc::new(UInt64Array::from(vec![seed; nl]))),
        (curves::LAYER, Arc::new(UInt32Array::from(layer))),
        (curves::LAYER_ROWS, Arc::new(UInt32Array::from(rows))),
        (curves::LAYER_COLS, Arc::new(UInt32Array::from(cols))),
        (curves::LAYER_VALUES, Arc::new(wvals.finish())),
    ])?;

    let s = &r.snapshots;
    let mut svals = ListBuilder::new(Float32Builder::new());
    for k in 0..s.epochs.len() {
        svals
            .values()
            .append_slice(&s.data[k * s.dim..(k + 1) * s.dim]);
        svals.append(true);
    }
    let ns = s.epochs.len();
    let snapshots = batch(vec![
        (curves::OPTIMIZER, strings(vec![opt.to_string(); ns])),
        (curves::SEED, Arc::new(UInt64Array::from(vec![seed; ns]))),
        (
            curves::EPOCH,
            Arc::new(UInt32Array::from(
                s.epochs.iter().map(|&e| e as u32).collect::<Vec<_>>(),
            )),
        ),
        (curves::SNAPSHOT_WEIGHTS, Arc::new(svals.finish())),
    ])?;

    let scores = scores::to_batch(
        &[(scores::OPTIMIZER, opt)],
        seed,
        &y_test.to_vec(),
        &r.test_scores.to_vec(),
    )?;

    Ok(Output::default()
        .table(curves::CURVES, curves)
        .table(curves::RUNS, runs)
        .table(curves::WEIGHTS, weights)
        .table(curves::SNAPSHOTS, snapshots)
        .table(scores::SCORES, scores))
}

pub(crate) const TABLES: [&str; 5] = [
    curves::CURVES,
    curves::RUNS,
    curves::WEIGHTS,
    curves::SNAPSHOTS,
    scores::SCORES,
];

/// Concatenates each named table over the unit artifacts (in unit order).
pub(crate) fn concat_units(units: &[Arc<Artifact>], names: &[&str]) -> Result<Output> {
    let mut out = Output::default();
    for name in names {
        let parts = units
            .iter()
            .map(|u| u.table(name))
            .collect::<Result<Vec<_>>>()?;
        let schema = parts
            .first()
            .map(|b| b.schema())
            .with_context(|| format!("no runs for table `{name}`"))?;
        out = out.table(name, concat_batches(&schema, &parts)?);
    }
    Ok(out)
}

impl Stage for Train {
    /// Per optimizer, the final test accuracy and training MSE, means over seeds (the
    /// intervals over test questions are `evaluate`'s).
    fn headline(&self, a: &Artifact) -> Result<Vec<crate::headline::Metric>> {
        let t = a.table(curves::RUNS)?;
        let named = super::columns::Named::new(&t, "runs");
        let opts = named.strings(curves::OPTIMIZER)?;
        let (acc, mse) = (
            named.f64s(curves::TEST_ACC)?,
            named.f64s(curves::TRAIN_MSE)?,
        );
        let mut by: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        let mut order = Vec::new();
        for (i, o) in opts.iter().enumerate() {
            let e = by.entry(o.as_str()).or_insert_with(|| {
                order.push(o.as_str());
                Default::default()
            });
            e.0.push(acc[i]);
            e.1.push(mse[i]);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let mut out = Vec::new();
        for o in order {
            let (a, m) = &by[o];
            out.push(crate::headline::Metric::higher(
                format!("test_acc[{o}]"),
                mean(a),
            ));
            out.push(crate::headline::Metric::lower(
                format!("train_mse[{o}]"),
                mean(m),
            ));
        }
        Ok(out)
    }

    fn units(&self) -> Vec<Unit> {
        self.runs
            .iter()
            .map(|(id, spec)| {
                Unit::new(
                    id.clone(),
                    &serde_json::to_value(spec).expect("run spec serialises"),
                )
            })
            .collect()
    }

    fn run_unit(&self, unit: &Unit, cx: &RunCx<'_>) -> Result<Output> {
        let spec: RunSpec = unit.params.parse()?;
        let d = load_features(cx)?;
        let r = run_spec(&d, &spec, cx)?;
        if let RunStatus::Diverged(e) = r.status {
            cx.warn(format!(
                "{}: diverged (NaN/Inf) at epoch {e}; its curves stop at epoch {}",
                unit.id,
                e - 1
            ));
        }
        run_tables(spec.config.optimizer.name(), &spec, &r, &d.y_test)
    }

    fn run(&self, cx: &RunCx<'_>, units: &[Arc<Artifact>]) -> Result<Output> {
        let mut out = concat_units(units, &TABLES)?;
        let snap_bytes: u64 = units
            .iter()
            .flat_map(|u| {
                u.manifest
                    .tables
                    .iter()
                    .filter(|t| t.name == curves::SNAPSHOTS)
                    .map(|t| t.bytes)
            })
            .sum();
        let snap_rows: usize = out
            .tables
            .iter()
            .find(|(n, _)| n == curves::SNAPSHOTS)
            .map_or(0, |(_, b)| b.num_rows());
        if snap_rows > 0 {
            out.notes.push(format!(
                "{snap_rows} weight snapshots, {:.3} MB as Parquet over {} runs",
                snap_bytes as f64 / 1e6,
                units.len()
            ));
        }
        if let Some((_, runs)) = out.tables.iter().find(|(n, _)| n == curves::RUNS) {
            let col = |name: &str| {
                runs.column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                    .map(|a| {
                        (0..a.len())
                            .map(|i| a.value(i).to_string())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            };
            let (opt, status) = (col("optimizer"), col("status"));
            let bad: Vec<String> = opt
                .iter()
                .zip(&status)
                .zip(&self.runs)
                .filter(|((_, s), _)| s.as_str() == "diverged")
                .map(|(_, (id, _))| id.clone())
                .collect();
            if !bad.is_empty() {
                cx.warn(format!(
                    "{} of {} runs diverged (NaN/Inf) and stopped early: {}",
                    bad.len(),
                    units.len(),
                    bad.join(", ")
                ));
            }
        }
        Ok(out)
    }
}
