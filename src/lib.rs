//! qa-pipe: declarative, content-hashed, cached ML experiment pipelines.

pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod embed;
pub mod error;
pub mod executor;
pub mod explain;
pub mod fileio;
pub mod graph;
pub mod hash;
pub mod headline;
pub mod history;
pub mod jobs;
pub mod keyed;
pub mod llm;
pub mod ml;
pub mod outcome;
pub mod progress;
pub mod scheduler;
pub mod stages;
pub mod store;
pub mod table;
pub mod text;
pub mod unchanged;
pub mod viz;
