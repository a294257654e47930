//! Missing model, wrong directory, missing runtime, wrong graph: each a clear error that
//! says what to do.

mod e5_support;

use std::path::Path;

use qa_pipe::embed::{E5Model, E5Options, EmbedError};

fn load_err(dir: &Path, opts: E5Options) -> EmbedError {
    E5Model::load(dir, opts).expect_err("load should fail")
}

#[test]
fn missing_model_dir_points_at_the_setup_script() {
    let err = load_err(
        Path::new("/nonexistent/multilingual-e5-small"),
        E5Options::default(),
    );
    assert!(matches!(err, EmbedError::ModelDirMissing { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/multilingual-e5-small does not exist"),
        "{msg}"
    );
    assert!(msg.contains("scripts/setup-models.sh"), "{msg}");
}

#[test]
fn wrong_dir_says_what_is_missing() {
    // tests/fixtures/e5 holds parity.json and sub-folders, but no model.onnx.
    let err = load_err(&e5_support::fixtures(), E5Options::default());
    let msg = err.to_string();
    assert!(
        msg.contains("is not an ONNX model directory: it has no model.onnx"),
        "{msg}"
    );
    assert!(msg.contains("parity.json"), "{msg}");
}

#[test]
fn missing_runtime_names_the_variable_and_the_script() {
    let opts = E5Options {
        ort_lib: Some("/nonexistent/lib/libonnxruntime.so".into()),
        ..E5Options::default()
    };
    let err = load_err(&e5_support::fixtures().join("tiny"), opts);
    assert!(matches!(err, EmbedError::RuntimeNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    for needle in [
        "/nonexistent/lib/libonnxruntime.so",
        "QA_PIPE_ORT_LIB",
        "ort_lib",
        "scripts/setup-models.sh",
    ] {
        assert!(msg.contains(needle), "missing {needle:?} in: {msg}");
    }
}

#[test]
fn max_length_below_two_is_rejected() {
    let err = load_err(
        &e5_support::fixtures().join("tiny"),
        E5Options {
            max_length: 1,
            ..E5Options::default()
        },
    );
    assert!(
        err.to_string().contains("max_length must be at least 2"),
        "{err}"
    );
}

#[test]
fn graph_with_the_wrong_signature_is_refused() {
    let Some(ort_lib) = e5_support::runtime() else {
        return;
    };
    let opts = E5Options {
        ort_lib: Some(ort_lib),
        ..E5Options::default()
    };
    let err = load_err(&e5_support::fixtures().join("not_an_encoder"), opts);
    assert!(matches!(err, EmbedError::Signature { .. }), "{err:?}");
    assert!(err.to_string().contains("unexpected input `x`"), "{err}");
}

#[test]
fn corrupt_model_file_is_reported_with_its_path() {
    let Some(ort_lib) = e5_support::runtime() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model.onnx"), vec![0xAB; 4096]).unwrap();
    std::fs::copy(
        e5_support::fixtures().join("tiny/tokenizer.json"),
        tmp.path().join("tokenizer.json"),
    )
    .unwrap();
    let err = load_err(
        tmp.path(),
        E5Options {
            ort_lib: Some(ort_lib),
            ..E5Options::default()
        },
    );
    assert!(matches!(err, EmbedError::Session { .. }), "{err:?}");
    assert!(
        err.to_string().contains("ONNX Runtime could not load"),
        "{err}"
    );
}

#[test]
fn broken_tokenizer_is_reported_with_its_path() {
    let Some(ort_lib) = e5_support::runtime() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        e5_support::fixtures().join("tiny/model.onnx"),
        tmp.path().join("model.onnx"),
    )
    .unwrap();
    std::fs::write(tmp.path().join("tokenizer.json"), "{not json").unwrap();
    let err = load_err(
        tmp.path(),
        E5Options {
            ort_lib: Some(ort_lib),
            ..E5Options::default()
        },
    );
    assert!(matches!(err, EmbedError::Tokenizer { .. }), "{err:?}");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}
