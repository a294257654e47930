//! E5 sentence embeddings: tokenizers + ONNX Runtime, mean pooling and L2 norm in Rust.
//!
//! Any directory laid out like an optimum ONNX export (`model.onnx`, optional
//! `model.onnx_data`, `tokenizer.json`) works, so the study's `turkish-e5-large` drops in
//! beside the `multilingual-e5-small` that `scripts/setup-models.sh` builds.

mod batching;
mod error;
mod model;
mod model_dir;
mod pooling;
mod runtime;

pub use batching::{equal_length_batches, Batch};
pub use error::EmbedError;
pub use model::{E5Model, E5Options};
pub use model_dir::{model_files, ModelDir};
pub use pooling::{l2_normalize, mean_pool};
pub use runtime::{resolve_runtime_path, ORT_LIB_ENV, SETUP_SCRIPT};
