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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::pins::Pin;
    use crate::history::record::{StageEntry, FORMAT};

    fn run(id: &str, key: &str) -> RunRecord {
        RunRecord {
            v: FORMAT,
            id: id.into(),
            pipeline: "pipelines/p.yaml".into(),
            name: "p".into(),
            pipeline_hash: String::new(),
            start_unix: 0.0,
            end_unix: 0.0,
            vars: Default::default(),
            sets: Default::default(),
            git: None,
            host: String::new(),
            slurm_job: None,
            ok: true,
            stages: vec![StageEntry {
                name: "s".into(),
                kind: "k".into(),
                key: key.into(),
                status: "ran".into(),
            }],
            metrics: Vec::new(),
        }
    }

    #[test]
    fn keeps_pipelines_the_last_runs_and_pins_with_their_units() {
        let records = [run("r1", "k1"), run("r2", "k2"), run("r3", "k3")];
        let pins = Pins {
            pins: vec![Pin {
                id: "r1".into(),
                name: "base".into(),
                pinned_unix: 0.0,
            }],
        };
        let units = |id: &str| vec![format!("{id}-unit")];
        let set = from_parts(
            vec![(
                "pipelines/p.yaml".into(),
                BTreeSet::from(["k0".to_string()]),
            )],
            &records,
            &pins,
            &units,
            &KeepRules { keep_runs: 1 },
        );
        let keys: Vec<&str> = set.keys.keys().map(String::as_str).collect();
        assert_eq!(keys, ["k0", "k1", "k3", "r1-unit", "r3-unit"]);
        assert_eq!(set.keys["k1"], Reason::Pin("base".into()));
        assert_eq!(set.keys["k3"], Reason::Run("r3".into()));
        let none = from_parts(
            Vec::new(),
            &records,
            &Pins::default(),
            &units,
            &KeepRules { keep_runs: 0 },
        );
        assert!(none.keys.is_empty());
    }
}
