//! Test helpers for stage tests: a throwaway artifact store, and synthetic training
//! curves, sweep results and weight trajectories shaped like the `train` stage's tables.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arrow::array::{
    ArrayRef, Float32Builder, Float64Array, ListBuilder, RecordBatch, StringArray, UInt32Array,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::{RunCx, Stage};
use crate::cache::{Artifact, Cache, Meta, Output};

pub const OPTIMIZERS: [&str; 3] = ["gd", "sgd", "adam"];
pub const SEEDS: [u32; 3] = [42, 10, 7];

pub struct Store {
    pub dir: tempfile::TempDir,
    pub cache: Cache,
}

impl Store {
    pub fn new() -> Store {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(&dir.path().join("artifacts")).expect("cache");
        Store { dir, cache }
    }

    /// Stores `out` as the artifact of stage `name`, reading the given upstream artifacts.
    pub fn put(
        &self,
        name: &str,
        kind: &str,
        upstream: &[&Artifact],
        out: Output,
    ) -> Arc<Artifact> {
        let params = serde_json::json!({ "made_by": "testkit", "stage": name });
        self.put_with_params(name, kind, upstream, params, out)
    }

    /// [`Store::put`] with the params its manifest records.
    pub fn put_with_params(
        &self,
        name: &str,
        kind: &str,
        upstream: &[&Artifact],
        params: serde_json::Value,
        out: Output,
    ) -> Arc<Artifact> {
        let mut inputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for a in upstream {
            inputs
                .entry("in".into())
                .or_default()
                .push(a.key().to_string());
        }
        let key = blake3::hash(format!("{name}/{kind}/{inputs:?}/{params}").as_bytes())
            .to_hex()
            .to_string();
        let meta = Meta {
            key,
            kind: kind.into(),
            version: 1,
            stage: name.into(),
            pipeline: String::new(),
            unit: None,
            params,
            inputs,
            files: BTreeMap::new(),
            duration_s: 1.5,
            replace: false,
        };
        Arc::new(self.cache.store(meta, out).expect("store"))
    }

    /// Runs `stage` as stage `name` with `inputs` bound by role.
    pub fn run(
        &self,
        stage: &dyn Stage,
        name: &str,
        inputs: &[(&str, Vec<Arc<Artifact>>)],
    ) -> anyhow::Result<Output> {
        let map: BTreeMap<String, Vec<Arc<Artifact>>> = inputs
            .iter()
            .map(|(r, a)| (r.to_string(), a.clone()))
            .collect();
        let notes = Mutex::new(Vec::new());
        let cx = RunCx {
            stage: name,
            root: self.dir.path(),
            inputs: &map,
            notes: &notes,
            ticks: &crate::progress::NoTicks,
        };
        stage.run(&cx, &[])
    }
}

/// Test accuracy of optimizer `o` (index), seed `s` (index) at epoch `e`.
pub fn test_acc(o: usize, s: usize, e: usize) -> f64 {
    0.5 + 0.1 * (o + 1) as f64 * (1.0 - (-0.1 * e as f64).exp()) + 0.01 * s as f64
}

/// Long curves: optimizer, seed, epoch, metrics; `extra` adds a fraction column per block.
pub fn curves(epochs: usize, fractions: &[f64]) -> RecordBatch {
    let (mut opt, mut seed, mut epoch, mut frac) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut tr_mse, mut tr_acc, mut te_mse, mut te_acc, mut el) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let fr: Vec<f64> = if fractions.is_empty() {
        vec![1.0]
    } else {
        fractions.to_vec()
    };
    for (fi, &f) in fr.iter().enumerate() {
        for (o, name) in OPTIMIZERS.iter().enumerate() {
            for (s, &sd) in SEEDS.iter().enumerate() {
                for e in 1..=epochs {
                    opt.push(*name);
                    seed.push(sd);
                    epoch.push(e as u32);
                    frac.push(f);
                    let rate = 0.05 * (o + 1) as f64;
                    tr_mse.push((-rate * e as f64).exp() + 0.01 * s as f64);
                    tr_acc.push((test_acc(o, s, e) + 0.1).min(1.0));
                    te_mse.push((-rate * e as f64).exp() + 0.1);
                    te_acc.push(test_acc(o, s, e) - 0.02 * fi as f64);
                    el.push(0.01 * e as f64 * (o + 1) as f64);
                }
            }
        }
    }
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("optimizer", Arc::new(StringArray::from(opt))),
        ("seed", Arc::new(UInt32Array::from(seed))),
        ("epoch", Arc::new(UInt32Array::from(epoch))),
        ("train_mse", Arc::new(Float64Array::from(tr_mse))),
        ("train_acc", Arc::new(Float64Array::from(tr_acc))),
        ("test_mse", Arc::new(Float64Array::from(te_mse))),
        ("test_acc", Arc::new(Float64Array::from(te_acc))),
        ("elapsed_s", Arc::new(Float64Array::from(el))),
    ];
    if !fractions.is_empty() {
        cols.push(("fraction", Arc::new(Float64Array::from(frac))));
    }
    RecordBatch::try_from_iter(cols).expect("curves batch")
}

/// A sweep: hidden x lr x seed, final accuracy only.
pub fn sweep() -> RecordBatch {
    let (mut h, mut lr, mut seed, mut acc) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &hd in &[32u32, 64, 128] {
        for &l in &[0.1f64, 0.01, 0.001, 0.0001] {
            for &s in &SEEDS {
                h.push(hd);
                lr.push(l);
                seed.push(s);
                acc.push(0.5 + 0.1 * l.log10().abs() / (hd as f64 / 32.0));
            }
        }
    }
    RecordBatch::try_from_iter(vec![
        ("hidden", Arc::new(UInt32Array::from(h)) as ArrayRef),
        ("lr", Arc::new(Float64Array::from(lr)) as ArrayRef),
        ("seed", Arc::new(UInt32Array::from(seed)) as ArrayRef),
        ("test_acc", Arc::new(Float64Array::from(acc)) as ArrayRef),
    ])
    .expect("sweep batch")
}

/// Weight snapshots: per optimizer and seed a random walk of `epochs + 1` points in
/// `dim` dimensions from a seed-specific start; SGD's steps are noisier.
pub fn snapshots(epochs: usize, dim: usize) -> RecordBatch {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let start = Normal::new(0.0f64, 1.0).expect("normal");
    let (mut opt, mut seed, mut epoch) = (Vec::new(), Vec::new(), Vec::new());
    let mut w = ListBuilder::new(Float32Builder::new());
    for (o, name) in OPTIMIZERS.iter().enumerate() {
        for &sd in &SEEDS {
            let mut p: Vec<f64> = (0..dim).map(|_| start.sample(&mut rng)).collect();
            let drift: Vec<f64> = (0..dim).map(|_| start.sample(&mut rng) * 0.05).collect();
            let noise = Normal::new(0.0, if o == 1 { 0.04 } else { 0.01 }).expect("normal");
            for e in 0..=epochs {
                opt.push(*name);
                seed.push(sd);
                epoch.push(e as u32);
                w.values()
                    .append_slice(&p.iter().map(|&v| v as f32).collect::<Vec<_>>());
                w.append(true);
                for (v, d) in p.iter_mut().zip(&drift) {
                    *v += d + noise.sample(&mut rng);
                }
            }
        }
    }
    RecordBatch::try_from_iter(vec![
        ("optimizer", Arc::new(StringArray::from(opt)) as ArrayRef),
        ("seed", Arc::new(UInt32Array::from(seed)) as ArrayRef),
        ("epoch", Arc::new(UInt32Array::from(epoch)) as ArrayRef),
        ("weights", Arc::new(w.finish()) as ArrayRef),
    ])
    .expect("snapshots batch")
}
