//! Stage kinds: the trait every kind implements, what it gets at build and run time, and the
//! registry (one line per kind).

pub mod across_runs;
mod claims;
pub mod claims_table;
pub(crate) mod columns;
pub(crate) mod curves;
mod e5;
mod eval_tables;
mod evaluate;
pub mod evidence;
mod evidence_sections;
pub mod features;
mod ingest_csv;
mod llm_generate;
mod llm_judge;
mod parse_llm;
mod plot;
pub mod qa_table;
mod report;
mod runs_table;
pub mod scores;
mod sweep;
#[cfg(test)]
mod testkit;
mod tfidf;
mod train;
mod tsne;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use marked_yaml::Node;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cache::{Artifact, Output};
use crate::config::params::{self, parse_path, walk};
use crate::config::Sources;
use crate::error::ConfigError;

/// Every stage kind qa-pipe knows. Adding a kind: one file in this folder and one line here.
pub static KINDS: &[&Kind] = &[
    &ingest_csv::KIND,
    &tfidf::KIND,
    &e5::KIND,
    &train::KIND,
    &sweep::KIND,
    &evaluate::KIND,
    &claims::KIND,
    &tsne::KIND,
    &plot::KIND,
    &report::KIND,
    &llm_generate::KIND,
    &parse_llm::KIND,
    &llm_judge::KIND,
];

/// How the headline metrics of two artifacts of one stage (two runs) changed, with the
/// paired interval of each change where the kind can pair them (`evaluate`: accuracies on
/// the same test questions); empty for the other kinds.
pub fn paired_changes(
    a: &Artifact,
    b: &Artifact,
) -> anyhow::Result<Vec<across_runs::PairedChange>> {
    let evaluate = |x: &Artifact| x.manifest.kind == evaluate::KIND.name;
    if evaluate(a) && evaluate(b) {
        across_runs::accuracy_changes(a, b)
    } else {
        Ok(Vec::new())
    }
}

pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().copied().find(|k| k.name == name)
}

/// A stage kind: its name, a version bumped whenever its code changes what it computes (which
/// invalidates its cached artifacts), the inputs it reads, and how to build it from params.
pub struct Kind {
    pub name: &'static str,
    pub version: u32,
    pub summary: &'static str,
    pub inputs: &'static [Role],
    pub build: fn(&mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError>,
}

/// A named input slot of a kind; `many` accepts a list of upstream stages.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    pub name: &'static str,
    pub many: bool,
    pub required: bool,
}

impl Role {
    pub const fn one(name: &'static str) -> Role {
        Role {
            name,
            many: false,
            required: true,
        }
    }
    pub const fn many(name: &'static str) -> Role {
        Role {
            name,
            many: true,
            required: true,
        }
    }
}

/// A validated, ready-to-run stage. Its execution is self-contained: resolved params (held by
/// the value), its inputs' artifacts, and it returns an artifact. Nothing else is shared, so a
/// stage or unit can later run as its own process (a Slurm array task) against a shared store.
pub trait Stage: Send + Sync {
    /// Independent pieces of work (seed runs, sweep cells), each cached under its own key from
    /// its own params, so adding a seed or a grid cell computes only the new ones. Empty means
    /// the stage is a single piece of work done by `run`.
    fn units(&self) -> Vec<Unit> {
        Vec::new()
    }

    /// Units that depend on the inputs' contents (`llm_judge`: one per distinct input
    /// row), asked for when the inputs are ready. Default: [`units`](Self::units). A kind
    /// that overrides it must also give a correct `run` when handed no units (planning
    /// commands such as `jobs` and `gc` only know `units()`).
    fn units_with(
        &self,
        inputs: &BTreeMap<String, Vec<Arc<Artifact>>>,
    ) -> anyhow::Result<Vec<Unit>> {
        let _ = inputs;
        Ok(self.units())
    }

    /// Runs one unit; only called for kinds that return units.
    fn run_unit(&self, unit: &Unit, cx: &RunCx<'_>) -> anyhow::Result<Output> {
        let _ = cx;
        anyhow::bail!("unit {} has no runner", unit.id)
    }

    /// Produces the stage's artifact. `units` holds the unit artifacts in `units()` order.
    fn run(&self, cx: &RunCx<'_>, units: &[Arc<Artifact>]) -> anyhow::Result<Output>;

    /// The headline metrics of this stage's artifact (see [`crate::headline`]): what `run`
    /// prints at the end and the run log records. None by default.
    fn headline(&self, artifact: &Artifact) -> anyhow::Result<Vec<crate::headline::Metric>> {
        let _ = artifact;
        Ok(Vec::new())
    }
}

/// One unit of a stage: a readable id (`adam/seed=42`) and the params that define it.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub params: UnitParams,
}

impl Unit {
    pub fn new(id: String, params: &serde_json::Value) -> Unit {
        Unit {
            id,
            params: UnitParams::new(params),
        }
    }
}

/// A unit's params kept as their canonical JSON text (compact, keys sorted): the bytes its
/// key hashes, parsed back when the unit runs. A sweep plans ~10^5 units, and this text is
/// several times smaller than a `Value` tree (serde_json's float_roundtrip feature makes
/// every float parse back to the same bits).
#[derive(Clone, PartialEq)]
pub struct UnitParams(Box<str>);

impl UnitParams {
    pub fn new(v: &serde_json::Value) -> UnitParams {
        UnitParams(crate::hash::canonical_text(v).into_boxed_str())
    }

    /// Params already written as canonical text (compact JSON, every object's keys sorted,
    /// as [`crate::hash::canonical_text`] writes them); a kind that writes its own must test
    /// that it matches [`UnitParams::new`].
    pub fn from_canonical(text: String) -> UnitParams {
        debug_assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "{text}"
        );
        UnitParams(text.into_boxed_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn value(&self) -> serde_json::Value {
        self.parse().expect("canonical JSON text parses")
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(&self.0)
    }
}

impl std::fmt::Debug for UnitParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stage being built and every stage upstream of it, by name: each one's inputs by role,
/// upstream names in the order the pipeline lists them. Names are in no key, so a kind that
/// shows them (the report) puts this in its key: a renamed stage then recomputes it.
pub type Lineage = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// What a kind's `build` gets: its params node (with spans), and ways to report errors at a
/// field and to declare the files it reads.
pub struct BuildCx<'a> {
    pub stage: &'a str,
    pub kind: &'a str,
    pub root: &'a Path,
    params: &'a Node,
    sources: &'a Sources,
    canonical: Option<serde_json::Value>,
    files: Vec<PathBuf>,
    lineage: Option<&'a dyn Fn() -> Lineage>,
}

impl<'a> BuildCx<'a> {
    pub fn new(
        stage: &'a str,
        kind: &'a str,
        root: &'a Path,
        params: &'a Node,
        sources: &'a Sources,
    ) -> Self {
        BuildCx {
            stage,
            kind,
            root,
            params,
            sources,
            canonical: None,
            files: Vec::new(),
            lineage: None,
        }
    }

    /// How [`BuildCx::lineage`] is found (the graph knows it; computed only for the kinds
    /// that ask, so large pipelines do not pay for it).
    pub fn with_lineage(mut self, lineage: &'a dyn Fn() -> Lineage) -> Self {
        self.lineage = Some(lineage);
        self
    }

    /// This stage and everything upstream of it, by name.
    pub fn lineage(&self) -> Lineage {
        self.lineage.map(|f| f()).unwrap_or_default()
    }

    /// Deserialises the params. What is hashed into the stage key is the typed value with its
    /// defaults filled in, so writing a default explicitly does not change the key.
    pub fn params<P: DeserializeOwned + Serialize>(&mut self) -> Result<P, ConfigError> {
        let p: P = params::deserialize(self.params, self.stage, self.kind, self.sources)?;
        self.canonical =
            Some(serde_json::to_value(&p).map_err(|e| ConfigError::new(e.to_string()))?);
        Ok(p)
    }

    /// Overrides what is hashed, for kinds whose key should not cover every param.
    pub fn set_canonical(&mut self, value: serde_json::Value) {
        self.canonical = Some(value);
    }

    /// An error located at the param `field` (`optimizers[1].lr` style), or at the params.
    pub fn error(&self, field: &str, message: impl Into<String>) -> ConfigError {
        let (node, key) = walk(self.params, &parse_path(field));
        let message = format!("stage `{}`: {}", self.stage, message.into());
        match (node, key) {
            (Node::Scalar(_), _) => self.sources.error_at(node, message),
            (_, Some(k)) => {
                self.sources
                    .error_at_span(k.span(), k.as_str().chars().count(), message)
            }
            _ => self.sources.error_at(node, message),
        }
    }

    /// Resolves a data file named by param `field`, checks it exists, and adds its content to
    /// the stage key.
    pub fn file(&mut self, field: &str, path: &str) -> Result<PathBuf, ConfigError> {
        let full = self.root.join(path);
        if !full.is_file() {
            return Err(self
                .error(field, format!("file `{path}` does not exist"))
                .help(format!(
                    "looked for {}; paths are relative to the project folder",
                    full.display()
                )));
        }
        self.files.push(full.clone());
        Ok(full)
    }

    /// Declares a file read by the stage without a param pointing at it (model weights etc.).
    pub fn add_file(&mut self, path: PathBuf) {
        self.files.push(path);
    }

    pub fn finish(self) -> (Option<serde_json::Value>, Vec<PathBuf>) {
        (self.canonical, self.files)
    }
}

/// What a running stage gets: its inputs' artifacts by role, and ways to tell the user
/// things and how far it is.
pub struct RunCx<'a> {
    pub stage: &'a str,
    pub root: &'a Path,
    pub inputs: &'a BTreeMap<String, Vec<Arc<Artifact>>>,
    pub notes: &'a std::sync::Mutex<Vec<String>>,
    pub ticks: &'a dyn crate::progress::Ticks,
}

impl RunCx<'_> {
    /// The single artifact bound to `role`.
    pub fn input(&self, role: &str) -> anyhow::Result<&Artifact> {
        match self.inputs.get(role).map(Vec::as_slice) {
            Some([a]) => Ok(a),
            Some([]) | None => anyhow::bail!("stage `{}` has no input `{role}`", self.stage),
            Some(_) => anyhow::bail!("stage `{}` expects one input `{role}`", self.stage),
        }
    }

    /// All artifacts bound to `role`, in the order the pipeline lists them.
    pub fn input_all(&self, role: &str) -> &[Arc<Artifact>] {
        self.inputs.get(role).map(Vec::as_slice).unwrap_or(&[])
    }

    /// How far this piece of the stage is: `done` of `total` of `what` ("epochs"), for
    /// the progress bar.
    pub fn tick(&self, what: &'static str, done: u64, total: u64) {
        self.ticks.tick(what, done, total);
    }

    /// A warning for the user; kept in the artifact's manifest so cached runs can show it too.
    pub fn warn(&self, message: impl Into<String>) {
        self.notes.lock().expect("notes lock").push(message.into());
    }
}

/// The usual `build`: deserialise `P`, then let it check itself into a stage.
pub fn build_with<P>(cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError>
where
    P: DeserializeOwned + Serialize + Check,
{
    let p: P = cx.params()?;
    p.check(cx)
}

/// Turns deserialised params into a validated stage (the builder-then-validated-type pattern).
pub trait Check {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError>;
}
