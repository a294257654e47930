//! The ready-set scheduler of a run. The units of every stage and every stage's own step
//! (cache lookup, then combine, or the whole work of a stage without units) are tasks on
//! one priority queue served by `jobs` worker threads. A worker runs one task to its end
//! and never waits inside it for other tasks, so a stage is done as soon as its own work
//! is, whatever other stages are running. Ready tasks are taken critical path first: the
//! stage with the longest chain of stages below it, its own steps before units at equal
//! length, then in file order. A failed stage stops only its dependents. Knows nothing
//! about what stages compute; [`crate::executor`] runs each piece.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use anyhow::Result;

use crate::cache::{Artifact, Cache};
use crate::executor::{catch, combine, compute_unit, Inputs};
use crate::keyed::{KeyedPlan, KeyedUnit};
use crate::outcome::{StageResult, Status};
use crate::progress::{Event, PieceTicks, Progress};

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

/// What a run of the plan gives back, per plan node: how each stage ended, and the verified
/// artifact of each that finished (`None` for the rest). Callers read the artifacts from
/// here rather than looking every stage up again.
pub struct RunResults {
    pub results: Vec<StageResult>,
    pub artifacts: Vec<Option<Arc<Artifact>>>,
}

pub fn execute(
    kp: &KeyedPlan,
    cache: &Cache,
    root: &Path,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<RunResults> {
    let plan = &kp.plan;
    let n = plan.nodes.len();
    let selected = |i: usize| opts.modes[i] != Mode::Skip;
    let mut results: Vec<Option<StageResult>> = (0..n)
        .map(|i| (!selected(i)).then(|| result(kp, i, Status::NotSelected, 0.0)))
        .collect();
    if opts.dry_run {
        let mut artifacts = vec![None; n];
        for &i in &plan.order {
            if selected(i) {
                let status = match (opts.modes[i], cache.lookup(kp.key(i).as_str())) {
                    (Mode::Force, _) => Status::WouldRun("forced".into()),
                    (_, Ok(a)) => {
                        artifacts[i] = Some(Arc::new(a));
                        Status::Cached
                    }
                    (_, Err(miss)) => Status::WouldRun(miss.to_string()),
                };
                results[i] = Some(result(kp, i, status, 0.0));
            }
        }
        return Ok(RunResults {
            results: results.into_iter().map(|r| r.expect("all set")).collect(),
            artifacts,
        });
    }

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
    let left = results.iter().filter(|r| r.is_none()).count();
    let walk = Walk {
        kp,
        cache,
        root,
        modes: &opts.modes,
        progress,
        twins,
        level: levels(kp),
    };
    let mut state = State {
        queue: BinaryHeap::new(),
        stages: waiting
            .into_iter()
            .map(|waiting| StageRun {
                waiting,
                inputs: None,
                units: Vec::new(),
                dynamic_units: None,
                units_left: 0,
                units_run: 0,
                start: None,
            })
            .collect(),
        results,
        artifacts: vec![None; n],
        left,
    };
    for &i in &plan.order {
        if selected(i) && state.stages[i].waiting == 0 {
            walk.ready(&mut state, i);
        }
    }
    let shared = (Mutex::new(state), Condvar::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| walk.worker(&shared));
        }
    });
    let state = shared.0.into_inner().expect("scheduler state");
    Ok(RunResults {
        results: state
            .results
            .into_iter()
            .map(|r| r.expect("every stage has a result"))
            .collect(),
        artifacts: state.artifacts,
    })
}

/// For each stage, the number of stages on the longest path from it to a stage nothing
/// reads (itself included): how much of the run still waits behind it.
fn levels(kp: &KeyedPlan) -> Vec<u32> {
    let plan = &kp.plan;
    let mut level = vec![1u32; plan.nodes.len()];
    for &i in plan.order.iter().rev() {
        level[i] = 1 + plan
            .dependents(i)
            .into_iter()
            .map(|d| level[d])
            .max()
            .unwrap_or(0);
    }
    level
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    /// Look the stage up in the store; on a miss, queue its units (or its combine).
    Open(usize),
    Unit(usize, usize),
    Combine(usize),
}

/// A queued task with its priority: (level, stage step before unit, file order, unit order).
#[derive(PartialEq, Eq)]
struct Ready {
    rank: (u32, u8, Reverse<usize>, Reverse<usize>),
    task: Task,
}

impl Ord for Ready {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank)
    }
}

impl PartialOrd for Ready {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What a worker brings back from a task.
enum Finished {
    /// The cached artifact, or on a miss the units to compute when they depend on the
    /// inputs' contents (`Stage::units_with`; `None`: the planned units).
    Open(usize, Option<Artifact>, Option<Result<Vec<KeyedUnit>>>),
    Unit(usize, usize, Result<Artifact>, bool),
    Combine(usize, Result<Artifact>),
    /// A task of a stage that had already failed: nothing was run.
    Dropped,
}

struct StageRun {
    /// Upstream stages (and the twin computed first) not done yet.
    waiting: usize,
    inputs: Option<Arc<Inputs>>,
    units: Vec<Option<Arc<Artifact>>>,
    /// Units found only once the inputs were there (`Stage::units_with`), in place of the
    /// planned ones.
    dynamic_units: Option<Arc<Vec<KeyedUnit>>>,
    units_left: usize,
    units_run: usize,
    /// When its first unit (or its combine, without units) started.
    start: Option<Instant>,
}

struct State {
    queue: BinaryHeap<Ready>,
    stages: Vec<StageRun>,
    results: Vec<Option<StageResult>>,
    artifacts: Vec<Option<Arc<Artifact>>>,
    /// Stages without a result yet; the run ends at 0.
    left: usize,
}

/// What does not change during the run.
struct Walk<'a> {
    kp: &'a KeyedPlan,
    cache: &'a Cache,
    root: &'a Path,
    modes: &'a [Mode],
    progress: &'a dyn Progress,
    twins: Vec<Vec<usize>>,
    level: Vec<u32>,
}

impl Walk<'_> {
    /// Takes tasks until every stage has a result. A finished task's consequences (the
    /// next tasks) are queued before this worker takes its next one, so a stage's combine
    /// follows its last unit on the same worker instead of waiting behind other work.
    fn worker(&self, shared: &(Mutex<State>, Condvar)) {
        let (lock, wake) = shared;
        let mut finished: Option<Finished> = None;
        loop {
            let (task, inputs, units, unit, start) = {
                let mut st = lock.lock().expect("scheduler state");
                if let Some(f) = finished.take() {
                    self.apply(&mut st, f);
                    wake.notify_all();
                }
                let ready = loop {
                    if st.left == 0 {
                        wake.notify_all();
                        return;
                    }
                    match st.queue.pop() {
                        Some(r) => break r,
                        None => st = wake.wait(st).expect("scheduler state"),
                    }
                };
                let i = match ready.task {
                    Task::Open(i) | Task::Unit(i, _) | Task::Combine(i) => i,
                };
                if st.results[i].is_some() {
                    // The stage failed while this task was queued.
                    finished = Some(Finished::Dropped);
                    continue;
                }
                if !matches!(ready.task, Task::Open(_)) && st.stages[i].start.is_none() {
                    st.stages[i].start = Some(Instant::now());
                    self.progress.event(Event::Start {
                        stage: &self.kp.node(i).name,
                    });
                }
                let run = &st.stages[i];
                let units: Vec<Arc<Artifact>> = match ready.task {
                    Task::Combine(_) => run
                        .units
                        .iter()
                        .map(|u| u.clone().expect("every unit done before combine"))
                        .collect(),
                    _ => Vec::new(),
                };
                let unit = match ready.task {
                    Task::Unit(i, u) => Some(self.unit(run, i, u).clone()),
                    _ => None,
                };
                (
                    ready.task,
                    run.inputs.clone().expect("inputs set when ready"),
                    units,
                    unit,
                    run.start,
                )
            };
            finished = Some(self.run(task, &inputs, &units, unit.as_ref(), start));
        }
    }

    /// Runs one task, outside the lock.
    fn run(
        &self,
        task: Task,
        inputs: &Inputs,
        units: &[Arc<Artifact>],
        unit: Option<&KeyedUnit>,
        start: Option<Instant>,
    ) -> Finished {
        let (kp, cache) = (self.kp, self.cache);
        match task {
            Task::Open(i) => {
                let found = match self.modes[i] {
                    Mode::Force => None,
                    _ => cache.lookup(kp.key(i).as_str()).ok(),
                };
                // Units that depend on the inputs' contents are known only now; a kind
                // without them plans its units up front.
                let dynamic = match (&found, kp.stages[i].units.is_empty()) {
                    (None, true) => catch(|| kp.node(i).stage.units_with(inputs))
                        .map(|units| {
                            let keys = kp.stages[i].material.unit_keys();
                            units
                                .into_iter()
                                .map(|unit| KeyedUnit {
                                    key: keys.key(unit.params.as_str()),
                                    unit,
                                })
                                .collect::<Vec<_>>()
                        })
                        .map_or_else(|e| Some(Err(e)), |u| (!u.is_empty()).then_some(Ok(u))),
                    _ => None,
                };
                Finished::Open(i, found, dynamic)
            }
            Task::Unit(i, u) => {
                let ku = unit.expect("a unit task carries its unit");
                if self.modes[i] != Mode::Force {
                    if let Ok(a) = cache.lookup(ku.key.as_str()) {
                        return Finished::Unit(i, u, Ok(a), false);
                    }
                }
                let forced = self.modes[i] == Mode::Force;
                let ticks = self.ticks(i, Some(u));
                let r = catch(|| compute_unit(kp, cache, self.root, i, ku, inputs, forced, &ticks));
                Finished::Unit(i, u, r, true)
            }
            Task::Combine(i) => {
                let start = start.unwrap_or_else(Instant::now);
                let forced = self.modes[i] == Mode::Force;
                let ticks = self.ticks(i, None);
                let r = catch(|| {
                    combine(
                        kp, cache, self.root, i, inputs, units, start, forced, &ticks,
                    )
                });
                Finished::Combine(i, r)
            }
        }
    }

    /// Where piece `piece` of stage `i` (a unit, or its own step) reports its work.
    fn ticks(&self, i: usize, piece: Option<usize>) -> PieceTicks<'_> {
        PieceTicks {
            progress: self.progress,
            stage: &self.kp.node(i).name,
            piece,
        }
    }

    /// Queues stage `i`, whose inputs are all done.
    fn ready(&self, st: &mut State, i: usize) {
        let node = self.kp.node(i);
        let inputs: Inputs = node
            .inputs
            .iter()
            .map(|(role, ups)| {
                let arts = ups
                    .iter()
                    .map(|&u| st.artifacts[u].clone().expect("upstream done"))
                    .collect();
                (role.clone(), arts)
            })
            .collect();
        st.stages[i].inputs = Some(Arc::new(inputs));
        self.push(st, Task::Open(i));
    }

    fn push(&self, st: &mut State, task: Task) {
        let (i, step, u) = match task {
            Task::Open(i) => (i, 1, 0),
            Task::Combine(i) => (i, 1, 0),
            Task::Unit(i, u) => (i, 0, u),
        };
        st.queue.push(Ready {
            rank: (self.level[i], step, Reverse(i), Reverse(u)),
            task,
        });
    }

    /// Unit `u` of stage `i` in this run: a dynamic one, or as planned.
    fn unit<'s>(&'s self, run: &'s StageRun, i: usize, u: usize) -> &'s KeyedUnit {
        match &run.dynamic_units {
            Some(units) => &units[u],
            None => &self.kp.stages[i].units[u],
        }
    }

    fn unit_count(&self, run: &StageRun, i: usize) -> usize {
        match &run.dynamic_units {
            Some(units) => units.len(),
            None => self.kp.stages[i].units.len(),
        }
    }

    /// Records a finished task and queues what it makes ready.
    fn apply(&self, st: &mut State, f: Finished) {
        let kp = self.kp;
        match f {
            Finished::Dropped => {}
            Finished::Open(i, Some(a), _) => {
                let mut r = result(kp, i, Status::Cached, 0.0);
                r.notes = a.manifest.notes.clone();
                r.units_total = kp.stages[i].units.len();
                self.finish(st, i, r, Some(Arc::new(a)));
            }
            Finished::Open(i, None, Some(Err(e))) => {
                let r = self.ran(st, i, Status::Failed(format!("listing its units: {e:#}")));
                self.finish(st, i, r, None);
            }
            Finished::Open(i, None, dynamic) => {
                if let Some(Ok(units)) = dynamic {
                    st.stages[i].dynamic_units = Some(Arc::new(units));
                }
                let n = self.unit_count(&st.stages[i], i);
                if n == 0 {
                    self.push(st, Task::Combine(i));
                } else {
                    st.stages[i].units = vec![None; n];
                    st.stages[i].units_left = n;
                    for u in 0..n {
                        self.push(st, Task::Unit(i, u));
                    }
                }
            }
            Finished::Unit(i, _, _, _) | Finished::Combine(i, _) if st.results[i].is_some() => {}
            Finished::Unit(i, u, Ok(a), ran) => {
                let run = &mut st.stages[i];
                run.units[u] = Some(Arc::new(a));
                run.units_left -= 1;
                run.units_run += usize::from(ran);
                let total = run.units.len();
                let done = total - run.units_left;
                self.progress.event(Event::Unit {
                    stage: &kp.node(i).name,
                    done,
                    total,
                });
                if run.units_left == 0 {
                    self.push(st, Task::Combine(i));
                }
            }
            Finished::Unit(i, _, Err(e), ran) => {
                st.stages[i].units_run += usize::from(ran);
                let r = self.ran(st, i, Status::Failed(format!("{e:#}")));
                self.finish(st, i, r, None);
            }
            Finished::Combine(i, Ok(a)) => {
                let mut r = self.ran(st, i, Status::Ran);
                r.notes = a.manifest.notes.clone();
                self.finish(st, i, r, Some(Arc::new(a)));
            }
            Finished::Combine(i, Err(e)) => {
                let r = self.ran(st, i, Status::Failed(format!("{e:#}")));
                self.finish(st, i, r, None);
            }
        }
    }

    /// The result of a stage that ran (or failed running).
    fn ran(&self, st: &State, i: usize, status: Status) -> StageResult {
        let run = &st.stages[i];
        let duration = run.start.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
        let mut r = result(self.kp, i, status, duration);
        r.units_total = self.unit_count(run, i);
        r.units_run = run.units_run;
        r
    }

    /// Records stage `i`'s result, then readies its dependents, or skips everything below
    /// it when it failed.
    fn finish(&self, st: &mut State, i: usize, r: StageResult, art: Option<Arc<Artifact>>) {
        let plan = &self.kp.plan;
        let failed = art.is_none();
        self.progress.event(Event::Finish {
            stage: &r.stage,
            status: &r.status,
            duration_s: r.duration_s,
            units_run: r.units_run,
            units_total: r.units_total,
        });
        st.results[i] = Some(r);
        st.left -= 1;
        st.artifacts[i] = art;
        st.stages[i].units.clear();
        let mut next = plan.dependents(i);
        next.extend(self.twins[i].iter().copied());
        for d in next {
            if self.modes[d] == Mode::Skip || st.results[d].is_some() {
                continue;
            }
            if failed {
                // Every stage downstream of a failure is skipped, and counted as done.
                let mut below = vec![false; plan.nodes.len()];
                plan.with_descendants(d, &mut below);
                for (j, is_below) in below.into_iter().enumerate() {
                    if is_below && self.modes[j] != Mode::Skip && st.results[j].is_none() {
                        let why = format!("upstream stage `{}` failed", plan.nodes[i].name);
                        let r = result(self.kp, j, Status::Skipped(why), 0.0);
                        self.progress.event(Event::Finish {
                            stage: &r.stage,
                            status: &r.status,
                            duration_s: 0.0,
                            units_run: 0,
                            units_total: 0,
                        });
                        st.results[j] = Some(r);
                        st.left -= 1;
                    }
                }
            } else {
                st.stages[d].waiting -= 1;
                if st.stages[d].waiting == 0 {
                    self.ready(st, d);
                }
            }
        }
    }
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
