//! What `gc` must keep, computed in one place and apart from any deletion (a back end that
//! stores artifacts elsewhere asks the same question): every artifact referenced by
//!
//! - a pipeline under `pipelines/` with its default variables,
//! - one of the last `keep_runs` runs of the log (any pipeline, any `--var`/`--set`),
//! - a pinned run.
//!
//! The caller holds the store lock while it decides and deletes: a `run` holds that lock
//! from before it computes anything until after its record is in the log, so a run in
//! progress is never collected, and a finished one is protected by its record.

use std::collections::{BTreeMap, BTreeSet};

use super::log::RunLog;
use super::pins::Pins;
use super::record::RunRecord;
use crate::cache::Cache;
use crate::commands::Project;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct KeepRules {
    /// How many of the log's latest runs keep their artifacts.
    pub keep_runs: usize,
}

impl Default for KeepRules {
    fn default() -> Self {
        KeepRules { keep_runs: 10 }
    }
}

/// Why a key is kept (the first rule that kept it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Referenced by this pipeline file with its default variables.
    Pipeline(String),
    /// Referenced by this run, one of the last `keep_runs`.
    Run(String),
    /// Referenced by the run pinned under this name.
    Pin(String),
}

#[derive(Debug, Default)]
pub struct KeepSet {
    pub keys: BTreeMap<String, Reason>,
    /// The ids of the runs whose artifacts are kept.
    pub runs: BTreeSet<String>,
}

impl KeepSet {
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    fn add(&mut self, key: String, why: &Reason) {
        self.keys.entry(key).or_insert_with(|| why.clone());
    }
}

/// The keep-set of the project's store. Call it holding the store lock.
pub fn keep_set(project: &Project, cache: &Cache, rules: &KeepRules) -> Result<KeepSet> {
    let mut pipelines = Vec::new();
    for path in project.pipelines() {
        // A pipeline that does not load could reference anything: refuse rather than guess.
        let plan = project.plan(&path, &[]).map_err(|e| {
            Error::Usage(format!(
                "gc needs every pipeline to load, and {} does not:\n{e}",
                path.display()
            ))
        })?;
        let kp = project.keyed(plan, cache)?;
        let mut keys = BTreeSet::new();
        for s in &kp.stages {
            keys.insert(s.key.to_string());
            keys.extend(s.units.iter().map(|u| u.key.to_string()));
        }
        let shown = path
            .strip_prefix(&project.root)
            .unwrap_or(&path)
            .display()
            .to_string();
        pipelines.push((shown, keys));
    }
    let log = RunLog::new(cache.root());
    let records = log.read()?.records;
    Ok(from_parts(
        pipelines,
        &records,
        &Pins::load(cache.root()),
        &|id| log.unit_keys(id),
        rules,
    ))
}

/// The rules applied to what they read: each pipeline's keys, the log's records (in log
/// order), the pins, and a run's unit keys by id.
pub fn from_parts(
    pipelines: Vec<(String, BTreeSet<String>)>,
    records: &[RunRecord],
    pins: &Pins,
    unit_keys: &dyn Fn(&str) -> Vec<String>,
    rules: &KeepRules,
) -> KeepSet {
    let mut set = KeepSet::default();
    for (name, keys) in pipelines {
        let why = Reason::Pipeline(name);
        for k in keys {
            set.add(k, &why);
        }
    }
    let keep_run = |r: &RunRecord, why: Reason, set: &mut KeepSet| {
        set.runs.insert(r.id.clone());
        for s in &r.stages {
            set.add(s.key.clone(), &why);
        }
        for k in unit_keys(&r.id) {
            set.add(k, &why);
        }
    };
    let recent = records.len().saturating_sub(rules.keep_runs);
    for r in &records[recent..] {
        keep_run(r, Reason::Run(r.id.clone()), &mut set);
    }
    for p in &pins.pins {
        if let Some(r) = records.iter().find(|r| r.id == p.id) {
            keep_run(r, Reason::Pin(p.name.clone()), &mut set);
        }
    }
    set
}
