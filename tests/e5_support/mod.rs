//! Shared set-up for the E5 integration tests: where the model and runtime live, and the
//! rule that a missing model fails the test (CI runs scripts/setup-models.sh first)
//! unless QA_PIPE_SKIP_MODEL_TESTS=1.
#![allow(dead_code)]

use std::path::PathBuf;

use qa_pipe::embed::{E5Model, E5Options};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures/e5")
}

fn skipping() -> bool {
    std::env::var("QA_PIPE_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1")
}

/// Path to `rel` under models/, or `None` (test skipped) when QA_PIPE_SKIP_MODEL_TESTS=1.
/// Panics with the fix when it is missing.
fn require(rel: &str) -> Option<PathBuf> {
    let p = root().join("models").join(rel);
    if p.exists() {
        return Some(p);
    }
    if skipping() {
        eprintln!(
            "skipped: {} missing and QA_PIPE_SKIP_MODEL_TESTS=1",
            p.display()
        );
        return None;
    }
    panic!(
        "{} is missing: run scripts/setup-models.sh first (or set QA_PIPE_SKIP_MODEL_TESTS=1 to skip model tests)",
        p.display()
    );
}

/// The ONNX Runtime library installed by scripts/setup-models.sh.
pub fn runtime() -> Option<PathBuf> {
    require("onnxruntime/libonnxruntime.so")
}

/// The multilingual-e5-small directory built by scripts/setup-models.sh.
pub fn e5_small() -> Option<PathBuf> {
    runtime()?;
    require("multilingual-e5-small/model.onnx").map(|p| p.parent().unwrap().to_path_buf())
}

pub fn options() -> E5Options {
    E5Options {
        ort_lib: runtime(),
        threads: 2,
        ..E5Options::default()
    }
}

/// One model for the whole test binary: loading a session costs seconds and ~300 MB.
pub fn shared_e5_small() -> Option<&'static E5Model> {
    static MODEL: std::sync::OnceLock<Option<E5Model>> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| load_e5_small(options())).as_ref()
}

pub fn load_e5_small(opts: E5Options) -> Option<E5Model> {
    let dir = e5_small()?;
    Some(E5Model::load(&dir, opts).expect("loading models/multilingual-e5-small"))
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

pub fn max_abs_diff(a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
