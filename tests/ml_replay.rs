//! Replays the numpy reference (shared/reference/seed_ref.py) from its own initial weights
//! and shuffle orders: every optimizer's curves must match to 1e-9 relative over 100
//! epochs. The fixture and the command that made it are in tests/fixtures/replay/.

use ndarray::{Array1, Array2};
use qa_pipe::ml::optim::OptimizerSpec;
use qa_pipe::ml::train::{train_injected, Dataset, FirstLayer, Injected, TrainConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    hidden: usize,
    batch_size: usize,
    epochs: usize,
    x_train: Vec<Vec<f64>>,
    y_train: Vec<f64>,
    x_test: Vec<Vec<f64>>,
    y_test: Vec<f64>,
    runs: std::collections::BTreeMap<String, Run>,
}

#[derive(Deserialize)]
struct Run {
    init: Vec<Vec<Vec<f64>>>,
    #[serde(rename = "final")]
    final_weights: Vec<Vec<Vec<f64>>>,
    perms: Vec<Vec<usize>>,
    train_mse: Vec<f64>,
    train_acc: Vec<f64>,
    test_acc: Vec<f64>,
}

fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.concat()).unwrap()
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/replay/replay.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn curves_match_numpy_for_every_optimizer() {
    let fx = fixture();
    let (xtr, xte) = (matrix(&fx.x_train), matrix(&fx.x_test));
    let (ytr, yte) = (
        Array1::from(fx.y_train.clone()),
        Array1::from(fx.y_test.clone()),
    );
    let data = Dataset {
        x_train: xtr.view(),
        y_train: ytr.view(),
        x_test: xte.view(),
        y_test: yte.view(),
        groups: None,
    };
    assert_eq!(fx.runs.len(), 5);
    // Auto takes the row-space first layer for GD and SGD (14 rows < 21 features).
    for ((name, run), first_layer) in fx
        .runs
        .iter()
        .flat_map(|r| [(r, FirstLayer::Auto), (r, FirstLayer::Direct)])
    {
        let cfg = TrainConfig {
            hidden: vec![fx.hidden],
            optimizer: OptimizerSpec::from_name(name).unwrap(),
            epochs: fx.epochs,
            batch_size: fx.batch_size,
            first_layer,
            ..TrainConfig::default()
        };
        let init = Injected {
            weights: run.init.iter().map(|w| matrix(w)).collect(),
            orders: run.perms.clone(),
        };
        let r = train_injected(&data, &cfg, init).unwrap();
        assert_eq!(r.curves.len(), fx.epochs, "{name}");
        let mut worst: f64 = 0.0;
        for (e, rec) in r.curves.iter().enumerate() {
            worst = worst.max(rel(rec.train_mse, run.train_mse[e]));
            assert_eq!(
                rec.train_acc, run.train_acc[e],
                "{name} epoch {e} train acc"
            );
            assert_eq!(rec.test_acc, run.test_acc[e], "{name} epoch {e} test acc");
        }
        for (w, f) in r.weights.iter().zip(&run.final_weights) {
            for (a, b) in w.iter().zip(matrix(f).iter()) {
                worst = worst.max(rel(*a, *b));
            }
        }
        println!("{name} ({first_layer:?}): worst relative difference {worst:.3e}");
        assert!(
            worst < 1e-9,
            "{name} ({first_layer:?}): worst relative difference {worst:.3e}"
        );
    }
}

/// The default precision is f32 (about 2x faster, README), so it is checked against the
/// same f64 numpy replay. Tolerance: f32 rounds each operation at 2^-24 ≈ 6e-8 relative,
/// and 100 epochs of updates compound it; the worst relative difference of any train MSE or
/// final weight (weights relative to max(|w|, 0.01), so one near 0 does not dominate) was
/// 1.4e-5 here (SGD; GD 4e-7, Adam 6e-6), and 1e-4 leaves a 7x margin for other CPUs'
/// instruction choices. Accuracies count sign agreements and can flip for an output within
/// rounding of 0, so each may be off by one row.
#[test]
fn default_f32_training_matches_numpy_within_f32_rounding() {
    let fx = fixture();
    let f32m = |rows: &[Vec<f64>]| matrix(rows).mapv(|v| v as f32);
    let (xtr, xte) = (f32m(&fx.x_train), f32m(&fx.x_test));
    let ytr = Array1::from(fx.y_train.clone()).mapv(|v| v as f32);
    let yte = Array1::from(fx.y_test.clone()).mapv(|v| v as f32);
    let data = Dataset {
        x_train: xtr.view(),
        y_train: ytr.view(),
        x_test: xte.view(),
        y_test: yte.view(),
        groups: None,
    };
    let (ntr, nte) = (fx.y_train.len() as f64, fx.y_test.len() as f64);
    let mut overall: f64 = 0.0;
    for (name, run) in &fx.runs {
        let cfg = TrainConfig {
            hidden: vec![fx.hidden],
            optimizer: OptimizerSpec::from_name(name).unwrap(),
            epochs: fx.epochs,
            batch_size: fx.batch_size,
            ..TrainConfig::default()
        };
        let init = Injected {
            weights: run.init.iter().map(|w| f32m(w)).collect(),
            orders: run.perms.clone(),
        };
        let r = train_injected(&data, &cfg, init).unwrap();
        let mut worst: f64 = 0.0;
        for (e, rec) in r.curves.iter().enumerate() {
            worst = worst.max(rel(rec.train_mse, run.train_mse[e]));
            assert!(
                (rec.train_acc - run.train_acc[e]).abs() <= 1.0 / ntr + 1e-12,
                "{name} epoch {e} train acc {} vs {}",
                rec.train_acc,
                run.train_acc[e]
            );
            assert!(
                (rec.test_acc - run.test_acc[e]).abs() <= 1.0 / nte + 1e-12,
                "{name} epoch {e} test acc"
            );
        }
        for (w, f) in r.weights.iter().zip(&run.final_weights) {
            for (a, b) in w.iter().zip(matrix(f).iter()) {
                // Relative to the layer's scale, so a weight near 0 does not blow it up.
                worst = worst.max((f64::from(*a) - b).abs() / b.abs().max(1e-2));
            }
        }
        println!("{name} (f32): worst relative difference {worst:.3e}");
        overall = overall.max(worst);
    }
    println!("f32 overall worst {overall:.3e}");
    assert!(
        overall < 1e-4,
        "f32 worst relative difference {overall:.3e}"
    );
}
