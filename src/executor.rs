//! Running one piece of a plan: one unit of a stage, or a stage's own step (which combines
//! its units' artifacts, or is all the stage does), each stored under its key. The
//! [`crate::scheduler`] decides when; `exec` ([`crate::jobs`]) runs one alone. Knows nothing
//! about what stages compute.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::cache::{Artifact, Cache, Meta};
use crate::hash::Key;
use crate::keyed::{KeyedPlan, KeyedUnit};
use crate::progress::Ticks;
use crate::stages::RunCx;

/// A stage's inputs by role, in the order the pipeline lists them.
pub type Inputs = BTreeMap<String, Vec<Arc<Artifact>>>;

/// Computes unit `ku` of stage `i` from its params and the stage's inputs, and stores it
/// under the unit's key (`forced`: replacing an artifact already there; `ticks`: where the
/// stage reports its progress).
#[allow(clippy::too_many_arguments)]
pub fn compute_unit(
    kp: &KeyedPlan,
    cache: &Cache,
    root: &Path,
    i: usize,
    ku: &KeyedUnit,
    inputs: &Inputs,
    forced: bool,
    ticks: &dyn Ticks,
) -> Result<Artifact> {
    let node = kp.node(i);
    let t = Instant::now();
    let notes = Mutex::new(Vec::new());
    let cx = RunCx {
        stage: &node.name,
        root,
        inputs,
        notes: &notes,
        ticks,
    };
    let mut out = node
        .stage
        .run_unit(&ku.unit, &cx)
        .with_context(|| format!("unit {}", ku.unit.id))?;
    out.notes.extend(notes.into_inner().expect("notes"));
    let meta = meta(
        kp,
        i,
        ku.key.clone(),
        Some(ku.unit.id.clone()),
        ku.unit.params.value(),
        t.elapsed().as_secs_f64(),
        forced,
    );
    cache.store(meta, out)
}

/// Computes stage `i` from its inputs and its units' artifacts (in `units()` order), and
/// stores it under the stage's key. `start` is when the stage's own work began (its first
/// unit, if it has units), so the recorded duration covers units and combine; `forced`:
/// replacing an artifact already there.
#[allow(clippy::too_many_arguments)]
pub fn combine(
    kp: &KeyedPlan,
    cache: &Cache,
    root: &Path,
    i: usize,
    inputs: &Inputs,
    units: &[Arc<Artifact>],
    start: Instant,
    forced: bool,
    ticks: &dyn Ticks,
) -> Result<Artifact> {
    let node = kp.node(i);
    let notes = Mutex::new(Vec::new());
    let cx = RunCx {
        stage: &node.name,
        root,
        inputs,
        notes: &notes,
        ticks,
    };
    let mut out = node.stage.run(&cx, units)?;
    out.notes.splice(0..0, notes.into_inner().expect("notes"));
    let m = meta(
        kp,
        i,
        kp.key(i).clone(),
        None,
        kp.stages[i].material.params.clone(),
        start.elapsed().as_secs_f64(),
        forced,
    );
    cache.store(m, out)
}

/// Runs `f`, turning a panic into an error, so one broken stage fails alone.
pub fn catch<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Err(anyhow::anyhow!("internal error (panic): {msg}"))
        }
    }
}

fn meta(
    kp: &KeyedPlan,
    i: usize,
    key: Key,
    unit: Option<String>,
    params: serde_json::Value,
    duration_s: f64,
    replace: bool,
) -> Meta {
    let m = &kp.stages[i].material;
    Meta {
        key: key.to_string(),
        kind: m.kind.clone(),
        version: m.version,
        stage: kp.node(i).name.clone(),
        pipeline: kp.plan.path.to_string_lossy().into_owned(),
        unit,
        params,
        inputs: m
            .inputs
            .iter()
            .map(|(role, keys)| (role.clone(), keys.iter().map(Key::to_string).collect()))
            .collect(),
        files: m.files.clone(),
        duration_s,
        replace,
    }
}
