//! Training runs end to end on small data: determinism across repeats and thread counts,
//! the row-space first layer against the direct one, divergence, snapshots, training
//! fractions and early stopping.

use ndarray::{Array1, Array2};
use qa_pipe::ml::mlp::BiasMode;
use qa_pipe::ml::optim::OptimizerSpec;
use qa_pipe::ml::rng::{stream, RunKey};
use qa_pipe::ml::train::{
    select_fraction, train, train_injected, Dataset, EarlyStopping, FirstLayer, FractionMode,
    Injected, RunResult, RunStatus, SnapshotConfig, StopMetric, TrainConfig,
};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

struct Data {
    xtr: Array2<f64>,
    ytr: Array1<f64>,
    xte: Array2<f64>,
    yte: Array1<f64>,
    groups: Vec<u64>,
}

/// Rows [x, 1] with labels from a random linear rule (learnable), pairs share a group.
fn data(n_train: usize, n_test: usize, d: usize, scale: f64) -> Data {
    let mut rng = stream(7, "test-data");
    let w: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
    let mut make = |n: usize| {
        let mut x = Array2::<f64>::ones((n, d + 1));
        let mut y = Array1::<f64>::zeros(n);
        for i in 0..n {
            let mut dot = 0.0;
            for j in 0..d {
                let v: f64 = rng.sample(StandardNormal);
                x[[i, j]] = v * scale / (d as f64).sqrt();
                dot += v * w[j];
            }
            y[i] = if dot > 0.0 { 1.0 } else { -1.0 };
        }
        (x, y)
    };
    let (xtr, ytr) = make(n_train);
    let (xte, yte) = make(n_test);
    Data {
        xtr,
        ytr,
        xte,
        yte,
        groups: (0..n_train as u64).map(|i| i / 2).collect(),
    }
}

impl Data {
    fn view(&self) -> Dataset<'_, f64> {
        Dataset {
            x_train: self.xtr.view(),
            y_train: self.ytr.view(),
            x_test: self.xte.view(),
            y_test: self.yte.view(),
            groups: Some(&self.groups),
        }
    }
}

fn cfg(opt: &str, epochs: usize) -> TrainConfig {
    TrainConfig {
        hidden: vec![6],
        optimizer: OptimizerSpec::from_name(opt).unwrap(),
        epochs,
        batch_size: 8,
        ..TrainConfig::default()
    }
}

/// Everything but the timings.
fn numbers(r: &RunResult<f64>) -> impl PartialEq + std::fmt::Debug {
    let curves: Vec<_> = r
        .curves
        .iter()
        .map(|c| {
            (
                c.epoch,
                c.train_mse,
                c.train_acc,
                c.test_mse,
                c.test_acc,
                c.val_mse,
                c.val_acc,
            )
        })
        .collect();
    (
        curves,
        r.weights.clone(),
        r.test_scores.clone(),
        r.snapshots.clone(),
        r.status,
    )
}

#[test]
fn same_seed_same_bits_whatever_the_thread_count() {
    let d = data(30, 12, 10, 1.0);
    let jobs: Vec<(TrainConfig, u64)> = ["gd", "sgd", "momentum", "adam", "adagrad", "rmsprop"]
        .iter()
        .flat_map(|o| [1u64, 2].map(|s| (cfg(o, 15), s)))
        .collect();
    let run_in = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            jobs.par_iter()
                .map(|(c, s)| numbers(&train(&d.view(), c, *s).unwrap()))
                .collect::<Vec<_>>()
        })
    };
    let one = run_in(1);
    assert_eq!(one, run_in(2));
    assert_eq!(one, run_in(1));
    // Different seeds really differ.
    assert_ne!(one[0], one[1]);
}

#[test]
fn row_space_first_layer_matches_the_direct_one() {
    let d = data(24, 10, 40, 1.0);
    for opt in ["gd", "sgd", "momentum"] {
        let mut c = cfg(opt, 60);
        c.hidden = vec![5, 3];
        c.snapshots = Some(SnapshotConfig {
            every: 20,
            project_to: None,
            projection_seed: 0,
        });
        let fast = train(&d.view(), &c, 3).unwrap();
        c.first_layer = FirstLayer::Direct;
        let slow = train(&d.view(), &c, 3).unwrap();
        let mut worst: f64 = 0.0;
        for (a, b) in fast.curves.iter().zip(&slow.curves) {
            worst = worst.max((a.train_mse - b.train_mse).abs() / b.train_mse);
            assert_eq!(a.test_acc, b.test_acc, "{opt}");
        }
        for (a, b) in fast.snapshots.data.iter().zip(&slow.snapshots.data) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-3), "{opt} snapshot");
        }
        for (wa, wb) in fast.weights.iter().zip(&slow.weights) {
            for (a, b) in wa.iter().zip(wb.iter()) {
                worst = worst.max((a - b).abs() / b.abs().max(1e-3));
            }
        }
        assert!(worst < 1e-10, "{opt}: {worst:e}");
        assert_eq!(fast.snapshots.epochs, vec![0, 20, 40, 60]);
    }
}

#[test]
fn watching_the_epochs_reports_each_one_and_changes_nothing() {
    let d = data(16, 6, 5, 1.0);
    let c = cfg("adam", 7);
    let seen = std::cell::RefCell::new(Vec::new());
    let watched =
        qa_pipe::ml::train::train_observed(&d.view(), &c, 1, &|e| seen.borrow_mut().push(e))
            .unwrap();
    assert_eq!(seen.into_inner(), (0..7).collect::<Vec<_>>());
    let plain = train(&d.view(), &c, 1).unwrap();
    assert_eq!(numbers(&watched), numbers(&plain));
}

#[test]
fn divergence_stops_the_run() {
    // Adam keeps stepping by ~lr on momentum after tanh saturates: 1e308 overflows.
    let d = data(16, 6, 5, 1.0);
    let mut c = cfg("adam", 10);
    c.optimizer.set_lr(1e308);
    let r = train(&d.view(), &c, 1).unwrap();
    let RunStatus::Diverged(e) = r.status else {
        panic!("{:?}", r.status)
    };
    assert_eq!(r.curves.len(), e - 1);
    assert!(r.test_scores.iter().all(|v| v.is_finite()));
    // A NaN weight stops GD and SGD in either first-layer engine (8 rows < 21 features
    // selects the row-space one under Auto).
    let d = data(8, 6, 20, 1.0);
    for opt in ["gd", "sgd"] {
        for first_layer in [FirstLayer::Auto, FirstLayer::Direct] {
            let c = TrainConfig {
                first_layer,
                ..cfg(opt, 5)
            };
            let mut w = vec![
                Array2::from_elem((21, 6), 0.01),
                Array2::from_elem((6, 1), 0.1),
            ];
            w[0][[3, 2]] = f64::NAN;
            let orders = vec![(0..8).collect(); 5];
            let r = train_injected(&d.view(), &c, Injected { weights: w, orders }).unwrap();
            assert_eq!(r.status, RunStatus::Diverged(1), "{opt} {first_layer:?}");
            assert!(r.curves.is_empty());
        }
    }
}

#[test]
fn learns_a_separable_problem() {
    let d = data(40, 20, 6, 1.0);
    for opt in ["adam", "sgd"] {
        let mut c = cfg(opt, 100);
        if opt == "adam" {
            c.optimizer.set_lr(0.01);
        }
        let r = train(&d.view(), &c, 5).unwrap();
        let last = r.curves.last().unwrap();
        assert_eq!(r.status, RunStatus::Completed);
        assert!(last.train_acc >= 0.95, "{opt}: {last:?}");
        assert!(last.train_mse < r.curves[0].train_mse);
        assert!(r
            .curves
            .windows(2)
            .all(|w| w[0].elapsed_s <= w[1].elapsed_s));
    }
}

#[test]
fn snapshots_stride_and_projection() {
    let d = data(20, 6, 10, 1.0);
    let mut c = cfg("adam", 25);
    c.snapshots = Some(SnapshotConfig {
        every: 10,
        project_to: Some(16),
        projection_seed: 9,
    });
    let r = train(&d.view(), &c, 1).unwrap();
    assert_eq!(r.snapshots.epochs, vec![0, 10, 20, 25]);
    assert_eq!(r.snapshots.dim, 16);
    assert_eq!(r.snapshots.to_array().dim(), (4, 16));
    c.snapshots.as_mut().unwrap().project_to = None;
    let full = train(&d.view(), &c, 1).unwrap();
    assert_eq!(full.snapshots.dim, 11 * 6 + 6);
    // The last full snapshot is the final weights, flattened.
    let last = &full.snapshots.data[3 * full.snapshots.dim..];
    let flat: Vec<f32> = full
        .weights
        .iter()
        .flat_map(|w| w.iter().map(|&v| v as f32))
        .collect();
    assert_eq!(last, &flat[..]);
}

#[test]
fn training_fractions() {
    assert_eq!(
        select_fraction(10, 0.5, FractionMode::FirstN, None, &RunKey::from(1)),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(
        select_fraction(4, 1.0, FractionMode::Groups, None, &RunKey::from(1)),
        vec![0, 1, 2, 3]
    );
    let groups: Vec<u64> = (0..20).map(|i| i / 2).collect();
    let pairs = |seed: u64| {
        let key = RunKey::from(seed);
        select_fraction(20, 0.25, FractionMode::Groups, Some(&groups), &key)
    };
    let a = pairs(3);
    assert_eq!(a.len(), 6); // target 5 rows, whole pairs -> 6
    for r in &a {
        assert!(a.contains(&(r ^ 1)), "pair of row {r} missing");
    }
    assert_eq!(a, pairs(3));
    assert_ne!(a, pairs(4));
    let d = data(20, 6, 4, 1.0);
    let mut c = cfg("sgd", 3);
    c.fraction = 0.5;
    assert_eq!(train(&d.view(), &c, 1).unwrap().train_rows, 10);
}

#[test]
fn early_stopping_on_validation_accuracy() {
    let d = data(60, 10, 4, 1.0);
    let mut c = cfg("adam", 200);
    c.optimizer.set_lr(0.05);
    c.early_stopping = Some(EarlyStopping {
        patience: 3,
        metric: StopMetric::ValAccuracy,
        ..EarlyStopping::default()
    });
    let r = train(&d.view(), &c, 2).unwrap();
    let RunStatus::EarlyStopped(e) = r.status else {
        panic!("{:?}", r.status)
    };
    assert!(e < 200);
    assert_eq!(r.curves.len(), e);
    assert_eq!(r.train_rows, 48); // 12 of 60 rows (6 pairs) held out
    assert!(r.curves.iter().all(|c| c.val_acc.is_some()));
    // The last `patience` epochs did not beat the best before them.
    let accs: Vec<f64> = r.curves.iter().map(|c| c.val_acc.unwrap()).collect();
    let best_before = accs[..e - 3].iter().cloned().fold(f64::MIN, f64::max);
    assert!(accs[e - 3..].iter().all(|&a| a <= best_before));
}

#[test]
fn per_layer_bias_trains_without_the_ones_column() {
    let d = data(30, 10, 6, 1.0);
    let mut c = cfg("adam", 60);
    c.bias = BiasMode::PerLayer;
    let r = train(&d.view(), &c, 1).unwrap();
    assert_eq!(r.weights[0].dim(), (8, 6));
    assert!(r.curves.last().unwrap().train_mse < r.curves[0].train_mse);
}

#[test]
fn config_errors_say_what_to_fix() {
    let d = data(10, 4, 3, 1.0);
    let mut c = cfg("adam", 2);
    c.batch_size = 0;
    let e = train(&d.view(), &c, 1).unwrap_err().to_string();
    assert!(e.contains("batch_size must be at least 1"), "{e}");
    let e = serde_yaml::from_str::<TrainConfig>("{hidden: 64, optimizer: adam, epoch: 3}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `epoch`"), "{e}");
    let ok: TrainConfig =
        serde_yaml::from_str("{hidden: 32, optimizer: {name: sgd, lr: 0.5}}").unwrap();
    assert_eq!(
        (ok.hidden, ok.optimizer.lr(), ok.epochs),
        (vec![32], 0.5, 100)
    );
}
