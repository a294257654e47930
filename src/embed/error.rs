//! Every user-facing failure of the embedding engine, each saying what to do about it.

use std::path::PathBuf;

use super::runtime::SETUP_SCRIPT;

/// Errors from locating, loading or running an E5 model.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(
        "ONNX Runtime library not found (looked for {})\n\
         Run `{SETUP_SCRIPT}` to fetch it into models/onnxruntime/, or point the `ort_lib` \
         param or the QA_PIPE_ORT_LIB (or ORT_DYLIB_PATH) variable at a libonnxruntime.so >= 1.31",
        tried.iter().map(|(how, p)| format!("{} ({how})", p.display())).collect::<Vec<_>>().join(", ")
    )]
    RuntimeNotFound { tried: Vec<(String, PathBuf)> },

    #[error(
        "could not load the ONNX Runtime library {}: {reason}\n\
         It must be ONNX Runtime >= 1.31 for this CPU; `{SETUP_SCRIPT}` fetches 1.32.0",
        path.display()
    )]
    RuntimeLoad { path: PathBuf, reason: String },

    #[error(
        "model directory {} does not exist.\n\
         Run `{SETUP_SCRIPT}` (it builds models/multilingual-e5-small), or set `model` to a \
         folder holding model.onnx + tokenizer.json (an optimum ONNX export)",
        dir.display()
    )]
    ModelDirMissing { dir: PathBuf },

    #[error(
        "{} is not an ONNX model directory: it has no {missing}{}.\n\
         Expected model.onnx (+ model.onnx_data if the weights are external) and tokenizer.json, \
         as `optimum-cli export onnx` writes them; `{SETUP_SCRIPT}` builds one in models/multilingual-e5-small",
        dir.display(),
        hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()
    )]
    NotAModelDir {
        dir: PathBuf,
        missing: &'static str,
        hint: Option<String>,
    },

    #[error("could not read the tokenizer {}: {reason}", path.display())]
    Tokenizer { path: PathBuf, reason: String },

    #[error("ONNX Runtime could not load {}: {reason}", path.display())]
    Session { path: PathBuf, reason: String },

    #[error(
        "{} does not look like a sentence-embedding model: {reason}.\n\
         Expected inputs input_ids + attention_mask (token_type_ids optional) and an output \
         last_hidden_state [batch, tokens, dim]",
        path.display()
    )]
    Signature { path: PathBuf, reason: String },

    #[error("tokenising failed: {0}")]
    Tokenize(String),

    #[error("ONNX Runtime inference failed: {0}")]
    Inference(String),

    #[error("invalid embedding option: {0}")]
    Options(String),
}
