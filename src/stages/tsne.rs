//! `tsne`: every weight snapshot of every run (all optimizers and seeds together, so their
//! paths share one map), reduced by PCA (50 dimensions by default) and embedded in 2-D
//! with t-SNE.
//!
//! Input table (default `snapshots`), one row per snapshot: identifier columns (text or
//! integers, e.g. `run_id`, `optimizer`, `seed`, `epoch`) and the weights, either as a
//! list column of f32/f64 (default name `weights`, List or FixedSizeList) or as wide
//! float columns `w0`, `w1`, ... . Output table `coords`: the identifier columns as they
//! came, plus `x` and `y`, rows in input order; table `summary`: one row with the
//! embedding's size, method, KL divergence and trustworthiness.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::DataType;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::columns::{float_lists, is_identifier, Named};
use super::curves;
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::ml::{pca, tsne};

pub const KIND: Kind = Kind {
    name: "tsne",
    // 2: PCA by faer's eigendecomposition instead of the hand-written solver; the
    // coordinates differ from version 1's in rounding.
    version: 2,
    summary: "t-SNE of weight snapshots (PCA first), all runs embedded together",
    inputs: &[Role::one("snapshots")],
    build: build_with::<Params>,
};

/// Above this many points trustworthiness (O(N^2 log N)) is not computed.
const TRUST_MAX_POINTS: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Auto {
    Auto,
}

/// `auto` (sklearn's max(N / early_exaggeration / 4, 50)) or a number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LearningRate {
    Auto(Auto),
    Value(f64),
}

impl Default for LearningRate {
    fn default() -> Self {
        LearningRate::Auto(Auto::Auto)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodParam {
    /// Exact gradient up to `ml::tsne::EXACT_MAX_POINTS` points, Barnes-Hut above.
    #[default]
    Auto,
    Exact,
    BarnesHut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitParam {
    #[default]
    Pca,
    Random,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Table of the input artifact holding the snapshots.
    #[serde(default = "default_table")]
    pub table: String,
    /// List column holding each snapshot; when absent, wide columns w0, w1, ... are read.
    #[serde(default = "default_column")]
    pub column: String,
    /// PCA dimensions before t-SNE; 0 skips PCA.
    #[serde(default = "default_pca")]
    pub pca_dims: usize,
    #[serde(default = "default_perplexity")]
    pub perplexity: f64,
    #[serde(default)]
    pub learning_rate: LearningRate,
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    #[serde(default = "default_exaggeration")]
    pub early_exaggeration: f64,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub method: MethodParam,
    /// Barnes-Hut opening angle.
    #[serde(default = "default_theta")]
    pub theta: f64,
    #[serde(default)]
    pub init: InitParam,
}

fn default_table() -> String {
    curves::SNAPSHOTS.into()
}
fn default_column() -> String {
    curves::SNAPSHOT_WEIGHTS.into()
}
fn default_pca() -> usize {
    50
}
fn default_perplexity() -> f64 {
    30.0
}
fn default_iterations() -> usize {
    1000
}
fn default_exaggeration() -> f64 {
    12.0
}
fn default_theta() -> f64 {
    0.5
}

impl Params {
    fn tsne_params(&self) -> tsne::TsneParams {
        tsne::TsneParams {
            perplexity: self.perplexity,
            early_exaggeration: self.early_exaggeration,
            learning_rate: match self.learning_rate {
                LearningRate::Auto(_) => tsne::LearningRate::Auto,
                LearningRate::Value(v) => tsne::LearningRate::Fixed(v),
            },
            max_iter: self.iterations,
            method: match self.method {
                MethodParam::Auto => tsne::Method::Auto,
                MethodParam::Exact => tsne::Method::Exact,
                MethodParam::BarnesHut => tsne::Method::BarnesHut,
            },
            theta: self.theta,
            init: match self.init {
                InitParam::Pca => tsne::Init::Pca,
                InitParam::Random => tsne::Init::Random,
            },
            seed: self.seed,
            ..tsne::TsneParams::default()
        }
    }
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if self.perplexity.is_nan() || self.perplexity <= 0.0 {
            return Err(cx
                .error("perplexity", "perplexity must be above 0")
                .help("5 to 50 is usual; 30 is sklearn's default"));
        }
        if self.iterations < 250 {
            return Err(cx
                .error(
                    "iterations",
                    "iterations must be at least 250 (the early exaggeration phase)",
                )
                .help("1000 is sklearn's default"));
        }
        if self.early_exaggeration.is_nan() || self.early_exaggeration < 1.0 {
            return Err(cx.error(
                "early_exaggeration",
                "early_exaggeration must be at least 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.theta) {
            return Err(cx.error("theta", "theta must be between 0 and 1 (0.5 is usual)"));
        }
        if let LearningRate::Value(v) = self.learning_rate {
            if !(v > 0.0 && v.is_finite()) {
                return Err(cx.error(
                    "learning_rate",
                    "learning_rate must be a positive number or `auto`",
                ));
            }
        }
        Ok(Box::new(Tsne { p: self }))
    }
}

pub(super) struct Tsne {
    p: Params,
}

#[cfg(test)]
impl Tsne {
    pub(super) fn new(p: Params) -> Tsne {
        Tsne { p }
    }
}

/// The snapshot matrix (n x d, f32) and the identifier columns to carry through.
/// Named columns carried from input to output.
type Columns = Vec<(String, ArrayRef)>;

fn read_snapshots(t: &Named<'_>, column: &str) -> Result<(Array2<f32>, Columns)> {
    let schema = t.batch.schema();
    let n = t.batch.num_rows();
    let (data, dim, weight_cols): (Vec<f32>, usize, Vec<String>) = if t.has(column) {
        let (data, dim) = float_lists(t, column)?;
        (data, dim, vec![column.to_string()])
    } else {
        let mut wide: Vec<(usize, String)> = schema
            .fields()
            .iter()
            .filter(|f| matches!(f.data_type(), DataType::Float32 | DataType::Float64))
            .filter_map(|f| {
                let idx = f.name().strip_prefix('w')?.parse::<usize>().ok()?;
                Some((idx, f.name().clone()))
            })
            .collect();
        if wide.is_empty() {
            bail!(
                "{} has neither a list column `{column}` nor wide weight columns w0, w1, ...; \
                 set `column:` to the column holding each snapshot",
                t.what
            );
        }
        wide.sort();
        let dim = wide.len();
        let cols: Vec<Vec<f64>> = wide
            .iter()
            .map(|(_, name)| t.f64s(name))
            .collect::<Result<_>>()?;
        let mut data = vec![0f32; n * dim];
        for (j, c) in cols.iter().enumerate() {
            for (i, v) in c.iter().enumerate() {
                data[i * dim + j] = *v as f32;
            }
        }
        (data, dim, wide.into_iter().map(|(_, name)| name).collect())
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: snapshot row {} holds a non-finite weight (NaN or infinity); was that run diverging?",
            t.what,
            i / dim.max(1)
        );
    }
    let ids: Vec<(String, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(t.batch.columns())
        .filter(|(f, _)| is_identifier(f.data_type()) && !weight_cols.contains(f.name()))
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    let x = Array2::from_shape_vec((n, dim), data).context("snapshot matrix shape")?;
    Ok((x, ids))
}

impl Stage for Tsne {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let input = cx.input("snapshots")?;
        let batch = input.table(&self.p.table)?;
        let t = Named::new(
            &batch,
            format!("table `{}` of the `snapshots` input", self.p.table),
        );
        let (x, ids) = read_snapshots(&t, &self.p.column)?;
        let (n, d) = x.dim();
        if n < 3 {
            bail!("t-SNE needs at least 3 snapshots, {} has {n}", t.what);
        }
        if self.p.perplexity >= n as f64 {
            bail!(
                "perplexity {} is not below the number of snapshots ({n}); lower `perplexity`",
                self.p.perplexity
            );
        }
        let k = self.p.pca_dims.min(n).min(d);
        let reduced = if self.p.pca_dims > 0 && d > k {
            pca::fit_transform(x.view(), k)
                .with_context(|| format!("PCA of {n} snapshots x {d} weights to {k} dimensions"))?
                .scores
        } else {
            x.mapv(f64::from)
        };
        let iterations = self.p.iterations as u64;
        cx.tick("iterations", 0, iterations);
        let tick = |i: usize| cx.tick("iterations", (i as u64).min(iterations), iterations);
        let r = tsne::fit_observed(reduced.view(), &self.p.tsne_params(), &tick)
            .with_context(|| format!("t-SNE of {n} snapshots"))?;
        cx.tick("iterations", iterations, iterations);
        let trust = if n <= TRUST_MAX_POINTS && n > 10 {
            Some(tsne::trustworthiness(
                reduced.view(),
                r.embedding.view(),
                5,
            )?)
        } else {
            None
        };

        let mut cols: Vec<(String, ArrayRef)> = ids;
        cols.push((
            "x".into(),
            Arc::new(Float64Array::from(r.embedding.column(0).to_vec())),
        ));
        cols.push((
            "y".into(),
            Arc::new(Float64Array::from(r.embedding.column(1).to_vec())),
        ));
        let coords = RecordBatch::try_from_iter(cols)?;
        let method = match r.method {
            tsne::Method::Exact => "exact",
            _ => "barnes_hut",
        };
        let summary = RecordBatch::try_from_iter(vec![
            (
                "points",
                Arc::new(UInt64Array::from(vec![n as u64])) as ArrayRef,
            ),
            (
                "weights",
                Arc::new(UInt64Array::from(vec![d as u64])) as ArrayRef,
            ),
            (
                "pca_dims",
                Arc::new(UInt64Array::from(vec![reduced.ncols() as u64])) as ArrayRef,
            ),
            (
                "method",
                Arc::new(StringArray::from(vec![method])) as ArrayRef,
            ),
            (
                "learning_rate",
                Arc::new(Float64Array::from(vec![r.learning_rate])) as ArrayRef,
            ),
            (
                "iterations_run",
                Arc::new(UInt64Array::from(vec![r.n_iter as u64 + 1])) as ArrayRef,
            ),
            (
                "kl_divergence",
                Arc::new(Float64Array::from(vec![r.kl_divergence])) as ArrayRef,
            ),
            (
                "trustworthiness_5",
                Arc::new(Float64Array::from(vec![trust])) as ArrayRef,
            ),
        ])?;
        let mut out = Output::default();
        out.notes.push(format!(
            "embedded {n} snapshots of {d} weights (PCA to {}), {method}: KL {:.4}{}",
            reduced.ncols(),
            r.kl_divergence,
            trust
                .map(|t| format!(", trustworthiness@5 {t:.3}"))
                .unwrap_or_default()
        ));
        Ok(out.table("coords", coords).table("summary", summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{FixedSizeListBuilder, Float32Array, Float32Builder, UInt32Array};

    fn wide_batch() -> RecordBatch {
        let mut cols: Vec<(String, ArrayRef)> = vec![
            (
                "optimizer".into(),
                Arc::new(StringArray::from(vec!["gd", "gd", "adam"])) as ArrayRef,
            ),
            (
                "epoch".into(),
                Arc::new(UInt32Array::from(vec![0, 1, 0])) as ArrayRef,
            ),
            (
                "test_acc".into(),
                Arc::new(Float64Array::from(vec![0.5, 0.6, 0.7])) as ArrayRef,
            ),
        ];
        // Deliberately out of order: w10 must come after w2.
        for j in [10usize, 0, 2, 1, 3, 4, 5, 6, 7, 8, 9] {
            cols.push((
                format!("w{j}"),
                Arc::new(Float32Array::from(vec![
                    j as f32,
                    1.0 + j as f32,
                    2.0 * j as f32,
                ])),
            ));
        }
        RecordBatch::try_from_iter(cols).unwrap()
    }

    #[test]
    fn wide_columns_are_read_in_numeric_order_and_ids_carried() {
        let b = wide_batch();
        let (x, ids) = read_snapshots(&Named::new(&b, "t"), "weights").unwrap();
        assert_eq!(x.dim(), (3, 11));
        assert_eq!(
            x.row(1).to_vec(),
            (0..11).map(|j| 1.0 + j as f32).collect::<Vec<_>>()
        );
        let names: Vec<&str> = ids.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec!["optimizer", "epoch"],
            "float metric columns are not identifiers"
        );
    }

    #[test]
    fn list_column_layout_and_clear_errors() {
        let mut fb = FixedSizeListBuilder::new(Float32Builder::new(), 3);
        for r in 0..4 {
            fb.values().append_slice(&[r as f32, 0.5, -1.0]);
            fb.append(true);
        }
        let b = RecordBatch::try_from_iter(vec![
            (
                "seed",
                Arc::new(UInt32Array::from(vec![1, 1, 2, 2])) as ArrayRef,
            ),
            ("weights", Arc::new(fb.finish()) as ArrayRef),
        ])
        .unwrap();
        let (x, ids) = read_snapshots(&Named::new(&b, "t"), "weights").unwrap();
        assert_eq!(x.dim(), (4, 3));
        assert_eq!(ids.len(), 1);
        let err = read_snapshots(&Named::new(&b, "table `snapshots`"), "w")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("neither a list column `w` nor wide weight columns"),
            "{err}"
        );
    }

    #[test]
    fn stage_embeds_all_runs_jointly_and_keeps_runs_apart() {
        use crate::stages::testkit::{snapshots, Store};
        let store = Store::new();
        let snaps = store.put(
            "train",
            "train",
            &[],
            Output::default().table("snapshots", snapshots(20, 300)),
        );
        let p: Params = serde_json::from_value(serde_json::json!({ "perplexity": 10 })).unwrap();
        let out = store
            .run(&Tsne { p }, "tsne", &[("snapshots", vec![snaps])])
            .unwrap();
        let coords = &out.tables.iter().find(|(n, _)| n == "coords").unwrap().1;
        assert_eq!(coords.num_rows(), 3 * 3 * 21);
        let names: Vec<String> = coords
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, vec!["optimizer", "seed", "epoch", "x", "y"]);
        let t = Named::new(coords, "coords");
        let (x, y) = (t.f64s("x").unwrap(), t.f64s("y").unwrap());
        let run: Vec<String> = t
            .strings("optimizer")
            .unwrap()
            .iter()
            .zip(t.strings("seed").unwrap())
            .map(|(o, s)| format!("{o}/{s}"))
            .collect();
        // Each run starts from its own random point: in the map, a point's nearest
        // neighbour nearly always belongs to the same run.
        let n = x.len();
        let same = (0..n)
            .filter(|&i| {
                let j = (0..n)
                    .filter(|&j| j != i)
                    .min_by(|&a, &b| {
                        let da = (x[a] - x[i]).powi(2) + (y[a] - y[i]).powi(2);
                        let db = (x[b] - x[i]).powi(2) + (y[b] - y[i]).powi(2);
                        da.total_cmp(&db)
                    })
                    .unwrap();
                run[i] == run[j]
            })
            .count();
        assert!(
            same as f64 / n as f64 > 0.95,
            "{same}/{n} nearest neighbours in the same run"
        );
        let summary = &out.tables.iter().find(|(n, _)| n == "summary").unwrap().1;
        let s = Named::new(summary, "summary");
        assert_eq!(s.f64s("pca_dims").unwrap(), vec![50.0]);
        assert_eq!(s.strings("method").unwrap(), vec!["exact"]);
        assert!(s.f64s("trustworthiness_5").unwrap()[0] > 0.9);
        assert!(
            out.notes[0].contains("embedded 189 snapshots of 300 weights (PCA to 50)"),
            "{}",
            out.notes[0]
        );
    }

    #[test]
    fn learning_rate_param_takes_auto_or_a_number() {
        let p: Params =
            serde_json::from_value(serde_json::json!({ "learning_rate": "auto" })).unwrap();
        assert_eq!(p.learning_rate, LearningRate::Auto(Auto::Auto));
        let p: Params =
            serde_json::from_value(serde_json::json!({ "learning_rate": 200 })).unwrap();
        assert_eq!(p.learning_rate, LearningRate::Value(200.0));
        assert_eq!(
            serde_json::to_value(Params {
                learning_rate: LearningRate::default(),
                ..p
            })
            .unwrap()["learning_rate"],
            "auto"
        );
        assert!(
            serde_json::from_value::<Params>(serde_json::json!({ "learning_rate": "fast" }))
                .is_err()
        );
    }
}
