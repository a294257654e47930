//! A pipeline as independent jobs addressed by key: every unit (seed run, sweep cell) and
//! every stage, each with the keys it needs and a wave number, so an outside scheduler (a
//! Slurm job array per wave) can run them one process at a time against a shared store.
//! Knows nothing about what stages compute.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::cache::{Artifact, Cache};
use crate::executor::{combine, compute_unit, Inputs};
use crate::hash::Key;
use crate::keyed::KeyedPlan;
use crate::progress::NoTicks;

/// One job: a unit of a stage, or the stage itself (which combines its units, if any).
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub key: Key,
    pub stage: String,
    /// The unit's id (`adam/seed=42`), or `None` for the stage job.
    pub unit: Option<String>,
    /// Keys that must be in the store before this job can run.
    pub needs: Vec<Key>,
    /// 0 for jobs that need nothing; otherwise one more than the highest wave they need.
    /// All jobs of one wave can run at the same time.
    pub wave: usize,
    #[serde(skip)]
    node: usize,
    /// The unit's index in the stage's units.
    #[serde(skip)]
    unit_index: Option<usize>,
}

impl Job {
    /// `stage` or `stage/unit`.
    pub fn name(&self) -> String {
        match &self.unit {
            Some(u) => format!("{}/{u}", self.stage),
            None => self.stage.clone(),
        }
    }
}

/// Every job of the plan, units before their stage, in topological order of stages.
pub fn jobs(kp: &KeyedPlan) -> Vec<Job> {
    let plan = &kp.plan;
    let mut stage_wave = vec![0usize; plan.nodes.len()];
    let mut out = Vec::new();
    for &i in &plan.order {
        let node = &plan.nodes[i];
        let ups = kp.upstream(i);
        let upstream_keys: Vec<Key> = ups.iter().map(|&u| kp.key(u).clone()).collect();
        let first = ups.iter().map(|&u| stage_wave[u] + 1).max().unwrap_or(0);
        let units = &kp.stages[i].units;
        let mut needs = upstream_keys.clone();
        needs.reserve(units.len());
        for (n, u) in units.iter().enumerate() {
            needs.push(u.key.clone());
            out.push(Job {
                key: u.key.clone(),
                stage: node.name.clone(),
                unit: Some(u.unit.id.clone()),
                needs: upstream_keys.clone(),
                wave: first,
                node: i,
                unit_index: Some(n),
            });
        }
        stage_wave[i] = if units.is_empty() { first } else { first + 1 };
        out.push(Job {
            key: kp.key(i).clone(),
            stage: node.name.clone(),
            unit: None,
            needs,
            wave: stage_wave[i],
            node: i,
            unit_index: None,
        });
    }
    out
}

/// What [`exec`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Executed {
    /// A verified artifact with that key was already in the store.
    Cached,
    Ran,
}

/// Runs the job with `key` on its own: its inputs must already be in the store (verified),
/// its output is published there. No store lock is taken: publishing is an atomic rename
/// and a writer that loses a race keeps the winner's artifact, so many `exec`s may share
/// one store.
///
/// With a shared store behind `cache`, inputs are fetched from it and the output published
/// to it: a node needs no shared filesystem. A job whose artifact is in artifacts/ but not
/// in the shared store (its publish failed) is published, not recomputed.
pub fn exec(kp: &KeyedPlan, cache: &Cache, root: &Path, job: &Job) -> Result<Executed> {
    let key = job.key.as_str();
    if let Some(remote) = cache.remote() {
        // Asked first, so a store that is down is reported before any work.
        let there = remote.contains(key)?;
        if let Ok(a) = cache.lookup_local(key) {
            if !there {
                cache.publish(a, false)?;
            }
            return Ok(Executed::Cached);
        }
        if there && cache.lookup(key).is_ok() {
            return Ok(Executed::Cached);
        }
    } else if cache.lookup(key).is_ok() {
        return Ok(Executed::Cached);
    }
    let start = Instant::now();
    let i = job.node;
    let node = kp.node(i);
    let fetch = |key: &Key, what: &str| -> Result<Arc<Artifact>> {
        cache.lookup(key.as_str()).map(Arc::new).map_err(|miss| {
            anyhow!(
                "{what} ({key}) is not usable in the store: {miss}. Run `qa-pipe exec {key}` \
                 first; `qa-pipe jobs` lists every job with what it needs"
            )
        })
    };
    if cache.remote().is_some() && job.unit_index.is_none() {
        // A stage may read its lineage's manifests next to its inputs (the report's
        // provenance does): on a shared filesystem they are all in artifacts/, on a node
        // without one its ancestors are fetched first. (Whole artifacts: a manifest-only
        // fetch would be cheaper.)
        let mut ancestors = vec![false; kp.plan.nodes.len()];
        kp.plan.with_ancestors(i, &mut ancestors);
        for (u, _) in ancestors.iter().enumerate().filter(|(u, &a)| a && *u != i) {
            let what = format!("stage `{}`, upstream of `{}`", kp.node(u).name, node.name);
            fetch(kp.key(u), &what)?;
        }
    }
    let mut inputs = Inputs::new();
    for (role, ups) in &node.inputs {
        let arts = ups
            .iter()
            .map(|&u| {
                let up = &kp.node(u).name;
                let what = format!("input `{role}` of `{}`: stage `{up}`", node.name);
                fetch(kp.key(u), &what)
            })
            .collect::<Result<Vec<_>>>()?;
        inputs.insert(role.clone(), arts);
    }
    match job.unit_index {
        Some(u) => {
            compute_unit(
                kp,
                cache,
                root,
                i,
                &kp.stages[i].units[u],
                &inputs,
                false,
                &NoTicks,
            )?;
        }
        None => {
            let units = kp.stages[i]
                .units
                .iter()
                .map(|u| {
                    let what = format!("unit `{}` of stage `{}`", u.unit.id, node.name);
                    fetch(&u.key, &what)
                })
                .collect::<Result<Vec<_>>>()?;
            combine(kp, cache, root, i, &inputs, &units, start, false, &NoTicks)?;
        }
    }
    Ok(Executed::Ran)
}
