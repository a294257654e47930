//! One training run: (data, [`TrainConfig`], seed) -> [`RunResult`], the loop body of the
//! study's `run_experiments`.
//!
//! Every epoch the training rows are shuffled; GD takes one full-batch step over the rows
//! in their original order (as the study), the other optimizers step over consecutive
//! mini-batches of the shuffled rows (the last one may be shorter). After each epoch the
//! network is evaluated on the training rows (MSE, accuracy), the held-out validation rows
//! when early stopping is on, and the test rows.
//!
//! **Timing.** `elapsed_s` is the cumulative time spent training (shuffling, forward,
//! backward, updates) up to the end of that epoch; evaluation and snapshot time are
//! excluded. The study's `time` column read the clock before each epoch's evaluation but
//! included all earlier evaluations, so its values are larger for the same work.
//! Timings are the only non-deterministic numbers in a [`RunResult`].
//!
//! **Divergence.** When a weight or the training loss stops being finite the run stops,
//! is marked [`RunStatus::Diverged`], and keeps the curves and test scores of its last
//! finite epoch.
//!
//! **Speed.** The training, validation and test rows are evaluated in one matrix product,
//! and GD reuses that product's training-row activations for its next step (they were
//! computed with the same weights). For GD, SGD and momentum the first layer is kept in
//! the span of the training rows ([`crate::ml::rowspace`]) when that is cheaper, which
//! removes almost all of their work; [`FirstLayer::Direct`] turns that off.

use std::time::Instant;

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::mlp::{BiasMode, Mlp, MlpError, Workspace};
use super::optim::{Optimizer, OptimizerSpec};
use super::real::Real;
use super::rng::RunKey;
use super::rowspace::RowSpace;
use super::simd::vectorized;
use super::snapshot::SparseProjection;

/// Errors a run reports instead of panicking: bad shapes or configuration.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Config(String),
    /// A setting out of range; `field` is its path in [`TrainConfig`] (`batch_size`,
    /// `optimizer`, `snapshots.every`), so a caller can point at it.
    #[error("{message}")]
    Field {
        field: &'static str,
        message: String,
    },
    #[error("data: {0}")]
    Data(String),
    #[error(transparent)]
    Mlp(#[from] MlpError),
}

/// How a training fraction below 1 picks its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FractionMode {
    /// The first `floor(fraction * n)` rows, as the study.
    #[default]
    FirstN,
    /// Whole groups (question pairs) drawn at random with the seed until at least
    /// `floor(fraction * n)` rows are taken; rows keep their original order.
    Groups,
}

/// Weight snapshots for the t-SNE stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// Record the initial weights, every `every`-th epoch and the last epoch.
    pub every: usize,
    /// Project each snapshot to this many dimensions at record time
    /// ([`SparseProjection`]); `None` keeps all weights.
    #[serde(default)]
    pub project_to: Option<usize>,
    /// Seed of the projection, shared by all runs so their snapshots are comparable.
    #[serde(default)]
    pub projection_seed: u64,
}

/// Which held-out number early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMetric {
    #[default]
    ValMse,
    ValAccuracy,
}

/// Stop a run when the held-out metric has not improved by `min_delta` for `patience`
/// epochs. The held-out rows are drawn (with the seed, keeping groups together) from the
/// training rows and not trained on. The run keeps its last weights, not the best ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EarlyStopping {
    pub patience: usize,
    pub metric: StopMetric,
    pub min_delta: f64,
    pub validation_fraction: f64,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        EarlyStopping {
            patience: 5,
            metric: StopMetric::ValMse,
            min_delta: 0.0,
            validation_fraction: 0.2,
        }
    }
}

/// Everything that defines a run apart from its data and seed. Defaults are the study's
/// core experiment with Adam.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Hidden layer sizes; `[]` is the study's one-layer model, `[128, 64, 32]` its
    /// recursive MLP. Input width comes from the data, the output is 1. A single number
    /// means one hidden layer.
    #[serde(deserialize_with = "one_or_many")]
    pub hidden: Vec<usize>,
    pub bias: BiasMode,
    pub optimizer: OptimizerSpec,
    pub epochs: usize,
    /// Mini-batch rows; ignored by full-batch `gd`.
    pub batch_size: usize,
    /// Share of the training rows used, in (0, 1].
    pub fraction: f64,
    pub fraction_mode: FractionMode,
    pub snapshots: Option<SnapshotConfig>,
    pub early_stopping: Option<EarlyStopping>,
    /// How the first layer is computed; changes speed, not results (beyond rounding).
    pub first_layer: FirstLayer,
}

/// How the first layer's products are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirstLayer {
    /// Row space ([`crate::ml::rowspace`]) where it is exact and cheaper, else direct.
    #[default]
    Auto,
    /// Always the study's direct products.
    Direct,
}

/// Reads a layer size or a list of them (`64` is `[64]`).
pub fn one_or_many<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a layer size or a list of layer sizes")]
    enum OneOrMany {
        One(usize),
        Many(Vec<usize>),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::One(n) => vec![n],
        OneOrMany::Many(v) => v,
    })
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: vec![64],
            bias: BiasMode::InputColumn,
            optimizer: OptimizerSpec::from_name("adam").expect("adam exists"),
            epochs: 100,
            batch_size: 32,
            fraction: 1.0,
            fraction_mode: FractionMode::FirstN,
            snapshots: None,
            early_stopping: None,
            first_layer: FirstLayer::Auto,
        }
    }
}

impl TrainConfig {
    /// Checks the values a YAML file could get wrong, with a message saying what to do.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |field: &'static str, message: String| Err(TrainError::Field { field, message });
        if let Err(m) = self.optimizer.validate() {
            return bad("optimizer", m);
        }
        if self.epochs == 0 {
            return bad("epochs", "epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "batch_size must be at least 1".into());
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return bad(
                "fraction",
                format!("fraction must be in (0, 1], got {}", self.fraction),
            );
        }
        if self.hidden.contains(&0) {
            return bad(
                "hidden",
                format!("hidden sizes must be positive, got {:?}", self.hidden),
            );
        }
        if let Some(s) = &self.snapshots {
            if s.every == 0 {
                return bad(
                    "snapshots.every",
                    "snapshots.every must be at least 1".into(),
                );
            }
            if s.project_to == Some(0) {
                return bad(
                    "snapshots.project_to",
                    "snapshots.project_to must be at least 1 (or omitted)".into(),
                );
            }
        }
        if let Some(e) = &self.early_stopping {
            if e.patience == 0 {
                return bad(
                    "early_stopping.patience",
                    "early_stopping.patience must be at least 1".into(),
                );
            }
            if !(e.validation_fraction > 0.0 && e.validation_fraction < 1.0) {
                return bad(
                    "early_stopping.validation_fraction",
                    format!(
                        "early_stopping.validation_fraction must be in (0, 1), got {}",
                        e.validation_fraction
                    ),
                );
            }
        }
        Ok(())
    }

    /// `[in, hidden..., 1]`.
    pub fn layer_sizes(&self, input_dim: usize) -> Vec<usize> {
        let mut v = vec![input_dim];
        v.extend(&self.hidden);
        v.push(1);
        v
    }
}

/// The data of a run. Labels are +1/-1; `groups` (one id per training row, e.g. the
/// question) is only needed for [`FractionMode::Groups`] and early stopping.
#[derive(Debug, Clone, Copy)]
pub struct Dataset<'a, T> {
    pub x_train: ArrayView2<'a, T>,
    pub y_train: ArrayView1<'a, T>,
    pub x_test: ArrayView2<'a, T>,
    pub y_test: ArrayView1<'a, T>,
    pub groups: Option<&'a [u64]>,
}

impl<T: Real> Dataset<'_, T> {
    fn check(&self) -> Result<(), TrainError> {
        let err = |m: String| Err(TrainError::Data(m));
        if self.x_train.nrows() != self.y_train.len() {
            return err(format!(
                "{} training rows but {} labels",
                self.x_train.nrows(),
                self.y_train.len()
            ));
        }
        if self.x_test.nrows() != self.y_test.len() {
            return err(format!(
                "{} test rows but {} labels",
                self.x_test.nrows(),
                self.y_test.len()
            ));
        }
        if self.x_train.ncols() != self.x_test.ncols() {
            return err(format!(
                "training rows have {} features, test rows {}",
                self.x_train.ncols(),
                self.x_test.ncols()
            ));
        }
        if self.x_train.nrows() == 0 {
            return err("no training rows".into());
        }
        if let Some(g) = self.groups {
            if g.len() != self.x_train.nrows() {
                return err(format!(
                    "{} group ids for {} training rows",
                    g.len(),
                    self.x_train.nrows()
                ));
            }
        }
        Ok(())
    }
}

/// One epoch's numbers. `epoch` counts from 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_mse: f64,
    pub train_acc: f64,
    pub test_mse: f64,
    pub test_acc: f64,
    pub val_mse: Option<f64>,
    pub val_acc: Option<f64>,
    /// Cumulative training seconds (evaluation excluded), see the module docs.
    pub elapsed_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "epoch")]
pub enum RunStatus {
    Completed,
    /// Stopped at this epoch because a weight or the loss was NaN/Inf.
    Diverged(usize),
    /// Stopped at this epoch by early stopping.
    EarlyStopped(usize),
}

/// Weight snapshots: `epochs[i]` (0 = initial weights) is row `i` of `data`, in f32,
/// either all weights flattened layer by layer or their projection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshots {
    pub epochs: Vec<usize>,
    pub data: Vec<f32>,
    pub dim: usize,
}

impl Snapshots {
    pub fn to_array(&self) -> Array2<f32> {
        Array2::from_shape_vec((self.epochs.len(), self.dim), self.data.clone())
            .expect("snapshot rows are all `dim` long")
    }
}

/// What a run returns.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult<T> {
    pub curves: Vec<EpochRecord>,
    pub weights: Vec<Array2<T>>,
    pub snapshots: Snapshots,
    /// Raw network outputs (tanh, in [-1, 1]) on the test rows after the last recorded
    /// epoch, for ROC AUC and the confusion matrix.
    pub test_scores: Array1<T>,
    pub status: RunStatus,
    /// Training rows actually trained on (after the fraction and the validation split).
    pub train_rows: usize,
}

/// Starting point injected by a replay: weights and the per-epoch shuffle orders
/// (permutations of the training rows; unused by GD).
#[derive(Debug, Clone)]
pub struct Injected<T> {
    pub weights: Vec<Array2<T>>,
    pub orders: Vec<Vec<usize>>,
}

/// One seeded run. Its random streams (initial weights, shuffles, subsets) come from
/// `key`; a bare seed converts to the study's seed-only key.
pub fn train<T: Real>(
    data: &Dataset<'_, T>,
    cfg: &TrainConfig,
    key: impl Into<RunKey>,
) -> Result<RunResult<T>, TrainError> {
    train_observed(data, cfg, key, &|_| {})
}

/// [`train`], calling `on_epoch(e)` as epoch `e` begins (after `e` epochs): how a caller
/// shows progress. It does not change the result.
pub fn train_observed<T: Real>(
    data: &Dataset<'_, T>,
    cfg: &TrainConfig,
    key: impl Into<RunKey>,
    on_epoch: &dyn Fn(usize),
) -> Result<RunResult<T>, TrainError> {
    let key = key.into();
    cfg.validate()?;
    data.check()?;
    let n = data.x_train.nrows();
    let mut rows = select_fraction(n, cfg.fraction, cfg.fraction_mode, data.groups, &key);
    let mut val_rows = Vec::new();
    if let Some(es) = &cfg.early_stopping {
        (rows, val_rows) = split_validation(&rows, es.validation_fraction, data.groups, &key);
    }
    if rows.is_empty() {
        return Err(TrainError::Config(format!(
            "fraction {} leaves no training rows out of {n}",
            cfg.fraction
        )));
    }
    let sizes = cfg.layer_sizes(data.x_train.ncols());
    let mlp = Mlp::init(&sizes, cfg.bias, &mut key.stream("init"))?;
    let mut shuffle_rng = key.stream("shuffle");
    let orders = move |order: &mut Vec<usize>, _epoch: usize| {
        order.clear();
        order.extend(0..order.capacity());
        order.shuffle(&mut shuffle_rng);
    };
    run(data, cfg, &rows, &val_rows, mlp, orders, on_epoch)
}

/// A run from injected weights and shuffle orders, over all training rows (the replay
/// hook: start from numpy's weights and batches). Snapshots and early stopping are not
/// used here.
pub fn train_injected<T: Real>(
    data: &Dataset<'_, T>,
    cfg: &TrainConfig,
    init: Injected<T>,
) -> Result<RunResult<T>, TrainError> {
    cfg.validate()?;
    data.check()?;
    let n = data.x_train.nrows();
    let sizes = cfg.layer_sizes(data.x_train.ncols());
    let mlp = Mlp::from_weights(&sizes, cfg.bias, init.weights)?;
    if !cfg.optimizer.full_batch() {
        if init.orders.len() < cfg.epochs {
            return Err(TrainError::Data(format!(
                "{} shuffle orders for {} epochs",
                init.orders.len(),
                cfg.epochs
            )));
        }
        for (e, o) in init.orders.iter().enumerate() {
            let mut seen = vec![false; n];
            for &i in o {
                if i >= n || std::mem::replace(&mut seen[i], true) {
                    return Err(TrainError::Data(format!(
                        "order of epoch {e} is not a permutation of 0..{n}"
                    )));
                }
            }
        }
    }
    let orders_given = init.orders;
    let orders = move |order: &mut Vec<usize>, epoch: usize| {
        order.clear();
        order.extend_from_slice(&orders_given[epoch]);
    };
    let rows: Vec<usize> = (0..n).collect();
    let mut cfg = cfg.clone();
    cfg.snapshots = None;
    cfg.early_stopping = None;
    run(data, &cfg, &rows, &[], mlp, orders, &|_| {})
}

/// Rows kept by the training fraction, ascending.
pub fn select_fraction(
    n: usize,
    fraction: f64,
    mode: FractionMode,
    groups: Option<&[u64]>,
    key: &RunKey,
) -> Vec<usize> {
    let target = ((fraction * n as f64).floor() as usize).min(n);
    if target == n {
        return (0..n).collect();
    }
    match mode {
        FractionMode::FirstN => (0..target).collect(),
        FractionMode::Groups => {
            draw_groups(&(0..n).collect::<Vec<_>>(), target, groups, key, "subset")
        }
    }
}

/// Splits `rows` into (train, validation) with about `fraction` of them, whole groups
/// at a time, drawn with the seed.
fn split_validation(
    rows: &[usize],
    fraction: f64,
    groups: Option<&[u64]>,
    key: &RunKey,
) -> (Vec<usize>, Vec<usize>) {
    let target = ((fraction * rows.len() as f64).round() as usize).max(1);
    let val = draw_groups(rows, target, groups, key, "validation");
    let train = rows
        .iter()
        .copied()
        .filter(|r| val.binary_search(r).is_err())
        .collect();
    (train, val)
}

/// Whole groups of `rows` in a seeded random order until at least `target` rows; the
/// result is ascending. Without group ids every row is its own group.
fn draw_groups(
    rows: &[usize],
    target: usize,
    groups: Option<&[u64]>,
    key: &RunKey,
    purpose: &str,
) -> Vec<usize> {
    let gid = |r: usize| groups.map_or(r as u64, |g| g[r]);
    // Distinct groups in order of first appearance, so the draw does not depend on ids'
    // hash order.
    let mut order: Vec<u64> = Vec::new();
    let mut members: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
    for &r in rows {
        let g = gid(r);
        members
            .entry(g)
            .or_insert_with(|| {
                order.push(g);
                Vec::new()
            })
            .push(r);
    }
    order.shuffle(&mut key.stream(purpose));
    let mut out = Vec::new();
    for g in order {
        if out.len() >= target {
            break;
        }
        out.extend(&members[&g]);
    }
    out.sort_unstable();
    out
}

pub(crate) fn copy_rows<T: Real>(
    src: ArrayView2<'_, T>,
    rows: &[usize],
    dst: &mut ndarray::ArrayViewMut2<'_, T>,
) {
    for (k, &r) in rows.iter().enumerate() {
        dst.row_mut(k).assign(&src.row(r));
    }
}

/// MSE and accuracy (sign of the output, > 0 is +1) of `out` against `y`.
fn score<T: Real>(out: ArrayView1<'_, T>, y: ArrayView1<'_, T>) -> (f64, f64) {
    let mut sq = 0.0;
    let mut hits = 0usize;
    for (&o, &t) in out.iter().zip(y.iter()) {
        let (o, t) = (Real::to_f64(o), Real::to_f64(t));
        sq += (t - o) * (t - o);
        let pred = if o > 0.0 { 1.0 } else { -1.0 };
        hits += usize::from(pred == t);
    }
    let n = out.len().max(1) as f64;
    (sq / n, hits as f64 / n)
}

/// Whether every weight is finite. `v * 0` is 0 for finite `v` and NaN otherwise; summing
/// those in eight lanes lets the loop vectorise (an early-exit test would not).
pub(crate) fn all_finite<T: Real>(ws: &[Array2<T>]) -> bool {
    ws.iter().all(|w| match w.as_slice() {
        Some(v) => vectorized(|| {
            let mut acc = [T::zero(); 8];
            let chunks = v.chunks_exact(8);
            let rest = chunks.remainder();
            for c in chunks {
                for i in 0..8 {
                    acc[i] += c[i] * T::zero();
                }
            }
            acc.iter().chain(rest).all(|x| x.is_finite())
        }),
        None => w.iter().all(|v| v.is_finite()),
    })
}

struct Recorder {
    every: usize,
    projection: Option<SparseProjection>,
    out: Snapshots,
}

impl Recorder {
    fn new(cfg: Option<&SnapshotConfig>, n_params: usize) -> Option<Self> {
        let cfg = cfg?;
        let projection = cfg
            .project_to
            .map(|d| SparseProjection::new(n_params, d, cfg.projection_seed));
        let dim = projection.as_ref().map_or(n_params, |p| p.output_dim());
        Some(Recorder {
            every: cfg.every,
            projection,
            out: Snapshots {
                epochs: Vec::new(),
                data: Vec::new(),
                dim,
            },
        })
    }

    fn record<T: Real>(&mut self, epoch: usize, weights: &[Array2<T>]) {
        if self.out.epochs.last() == Some(&epoch) {
            return;
        }
        self.out.epochs.push(epoch);
        let start = self.out.data.len();
        self.out.data.resize(start + self.out.dim, 0.0);
        let dst = &mut self.out.data[start..];
        match &self.projection {
            Some(p) => p.project(weights, dst),
            None => {
                for (d, v) in dst.iter_mut().zip(weights.iter().flat_map(|w| w.iter())) {
                    *d = Real::to_f64(*v) as f32;
                }
            }
        }
    }
}

/// How one epoch of training is computed. The epoch loop in [`run`] owns evaluation,
/// divergence, early stopping and snapshots; an engine owns the weights.
pub(crate) trait Engine<T: Real> {
    /// One epoch of updates over the training rows in `order` (ignored by full batch).
    fn train_epoch(&mut self, order: &[usize]);
    /// Network outputs for every evaluation row (training, validation, test rows) with
    /// the current weights.
    fn evaluate(&mut self) -> ArrayView1<'_, T>;
    /// False once any weight is NaN or infinite.
    fn finite(&self) -> bool;
    /// The current weights, one matrix per layer.
    fn weights(&mut self) -> &[Array2<T>];
    fn into_weights(self: Box<Self>) -> Vec<Array2<T>>;
}

/// The study's computation: every step multiplies the batch by the first layer.
struct Direct<'a, T: Real> {
    mlp: Mlp<T>,
    opt: Box<dyn Optimizer<T>>,
    x_eval: ArrayView2<'a, T>,
    y_train: ArrayView1<'a, T>,
    n_train: usize,
    full_batch: bool,
    ws_eval: Workspace<T>,
    ws: Workspace<T>,
    xb: Array2<T>,
    yb: Array1<T>,
    grads: Vec<Array2<T>>,
    /// True while `ws_eval` holds activations of the current weights.
    eval_fresh: bool,
}

impl<'a, T: Real> Direct<'a, T> {
    fn new(
        mlp: Mlp<T>,
        cfg: &TrainConfig,
        x_eval: ArrayView2<'a, T>,
        y_train: ArrayView1<'a, T>,
        batch: usize,
    ) -> Self {
        let d = x_eval.ncols();
        Direct {
            opt: cfg.optimizer.build::<T>(),
            ws_eval: Workspace::new(&mlp, x_eval.nrows()),
            ws: Workspace::new(&mlp, batch),
            xb: Array2::zeros((batch, d)),
            yb: Array1::zeros(batch),
            grads: mlp.zero_grads(),
            mlp,
            x_eval,
            y_train,
            n_train: y_train.len(),
            full_batch: cfg.optimizer.full_batch(),
            eval_fresh: false,
        }
    }
}

impl<T: Real> Engine<T> for Direct<'_, T> {
    fn train_epoch(&mut self, order: &[usize]) {
        let x_train = self.x_eval.slice_move(s![..self.n_train, ..]);
        if self.full_batch {
            // The last evaluation already ran the training rows through these weights.
            if !self.eval_fresh {
                self.mlp.forward(self.x_eval, &mut self.ws_eval);
            }
            self.ws_eval.truncate(self.n_train);
            self.mlp
                .backward(x_train, self.y_train, &mut self.ws_eval, &mut self.grads);
            self.opt.step(self.mlp.weights_mut(), &self.grads);
        } else {
            let batch = self.xb.nrows();
            for chunk in order.chunks(batch) {
                let b = chunk.len();
                copy_rows(x_train, chunk, &mut self.xb.slice_mut(s![..b, ..]));
                for (k, &r) in chunk.iter().enumerate() {
                    self.yb[k] = self.y_train[r];
                }
                let (xv, yv) = (self.xb.slice(s![..b, ..]), self.yb.slice(s![..b]));
                if self.eval_fresh {
                    // The first batch's rows went through these weights in the last
                    // evaluation (training rows come first there).
                    self.ws.gather(&self.ws_eval, chunk);
                    self.eval_fresh = false;
                } else {
                    self.mlp.forward(xv, &mut self.ws);
                }
                self.mlp.backward(xv, yv, &mut self.ws, &mut self.grads);
                self.opt.step(self.mlp.weights_mut(), &self.grads);
            }
        }
        self.eval_fresh = false;
    }

    fn evaluate(&mut self) -> ArrayView1<'_, T> {
        self.mlp.forward(self.x_eval, &mut self.ws_eval);
        self.eval_fresh = true;
        self.ws_eval.output()
    }

    fn finite(&self) -> bool {
        all_finite(self.mlp.weights())
    }

    fn weights(&mut self) -> &[Array2<T>] {
        self.mlp.weights()
    }

    fn into_weights(self: Box<Self>) -> Vec<Array2<T>> {
        self.mlp.into_weights()
    }
}

/// The epoch loop shared by seeded and injected runs. `next_order(order, epoch)` fills
/// `order` (capacity = training rows) with that epoch's permutation.
fn run<T: Real>(
    data: &Dataset<'_, T>,
    cfg: &TrainConfig,
    rows: &[usize],
    val_rows: &[usize],
    mlp: Mlp<T>,
    mut next_order: impl FnMut(&mut Vec<usize>, usize),
    on_epoch: &dyn Fn(usize),
) -> Result<RunResult<T>, TrainError> {
    let n_train = rows.len();
    let n_val = val_rows.len();
    let n_test = data.x_test.nrows();
    let d = data.x_train.ncols();

    // Training rows, then validation rows, then test rows: one product evaluates all.
    let mut x_eval = Array2::<T>::zeros((n_train + n_val + n_test, d));
    copy_rows(data.x_train, rows, &mut x_eval.slice_mut(s![..n_train, ..]));
    copy_rows(
        data.x_train,
        val_rows,
        &mut x_eval.slice_mut(s![n_train..n_train + n_val, ..]),
    );
    x_eval
        .slice_mut(s![n_train + n_val.., ..])
        .assign(&data.x_test);
    let y_train: Array1<T> = rows.iter().map(|&r| data.y_train[r]).collect();
    let y_val: Array1<T> = val_rows.iter().map(|&r| data.y_train[r]).collect();

    let full_batch = cfg.optimizer.full_batch();
    let batch = if full_batch {
        n_train
    } else {
        cfg.batch_size.min(n_train)
    };
    let n_params = mlp.n_params();
    let mut engine: Box<dyn Engine<T> + '_> = if use_row_space(cfg, &mlp, x_eval.nrows(), n_train) {
        Box::new(RowSpace::new(
            mlp,
            &cfg.optimizer,
            x_eval.view(),
            y_train.view(),
            batch,
        ))
    } else {
        Box::new(Direct::new(mlp, cfg, x_eval.view(), y_train.view(), batch))
    };
    let mut recorder = Recorder::new(cfg.snapshots.as_ref(), n_params);
    if let Some(r) = &mut recorder {
        r.record(0, engine.weights());
    }

    let mut order = Vec::with_capacity(n_train);
    let mut curves = Vec::with_capacity(cfg.epochs);
    let mut test_scores = Array1::<T>::zeros(n_test);
    let mut status = RunStatus::Completed;
    let mut train_secs = 0.0;
    let mut best: Option<f64> = None;
    let mut since_best = 0usize;

    for epoch in 0..cfg.epochs {
        on_epoch(epoch);
        let t0 = Instant::now();
        if !full_batch {
            next_order(&mut order, epoch);
        }
        engine.train_epoch(&order);
        train_secs += t0.elapsed().as_secs_f64();

        if !engine.finite() {
            status = RunStatus::Diverged(epoch + 1);
            break;
        }
        let out = engine.evaluate();
        let (train_mse, train_acc) = score(out.slice(s![..n_train]), y_train.view());
        if !train_mse.is_finite() {
            status = RunStatus::Diverged(epoch + 1);
            break;
        }
        let (test_mse, test_acc) = score(out.slice(s![n_train + n_val..]), data.y_test);
        let (val_mse, val_acc) = if n_val > 0 {
            let (m, a) = score(out.slice(s![n_train..n_train + n_val]), y_val.view());
            (Some(m), Some(a))
        } else {
            (None, None)
        };
        test_scores.assign(&out.slice(s![n_train + n_val..]));
        curves.push(EpochRecord {
            epoch: epoch + 1,
            train_mse,
            train_acc,
            test_mse,
            test_acc,
            val_mse,
            val_acc,
            elapsed_s: train_secs,
        });
        let last = epoch + 1 == cfg.epochs;
        let mut stop = false;
        if let (Some(es), Some(vm), Some(va)) = (&cfg.early_stopping, val_mse, val_acc) {
            // Lower is better for both after negating accuracy.
            let value = match es.metric {
                StopMetric::ValMse => vm,
                StopMetric::ValAccuracy => -va,
            };
            if best.is_none_or(|b| value < b - es.min_delta) {
                best = Some(value);
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= es.patience && !last {
                    status = RunStatus::EarlyStopped(epoch + 1);
                    stop = true;
                }
            }
        }
        if let Some(r) = &mut recorder {
            if (epoch + 1) % r.every == 0 || last || stop {
                r.record(epoch + 1, engine.weights());
            }
        }
        if stop {
            break;
        }
    }

    Ok(RunResult {
        curves,
        snapshots: recorder.map(|r| r.out).unwrap_or_default(),
        weights: engine.into_weights(),
        test_scores,
        status,
        train_rows: n_train,
    })
}

/// Whether the first layer runs in the training rows' span ([`RowSpace`]): only for
/// optimizers whose updates are linear in the gradients, the study's bias column, at
/// least one hidden layer, fewer training rows than features, and a kernel matrix of at
/// most 16 M entries.
fn use_row_space<T: Real>(cfg: &TrainConfig, mlp: &Mlp<T>, n_eval: usize, n_train: usize) -> bool {
    let eligible = cfg.optimizer.is_linear()
        && mlp.bias() == BiasMode::InputColumn
        && mlp.n_layers() >= 2
        && n_train < mlp.sizes()[0]
        && n_eval * n_train <= 16 << 20;
    match cfg.first_layer {
        FirstLayer::Direct => false,
        FirstLayer::Auto => eligible,
    }
}

/// Raw outputs of a trained network on `x` (for scoring final weights elsewhere).
pub fn predict<T: Real>(
    sizes: &[usize],
    bias: BiasMode,
    weights: &[Array2<T>],
    x: ArrayView2<'_, T>,
) -> Result<Array1<T>, TrainError> {
    let mlp = Mlp::from_weights(sizes, bias, weights.to_vec())?;
    Ok(mlp.predict(x))
}
