//! Runs a plan: keys in topological order, then a ready-set walk where every stage whose inputs
//! are done runs on a rayon pool; units of a stage run in parallel on the same pool. A failed
//! stage stops only its dependents. Knows nothing about what stages compute.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use crate::cache::{Artifact, Cache, Meta};
use crate::graph::Plan;
use crate::hash::{FileHashes, Material};
use crate::progress::{Event, Progress};
use crate::stages::{RunCx, Unit};

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
    pub key: String,
    #[serde(flatten)]
    pub status: Status,
    pub duration_s: f64,
    pub units_run: usize,
    pub units_total: usize,
    pub notes: Vec<String>,
}

/// Computes every stage's key material, upstream keys included, in topological order.
pub fn materials(plan: &Plan, hashes: &mut FileHashes, root: &Path) -> Result<Vec<Material>> {
    let mut out: Vec<Option<Material>> = vec![None; plan.nodes.len()];
    for &i in &plan.order {
        let node = &plan.nodes[i];
        let mut inputs = BTreeMap::new();
        for (role, ups) in &node.inputs {
            let keys = ups
                .iter()
                .map(|&u| out[u].as_ref().expect("topological order").key())
                .collect();
            inputs.insert(role.clone(), keys);
        }
        let mut files = BTreeMap::new();
        for f in &node.files {
            let rel = f
                .strip_prefix(root)
                .unwrap_or(f)
                .to_string_lossy()
                .into_owned();
            files.insert(rel, hashes.hash(f)?);
        }
        out[i] = Some(Material {
            kind: node.kind.name.to_string(),
            version: node.kind.version,
            params: node.params.clone(),
            inputs,
            files,
        });
    }
    Ok(out
        .into_iter()
        .map(|m| m.expect("every node visited"))
        .collect())
}

pub struct Options {
    pub jobs: usize,
    /// Stages to consider; the rest are `NotSelected`.
    pub selected: Vec<bool>,
    /// Stages to recompute even when cached.
    pub forced: Vec<bool>,
    pub dry_run: bool,
}

pub fn execute(
    plan: &Plan,
    materials: &[Material],
    cache: &Cache,
    root: &Path,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Vec<StageResult>> {
    let n = plan.nodes.len();
    let keys: Vec<String> = materials.iter().map(Material::key).collect();
    let mut results: Vec<Option<StageResult>> = (0..n)
        .map(|i| (!opts.selected[i]).then(|| result(plan, &keys, i, Status::NotSelected, 0.0)))
        .collect();
    if opts.dry_run {
        for &i in &plan.order {
            if opts.selected[i] {
                let status = match (opts.forced[i], cache.lookup(&keys[i])) {
                    (true, _) => Status::WouldRun("forced".into()),
                    (false, Ok(_)) => Status::Cached,
                    (false, Err(miss)) => Status::WouldRun(miss.to_string()),
                };
                results[i] = Some(result(plan, &keys, i, status, 0.0));
            }
        }
        return Ok(results.into_iter().map(|r| r.expect("all set")).collect());
    }

    let artifacts: Mutex<Vec<Option<Arc<Artifact>>>> = Mutex::new(vec![None; n]);
    let mut waiting: Vec<usize> = (0..n)
        .map(|i| {
            let mut ups: Vec<usize> = plan.nodes[i].inputs.values().flatten().copied().collect();
            ups.sort();
            ups.dedup();
            ups.len()
        })
        .collect();
    // Stages with the same key (in one pipeline) are computed once: each twin written later
    // in the file waits for the first and then finds its artifact in the store. Twins have
    // the same inputs, so neither can be upstream of the other.
    let mut twins: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut first_with_key: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::new();
    for i in 0..n {
        if !opts.selected[i] {
            continue;
        }
        match first_with_key.get(keys[i].as_str()) {
            Some(&f) => {
                twins[f].push(i);
                waiting[i] += 1;
            }
            None => {
                first_with_key.insert(&keys[i], i);
            }
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .context("starting worker threads")?;
    let (tx, rx) = mpsc::channel::<(usize, StageResult, Option<Arc<Artifact>>)>();
    let selected_count = opts.selected.iter().filter(|s| **s).count();

    // The walk itself runs on this thread (in_place_scope), so even one worker is never
    // blocked waiting for its own spawned work.
    pool.in_place_scope(|scope| {
        let spawn = |i: usize| {
            let tx = tx.clone();
            let artifacts = &artifacts;
            let keys = &keys;
            scope.spawn(move |_| {
                let inputs = {
                    let arts = artifacts.lock().expect("artifacts lock");
                    plan.nodes[i]
                        .inputs
                        .iter()
                        .map(|(role, ups)| {
                            (
                                role.clone(),
                                ups.iter()
                                    .map(|&u| arts[u].clone().expect("upstream done"))
                                    .collect(),
                            )
                        })
                        .collect::<BTreeMap<String, Vec<Arc<Artifact>>>>()
                };
                let (res, art) = run_stage(
                    plan,
                    materials,
                    keys,
                    cache,
                    root,
                    i,
                    opts.forced[i],
                    &inputs,
                    progress,
                );
                let _ = tx.send((i, res, art));
            });
        };
        let mut done = 0;
        for &i in &plan.order {
            if opts.selected[i] && waiting[i] == 0 {
                spawn(i);
            }
        }
        while done < selected_count {
            let (i, res, art) = rx.recv().expect("a worker reports every stage");
            done += 1;
            let failed = matches!(res.status, Status::Failed(_) | Status::Skipped(_));
            progress.event(Event::Finish {
                stage: &res.stage,
                status: &res.status,
                duration_s: res.duration_s,
                units_run: res.units_run,
                units_total: res.units_total,
            });
            results[i] = Some(res);
            artifacts.lock().expect("artifacts lock")[i] = art;
            let mut next = plan.dependents(i);
            next.extend(twins[i].iter().copied());
            for d in next {
                if !opts.selected[d] || results[d].is_some() {
                    continue;
                }
                if failed {
                    // Every stage downstream of a failure is skipped, and counted as done.
                    let mut below = vec![false; n];
                    plan.with_descendants(d, &mut below);
                    for (j, is_below) in below.into_iter().enumerate() {
                        if is_below && opts.selected[j] && results[j].is_none() {
                            let why = format!("upstream stage `{}` failed", plan.nodes[i].name);
                            let r = result(plan, &keys, j, Status::Skipped(why), 0.0);
                            progress.event(Event::Finish {
                                stage: &r.stage,
                                status: &r.status,
                                duration_s: 0.0,
                                units_run: 0,
                                units_total: 0,
                            });
                            results[j] = Some(r);
                            done += 1;
                        }
                    }
                } else {
                    waiting[d] -= 1;
                    if waiting[d] == 0 {
                        spawn(d);
                    }
                }
            }
        }
    });
    Ok(results
        .into_iter()
        .map(|r| r.expect("every stage has a result"))
        .collect())
}

fn result(plan: &Plan, keys: &[String], i: usize, status: Status, duration_s: f64) -> StageResult {
    StageResult {
        stage: plan.nodes[i].name.clone(),
        kind: plan.nodes[i].kind.name.to_string(),
        key: keys[i].clone(),
        status,
        duration_s,
        units_run: 0,
        units_total: 0,
        notes: Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_stage(
    plan: &Plan,
    materials: &[Material],
    keys: &[String],
    cache: &Cache,
    root: &Path,
    i: usize,
    forced: bool,
    inputs: &BTreeMap<String, Vec<Arc<Artifact>>>,
    progress: &dyn Progress,
) -> (StageResult, Option<Arc<Artifact>>) {
    let start = Instant::now();
    let node = &plan.nodes[i];
    if !forced {
        if let Ok(a) = cache.lookup(&keys[i]) {
            let mut r = result(plan, keys, i, Status::Cached, 0.0);
            r.notes = a.manifest.notes.clone();
            return (r, Some(Arc::new(a)));
        }
    }
    progress.event(Event::Start { stage: &node.name });
    let units_total = std::sync::atomic::AtomicUsize::new(0);
    let units_run = std::sync::atomic::AtomicUsize::new(0);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<Artifact> {
        let units = node.stage.units_with(inputs)?;
        units_total.store(units.len(), std::sync::atomic::Ordering::Relaxed);
        let finished = std::sync::atomic::AtomicUsize::new(0);
        let unit_artifacts = units
            .par_iter()
            .map(|u| -> Result<Arc<Artifact>> {
                let ukey = materials[i].unit_key(&u.params);
                let cached = if forced {
                    None
                } else {
                    cache.lookup(&ukey).ok()
                };
                let art = match cached {
                    Some(a) => a,
                    None => {
                        let a = compute_unit(plan, materials, cache, root, i, u, inputs, forced)?;
                        units_run.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        a
                    }
                };
                let done = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress.event(Event::Unit {
                    stage: &node.name,
                    done,
                    total: units.len(),
                });
                Ok(Arc::new(art))
            })
            .collect::<Result<Vec<_>>>()?;
        combine(
            plan,
            materials,
            cache,
            root,
            i,
            inputs,
            &unit_artifacts,
            start,
            forced,
        )
    }));
    let duration_s = start.elapsed().as_secs_f64();
    let mut r = result(plan, keys, i, Status::Ran, duration_s);
    r.units_total = units_total.into_inner();
    r.units_run = units_run.into_inner();
    match outcome {
        Ok(Ok(a)) => {
            r.notes = a.manifest.notes.clone();
            (r, Some(Arc::new(a)))
        }
        Ok(Err(e)) => {
            r.status = Status::Failed(format!("{e:#}"));
            (r, None)
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            r.status = Status::Failed(format!("internal error (panic): {msg}"));
            (r, None)
        }
    }
}

/// Computes one unit of stage `i` from its params and the stage's inputs, and stores it
/// under the unit's key (`forced`: replacing an artifact already there).
#[allow(clippy::too_many_arguments)]
pub fn compute_unit(
    plan: &Plan,
    materials: &[Material],
    cache: &Cache,
    root: &Path,
    i: usize,
    unit: &Unit,
    inputs: &BTreeMap<String, Vec<Arc<Artifact>>>,
    forced: bool,
) -> Result<Artifact> {
    let node = &plan.nodes[i];
    let t = Instant::now();
    let notes = Mutex::new(Vec::new());
    let cx = RunCx {
        stage: &node.name,
        root,
        inputs,
        notes: &notes,
    };
    let mut out = node
        .stage
        .run_unit(unit, &cx)
        .with_context(|| format!("unit {}", unit.id))?;
    out.notes.extend(notes.into_inner().expect("notes"));
    let meta = meta(
        materials,
        i,
        &node.name,
        materials[i].unit_key(&unit.params),
        Some(unit.id.clone()),
        unit.params.clone(),
        t.elapsed().as_secs_f64(),
    );
    cache.store(
        Meta {
            replace: forced,
            ..meta
        },
        out,
    )
}

/// Computes stage `i` from its inputs and its units' artifacts (in `units()` order), and
/// stores it under the stage's key. `start` is when the stage started, units included;
/// `forced`: replacing an artifact already there.
#[allow(clippy::too_many_arguments)]
pub fn combine(
    plan: &Plan,
    materials: &[Material],
    cache: &Cache,
    root: &Path,
    i: usize,
    inputs: &BTreeMap<String, Vec<Arc<Artifact>>>,
    units: &[Arc<Artifact>],
    start: Instant,
    forced: bool,
) -> Result<Artifact> {
    let node = &plan.nodes[i];
    let notes = Mutex::new(Vec::new());
    let cx = RunCx {
        stage: &node.name,
        root,
        inputs,
        notes: &notes,
    };
    let mut out = node.stage.run(&cx, units)?;
    out.notes.splice(0..0, notes.into_inner().expect("notes"));
    let m = meta(
        materials,
        i,
        &node.name,
        materials[i].key(),
        None,
        materials[i].params.clone(),
        start.elapsed().as_secs_f64(),
    );
    cache.store(
        Meta {
            replace: forced,
            ..m
        },
        out,
    )
}

fn meta(
    materials: &[Material],
    i: usize,
    stage: &str,
    key: String,
    unit: Option<String>,
    params: serde_json::Value,
    duration_s: f64,
) -> Meta {
    let m = &materials[i];
    Meta {
        key,
        kind: m.kind.clone(),
        version: m.version,
        stage: stage.to_string(),
        unit,
        params,
        inputs: m.inputs.clone(),
        files: m.files.clone(),
        duration_s,
        replace: false,
    }
}
