//! qa-pipe: declarative, content-hashed, cached ML experiment pipelines.

pub mod embed;
pub mod llm;
pub mod ml;
pub mod viz;
