//! A file that is not an ONNX Runtime library gives a load error naming it. Its own test
//! binary: the runtime loads once per process, so no other test may load the real one first.

mod e5_support;

use qa_pipe::embed::{E5Model, E5Options, EmbedError};

#[test]
fn a_file_that_is_not_a_library_is_reported() {
    let bogus = e5_support::fixtures().join("tiny/tokenizer.json");
    let opts = E5Options {
        ort_lib: Some(bogus.clone()),
        ..E5Options::default()
    };
    let err = E5Model::load(&e5_support::fixtures().join("tiny"), opts).expect_err("must fail");
    assert!(matches!(err, EmbedError::RuntimeLoad { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("could not load the ONNX Runtime library") && msg.contains("tokenizer.json"),
        "{msg}"
    );
    assert!(msg.contains("scripts/setup-models.sh"), "{msg}");
}
