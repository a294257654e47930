//! Local LLM servers (Ollama, OpenAI-compatible) and cleaning their messy CSV output.

pub mod client;
pub mod error;
pub mod json;
pub mod line;
pub mod parse;
pub mod prompt;
pub mod reason;
pub mod split;
pub mod wire;

pub use client::{ClientConfig, Generation, LlmClient};
pub use error::{Failure, LlmError};
pub use parse::{parse_responses, ParseOptions, ParseOutcome, QaRow, RawResponse};
pub use prompt::{render, study_vars, STUDY_TR_TEMPLATE};
pub use wire::{Api, Completion, Sampling, Usage};
