//! The ready-set walk of a run: every stage whose inputs are done runs on a rayon pool;
//! units of a stage run in parallel on the same pool. A failed stage stops only its
//! dependents. Knows nothing about what stages compute; [`crate::executor`] runs each piece.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::cache::{Artifact, Cache};
use crate::executor::{catch, combine, compute_unit, Inputs};
use crate::keyed::KeyedPlan;
use crate::outcome::{StageResult, Status};
use crate::progress::{Event, Progress};

/// What a run does with one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not asked for (`--only`): reported as `NotSelected`.
    Skip,
    /// Reuse a verified artifact, compute otherwise.
    Reuse,
    /// Recompute even when cached (`--force`).
    Force,
}

pub struct Options {
    pub jobs: usize,
    /// Per plan node.
    pub modes: Vec<Mode>,
    pub dry_run: bool,
}

pub fn execute(
    kp: &KeyedPlan,
    cache: &Cache,
    root: &Path,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Vec<StageResult>> {
    let plan = &kp.plan;
    let n = plan.nodes.len();
    let selected = |i: usize| opts.modes[i] != Mode::Skip;
    let mut results: Vec<Option<StageResult>> = (0..n)
        .map(|i| (!selected(i)).then(|| result(kp, i, Status::NotSelected, 0.0)))
        .collect();
    if opts.dry_run {
        for &i in &plan.order {
            if selected(i) {
                let status = match (opts.modes[i], cache.lookup(kp.key(i).as_str())) {
                    (Mode::Force, _) => Status::WouldRun("forced".into()),
                    (_, Ok(_)) => Status::Cached,
                    (_, Err(miss)) => Status::WouldRun(miss.to_string()),
                };
                results[i] = Some(result(kp, i, status, 0.0));
            }
        }
        return Ok(results.into_iter().map(|r| r.expect("all set")).collect());
    }

    let artifacts: Mutex<Vec<Option<Arc<Artifact>>>> = Mutex::new(vec![None; n]);
    let mut waiting: Vec<usize> = (0..n).map(|i| kp.upstream(i).len()).collect();
    // Stages with the same key (in one pipeline) are computed once: each twin written later
    // in the file waits for the first and then finds its artifact in the store. Twins have
    // the same inputs, so neither can be upstream of the other.
    let mut twins: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut first_with_key: HashMap<&str, usize> = HashMap::new();
    for (i, w) in waiting.iter_mut().enumerate() {
        if !selected(i) {
            continue;
        }
        match first_with_key.get(kp.key(i).as_str()) {
            Some(&f) => {
                twins[f].push(i);
                *w += 1;
            }
            None => {
                first_with_key.insert(kp.key(i).as_str(), i);
            }
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .context("starting worker threads")?;
    let (tx, rx) = mpsc::channel::<(usize, StageResult, Option<Arc<Artifact>>)>();
    let selected_count = (0..n).filter(|&i| selected(i)).count();

    // The walk itself runs on this thread (in_place_scope), so even one worker is never
    // blocked waiting for its own spawned work.
    pool.in_place_scope(|scope| {
        let spawn = |i: usize| {
            let tx = tx.clone();
            let artifacts = &artifacts;
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
                        .collect::<Inputs>()
                };
                let (res, art) = run_stage(
                    kp,
                    cache,
                    root,
                    i,
                    opts.modes[i] == Mode::Force,
                    &inputs,
                    progress,
                );
                let _ = tx.send((i, res, art));
            });
        };
        let mut done = 0;
        for &i in &plan.order {
            if selected(i) && waiting[i] == 0 {
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
                if !selected(d) || results[d].is_some() {
                    continue;
                }
                if failed {
                    // Every stage downstream of a failure is skipped, and counted as done.
                    let mut below = vec![false; n];
                    plan.with_descendants(d, &mut below);
                    for (j, is_below) in below.into_iter().enumerate() {
                        if is_below && selected(j) && results[j].is_none() {
                            let why = format!("upstream stage `{}` failed", plan.nodes[i].name);
                            let r = result(kp, j, Status::Skipped(why), 0.0);
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

fn result(kp: &KeyedPlan, i: usize, status: Status, duration_s: f64) -> StageResult {
    StageResult {
        stage: kp.node(i).name.clone(),
        kind: kp.node(i).kind.name.to_string(),
        key: kp.key(i).clone(),
        status,
        duration_s,
        units_run: 0,
        units_total: 0,
        notes: Vec::new(),
    }
}

fn run_stage(
    kp: &KeyedPlan,
    cache: &Cache,
    root: &Path,
    i: usize,
    forced: bool,
    inputs: &Inputs,
    progress: &dyn Progress,
) -> (StageResult, Option<Arc<Artifact>>) {
    let start = Instant::now();
    let node = kp.node(i);
    if !forced {
        if let Ok(a) = cache.lookup(kp.key(i).as_str()) {
            let mut r = result(kp, i, Status::Cached, 0.0);
            r.notes = a.manifest.notes.clone();
            return (r, Some(Arc::new(a)));
        }
    }
    progress.event(Event::Start { stage: &node.name });
    let units = &kp.stages[i].units;
    let units_run = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let outcome = catch(|| {
        let unit_artifacts = (0..units.len())
            .into_par_iter()
            .map(|u| -> Result<Arc<Artifact>> {
                let cached = if forced {
                    None
                } else {
                    cache.lookup(units[u].key.as_str()).ok()
                };
                let art = match cached {
                    Some(a) => a,
                    None => {
                        let a = compute_unit(kp, cache, root, i, u, inputs)?;
                        units_run.fetch_add(1, Ordering::Relaxed);
                        a
                    }
                };
                let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                progress.event(Event::Unit {
                    stage: &node.name,
                    done,
                    total: units.len(),
                });
                Ok(Arc::new(art))
            })
            .collect::<Result<Vec<_>>>()?;
        combine(kp, cache, root, i, inputs, &unit_artifacts, start)
    });
    let mut r = result(kp, i, Status::Ran, start.elapsed().as_secs_f64());
    r.units_total = units.len();
    r.units_run = units_run.into_inner();
    match outcome {
        Ok(a) => {
            r.notes = a.manifest.notes.clone();
            (r, Some(Arc::new(a)))
        }
        Err(e) => {
            r.status = Status::Failed(format!("{e:#}"));
            (r, None)
        }
    }
}
