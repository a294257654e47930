//! How each stage ended in a run: what the scheduler reports, progress shows and `run --json`
//! prints.

use serde::Serialize;

use crate::hash::Key;

/// How a stage ended in this run.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum Status {
    Cached,
    Ran,
    Failed(String),
    /// An upstream stage failed, so this one could not run.
    Skipped(String),
    /// Not asked for (`--only`).
    NotSelected,
    /// `--dry-run`: would run, for the given reason.
    WouldRun(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct StageResult {
    pub stage: String,
    pub kind: String,
    pub key: Key,
    #[serde(flatten)]
    pub status: Status,
    /// From the start of the stage's first unit (or of the stage, without units) to the end
    /// of its combine step; 0 for a stage that did not run.
    pub duration_s: f64,
    pub units_run: usize,
    pub units_total: usize,
    pub notes: Vec<String>,
}
