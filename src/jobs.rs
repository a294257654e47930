//! A pipeline as independent jobs addressed by key: every unit (seed run, sweep cell) and
//! every stage, each with the keys it needs and a wave number, so an outside scheduler (a
//! Slurm job array per wave) can run them one process at a time against a shared store.
//! Knows nothing about what stages compute.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::cache::{Artifact, Cache};
use crate::executor::{combine, compute_unit};
use crate::graph::Plan;
use crate::hash::Material;
use crate::stages::Unit;

/// One job: a unit of a stage, or the stage itself (which combines its units, if any).
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub key: String,
    pub stage: String,
    /// The unit (listed by its id, `adam/seed=42`), or `None` for the stage job.
    #[serde(serialize_with = "unit_id")]
    pub unit: Option<Unit>,
    /// Keys that must be in the store before this job can run.
    pub needs: Vec<String>,
    /// 0 for jobs that need nothing; otherwise one more than the highest wave they need.
    /// All jobs of one wave can run at the same time.
    pub wave: usize,
    #[serde(skip)]
    node: usize,
}

fn unit_id<S: serde::Serializer>(unit: &Option<Unit>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_some(&unit.as_ref().map(|u| &u.id))
}

impl Job {
    /// `stage` or `stage/unit`.
    pub fn name(&self) -> String {
        match &self.unit {
            Some(u) => format!("{}/{}", self.stage, u.id),
            None => self.stage.clone(),
        }
    }
}

/// Every job of `plan`, units before their stage, in topological order of stages.
pub fn jobs(plan: &Plan, materials: &[Material]) -> Vec<Job> {
    let mut stage_wave = vec![0usize; plan.nodes.len()];
    let mut out = Vec::new();
    for &i in &plan.order {
        let node = &plan.nodes[i];
        let mut ups: Vec<usize> = node.inputs.values().flatten().copied().collect();
        ups.sort_unstable();
        ups.dedup();
        let upstream_keys: Vec<String> = ups.iter().map(|&u| materials[u].key()).collect();
        let first = ups.iter().map(|&u| stage_wave[u] + 1).max().unwrap_or(0);
        let units = node.stage.units();
        let mut needs = upstream_keys.clone();
        for u in &units {
            let key = materials[i].unit_key(&u.params);
            needs.push(key.clone());
            out.push(Job {
                key,
                stage: node.name.clone(),
                unit: Some(u.clone()),
                needs: upstream_keys.clone(),
                wave: first,
                node: i,
            });
        }
        stage_wave[i] = if units.is_empty() { first } else { first + 1 };
        out.push(Job {
            key: materials[i].key(),
            stage: node.name.clone(),
            unit: None,
            needs,
            wave: stage_wave[i],
            node: i,
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
pub fn exec(
    plan: &Plan,
    materials: &[Material],
    cache: &Cache,
    root: &Path,
    job: &Job,
) -> Result<Executed> {
    if cache.lookup(&job.key).is_ok() {
        return Ok(Executed::Cached);
    }
    let start = Instant::now();
    let i = job.node;
    let node = &plan.nodes[i];
    let fetch = |key: &str, what: &str| -> Result<Arc<Artifact>> {
        cache.lookup(key).map(Arc::new).map_err(|miss| {
            anyhow!(
                "{what} ({key}) is not usable in the store: {miss}. Run `qa-pipe exec {key}` \
                 first; `qa-pipe jobs` lists every job with what it needs"
            )
        })
    };
    let mut inputs = BTreeMap::new();
    for (role, ups) in &node.inputs {
        let arts = ups
            .iter()
            .map(|&u| {
                let up = &plan.nodes[u].name;
                let what = format!("input `{role}` of `{}`: stage `{up}`", node.name);
                fetch(&materials[u].key(), &what)
            })
            .collect::<Result<Vec<_>>>()?;
        inputs.insert(role.clone(), arts);
    }
    match &job.unit {
        Some(unit) => {
            compute_unit(plan, materials, cache, root, i, unit, &inputs, false)?;
        }
        None => {
            let units = node
                .stage
                .units()
                .iter()
                .map(|u| {
                    let what = format!("unit `{}` of stage `{}`", u.id, node.name);
                    fetch(&materials[i].unit_key(&u.params), &what)
                })
                .collect::<Result<Vec<_>>>()?;
            combine(
                plan, materials, cache, root, i, &inputs, &units, start, false,
            )?;
        }
    }
    Ok(Executed::Ran)
}
