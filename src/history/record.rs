//! One run as the log records it: when, what (pipeline file and its content hash, `--var`
//! and `--set` values), where (git commit and dirty flag, host, Slurm job), every stage's
//! key and status, and the headline metrics the stages declared.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::headline::StageMetric;
use crate::keyed::KeyedPlan;
use crate::outcome::{StageResult, Status};

/// The log's format number; a reader skips records of a format it does not know.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub v: u32,
    pub id: String,
    /// The pipeline file as the user named it, relative to the project (`pipelines/p.yaml`).
    pub pipeline: String,
    /// Its name (the file stem), what `status` state and the latest report are kept under.
    pub name: String,
    /// blake3 of the pipeline file's text.
    pub pipeline_hash: String,
    pub start_unix: f64,
    pub end_unix: f64,
    /// Every declared variable's value in this run (defaults and `--var`).
    pub vars: BTreeMap<String, Value>,
    /// `--set` overrides by `STAGE.PATH`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sets: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<Git>,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job: Option<String>,
    /// No stage failed.
    pub ok: bool,
    pub stages: Vec<StageEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<StageMetric>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Git {
    pub commit: String,
    /// Tracked files differ from the commit.
    pub dirty: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageEntry {
    pub name: String,
    pub kind: String,
    pub key: String,
    /// `ran`, `cached`, `failed`, `skipped`, `not_selected` or `would_run`.
    pub status: String,
}

/// What a finished run of a pipeline was, for its record: the pipeline file (relative to the
/// project) and name, each stage's entry in plan-node order, whether none failed, the keys
/// of the units of its selected stages (the log keeps them for `gc`), and whether it
/// computed anything (only then is the log synced).
pub struct Finished {
    pub pipeline: String,
    pub name: String,
    pub stages: Vec<StageEntry>,
    pub ok: bool,
    pub units: Vec<String>,
    pub computed: bool,
}

impl Finished {
    /// The run of `kp` that ended with `results` (in plan-node order).
    pub fn of(kp: &KeyedPlan, results: &[StageResult]) -> Finished {
        Finished {
            pipeline: kp.plan.path.to_string_lossy().into_owned(),
            name: kp.plan.name.clone(),
            stages: results
                .iter()
                .zip(&kp.stages)
                .map(|(r, s)| StageEntry {
                    name: r.stage.clone(),
                    kind: r.kind.clone(),
                    key: s.key.to_string(),
                    status: status_name(&r.status).to_string(),
                })
                .collect(),
            ok: !results
                .iter()
                .any(|r| matches!(r.status, Status::Failed(_))),
            units: kp
                .stages
                .iter()
                .zip(results)
                .filter(|(_, r)| r.status != Status::NotSelected)
                .flat_map(|(s, _)| s.units.iter().map(|u| u.key.to_string()))
                .collect(),
            computed: results
                .iter()
                .any(|r| r.units_run > 0 || r.status == Status::Ran),
        }
    }
}

impl RunRecord {
    /// A record of the finished run `run`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        git: Option<Git>,
        run: &Finished,
        pipeline_text: &str,
        vars: BTreeMap<String, Value>,
        sets: BTreeMap<String, Value>,
        metrics: Vec<StageMetric>,
        start_unix: f64,
        end_unix: f64,
    ) -> RunRecord {
        let host = host();
        let id = new_id(&host, start_unix);
        RunRecord {
            v: FORMAT,
            id,
            pipeline: run.pipeline.clone(),
            name: run.name.clone(),
            pipeline_hash: blake3::hash(pipeline_text.as_bytes()).to_hex()[..16].to_string(),
            start_unix,
            end_unix,
            vars,
            sets,
            git,
            host,
            slurm_job: std::env::var("SLURM_JOB_ID").ok().filter(|s| !s.is_empty()),
            ok: run.ok,
            stages: run.stages.clone(),
            metrics,
        }
    }

    pub fn wall_s(&self) -> f64 {
        (self.end_unix - self.start_unix).max(0.0)
    }

    pub fn stage(&self, name: &str) -> Option<&StageEntry> {
        self.stages.iter().find(|s| s.name == name)
    }
}

pub fn status_name(s: &Status) -> &'static str {
    match s {
        Status::Cached => "cached",
        Status::Ran => "ran",
        Status::Failed(_) => "failed",
        Status::Skipped(_) => "skipped",
        Status::NotSelected => "not_selected",
        Status::WouldRun(_) => "would_run",
    }
}

/// Eight hex digits from the host, the process and the start time: unique enough for a
/// person to type, and unique across concurrent writers (they differ in pid or host).
fn new_id(host: &str, start_unix: f64) -> String {
    let mut h = blake3::Hasher::new();
    h.update(host.as_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&start_unix.to_le_bytes());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(&nanos.to_le_bytes());
    h.finalize().to_hex()[..8].to_string()
}

fn host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
    // truncates, and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// [`git`] asked in the background: started when a run starts, so the one or two `git`
/// processes (a few ms each, more for `status` in a large checkout) run on another core
/// while the run plans and looks up its artifacts, not after it.
pub struct GitProbe(std::thread::JoinHandle<Option<Git>>);

impl GitProbe {
    pub fn start(root: &Path) -> GitProbe {
        let root = root.to_path_buf();
        GitProbe(std::thread::spawn(move || git(&root)))
    }

    pub fn finish(self) -> Option<Git> {
        self.0.join().ok().flatten()
    }
}

/// The project's commit and whether tracked files changed, when it is a git checkout with
/// `git` installed; `None` otherwise (a run never fails for want of git).
fn git(root: &Path) -> Option<Git> {
    let out = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let head = out(&["rev-parse", "HEAD"])?;
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let status = out(&["status", "--porcelain", "--untracked-files=no"])?;
    Some(Git {
        commit,
        dirty: !status.stdout.is_empty(),
    })
}
