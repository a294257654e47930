//! Training benchmark: the study's core experiment and its grid, timed (not a test).
//!
//! Run through `scripts/bench-train.sh`, which also times the numpy reference on the
//! same shapes and prints the ratios. Alone:
//! `cargo run --release --example bench_train -- [--threads N] [--repeat K] [--only f32,f64]
//! [--tasks core,grid] [--json OUT]`.
//!
//! Data: the shapes of seed_ref.py's `_bench_data` (100 train and 100 test rows of two
//! unit-norm 1024-d blocks plus a ones column = 2049 features, labels alternating +1/-1),
//! drawn with our own RNG (values do not change the work).

use std::time::Instant;

use ndarray::{Array1, Array2};
use qa_pipe::ml::optim::OptimizerSpec;
use qa_pipe::ml::real::Real;
use qa_pipe::ml::rng::stream;
use qa_pipe::ml::train::{train, Dataset, RunResult, TrainConfig};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

const SEEDS: [u64; 5] = [42, 10, 2024, 7, 99];

fn e5_like(n: usize, seed: u64) -> Array2<f64> {
    let mut rng = stream(seed, "bench-data");
    let mut x = Array2::<f64>::zeros((n, 2049));
    for mut row in x.rows_mut() {
        for block in [0..1024, 1024..2048] {
            let mut s = row.slice_mut(ndarray::s![block]);
            s.mapv_inplace(|_| rng.sample(StandardNormal));
            let norm = s.mapv(|v| v * v).sum().sqrt();
            s /= norm;
        }
        row[2048] = 1.0;
    }
    x
}

struct Data<T> {
    xtr: Array2<T>,
    ytr: Array1<T>,
    xte: Array2<T>,
    yte: Array1<T>,
}

fn data<T: Real>() -> Data<T> {
    let y = Array1::from_shape_fn(100, |i| if i % 2 == 0 { 1.0 } else { -1.0 });
    Data {
        xtr: e5_like(100, 0).mapv(T::from_f64),
        ytr: y.mapv(T::from_f64),
        xte: e5_like(100, 1).mapv(T::from_f64),
        yte: y.mapv(T::from_f64),
    }
}

fn run_all<T: Real>(d: &Data<T>, cfgs: &[(TrainConfig, u64)]) -> Vec<RunResult<T>> {
    let ds = Dataset {
        x_train: d.xtr.view(),
        y_train: d.ytr.view(),
        x_test: d.xte.view(),
        y_test: d.yte.view(),
        groups: None,
    };
    cfgs.par_iter()
        .map(|(c, s)| train(&ds, c, *s).expect("bench run"))
        .collect()
}

fn core_cfgs() -> Vec<(TrainConfig, u64)> {
    let mut v = Vec::new();
    for opt in ["gd", "sgd", "adam"] {
        for s in SEEDS {
            let cfg = TrainConfig {
                hidden: vec![64],
                optimizer: OptimizerSpec::from_name(opt).unwrap(),
                epochs: 100,
                batch_size: 32,
                ..TrainConfig::default()
            };
            v.push((cfg, s));
        }
    }
    v
}

fn grid_cfgs() -> Vec<(TrainConfig, u64)> {
    let mut v = Vec::new();
    for h in [32, 64, 128] {
        for lr in [0.1, 0.01, 0.001, 0.0001] {
            for s in SEEDS {
                let mut opt = OptimizerSpec::from_name("adam").unwrap();
                opt.set_lr(lr);
                let cfg = TrainConfig {
                    hidden: vec![h],
                    optimizer: opt,
                    epochs: 30,
                    batch_size: 32,
                    ..TrainConfig::default()
                };
                v.push((cfg, s));
            }
        }
    }
    v
}

/// Median wall seconds of `repeat` runs, and the mean final test accuracy (a sanity
/// check that the benchmark trains).
fn time<T: Real>(d: &Data<T>, cfgs: &[(TrainConfig, u64)], repeat: usize) -> (f64, f64) {
    let mut ts = Vec::new();
    let mut acc = 0.0;
    for _ in 0..repeat {
        let t0 = Instant::now();
        let rs = run_all(d, cfgs);
        ts.push(t0.elapsed().as_secs_f64());
        acc = rs
            .iter()
            .map(|r| r.curves.last().unwrap().test_acc)
            .sum::<f64>()
            / rs.len() as f64;
    }
    ts.sort_by(f64::total_cmp);
    (ts[ts.len() / 2], acc)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .map(|i| args[i + 1].clone())
    };
    let threads: usize = arg("--threads").map_or(2, |v| v.parse().unwrap());
    let repeat: usize = arg("--repeat").map_or(3, |v| v.parse().unwrap());
    let only = arg("--only").unwrap_or_else(|| "f32,f64".into());
    let tasks = arg("--tasks").unwrap_or_else(|| "core,grid".into());
    let want = |t: &str| tasks.split(',').any(|x| x == t);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut out = serde_json::Map::new();
    pool.install(|| {
        for prec in only.split(',') {
            fn both<T: Real>(repeat: usize, core: bool, grid: bool) -> ((f64, f64), (f64, f64)) {
                let d = data::<T>();
                let skip = (f64::NAN, f64::NAN);
                (
                    if core { time(&d, &core_cfgs(), repeat) } else { skip },
                    if grid { time(&d, &grid_cfgs(), repeat) } else { skip },
                )
            }
            let (core, grid) = match prec {
                "f32" => both::<f32>(repeat, want("core"), want("grid")),
                "f64" => both::<f64>(repeat, want("core"), want("grid")),
                other => panic!("unknown precision {other}"),
            };
            println!(
                "qa-pipe {prec} threads={threads}: core {:.3} s (mean final test acc {:.3}), grid {:.3} s (acc {:.3})",
                core.0, core.1, grid.0, grid.1
            );
            if want("core") {
                out.insert(format!("core_{prec}"), core.0.into());
            }
            if want("grid") {
                out.insert(format!("grid_{prec}"), grid.0.into());
            }
        }
    });
    if let Some(p) = arg("--json") {
        std::fs::write(p, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    }
}
