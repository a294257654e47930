//! What `run` does for the history once its stages are done: read the headline metrics the
//! stages declare, append the run's record to the log, and keep the latest report of each
//! pipeline at a stable path.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::{Artifact, Cache};
use crate::headline::{self, StageMetric};
use crate::history::record::{Finished, GitProbe};
use crate::history::{RunLog, RunRecord};
use crate::keyed::KeyedPlan;

use super::{Project, Values};

/// The headline metrics of every stage that finished (in plan order), from the artifacts
/// the run verified (`artifacts`, per plan node, as the scheduler returns them); a stage
/// whose metrics cannot be read is left out with a warning (`-v`), never failing the run.
pub fn headline(
    kp: &KeyedPlan,
    artifacts: &[Option<Arc<Artifact>>],
    project: &Project,
) -> Vec<StageMetric> {
    let mut out = Vec::new();
    for &i in &kp.plan.order {
        let Some(artifact) = &artifacts[i] else {
            continue;
        };
        let stage = &kp.node(i).name;
        match kp.node(i).stage.headline(artifact) {
            Ok(ms) => out.extend(headline::finite(ms).into_iter().map(|metric| StageMetric {
                stage: stage.clone(),
                metric,
            })),
            Err(e) if project.verbose => {
                eprintln!("{:>8} {stage}: no headline metrics: {e:#}", "warning")
            }
            Err(_) => {}
        }
    }
    out
}

/// Appends the run `run` to the log (while the run still holds the store lock, so `gc` sees
/// it before it can collect anything); returns its id. A store that cannot take it gets a
/// warning: the run's results are all there.
#[allow(clippy::too_many_arguments)]
pub fn append(
    project: &Project,
    cache: &Cache,
    path: &Path,
    values: Values,
    run: &Finished,
    metrics: &[StageMetric],
    started: f64,
    git: GitProbe,
) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let record = RunRecord::new(
        git.finish(),
        run,
        &text,
        values.vars,
        values.sets,
        metrics.to_vec(),
        started,
        crate::history::now(),
    );
    match RunLog::new(cache.root()).append(&record, &run.units, run.computed) {
        Ok(()) => Some(record.id),
        Err(e) => {
            if !project.quiet {
                eprintln!(
                    "{:>8} could not record this run in the run log: {e:#}",
                    "warning"
                );
            }
            None
        }
    }
}

/// One line per stage with its headline metrics, under the run's summary.
pub fn print_metrics(metrics: &[StageMetric]) {
    let mut i = 0;
    while i < metrics.len() {
        let stage = &metrics[i].stage;
        let mut parts = Vec::new();
        while i < metrics.len() && &metrics[i].stage == stage {
            let m = &metrics[i].metric;
            let note = m
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            parts.push(format!("{} {}{note}", m.name, m.display()));
            i += 1;
        }
        eprintln!("{:>8} {stage}: {}", "metrics", parts.join(", "));
    }
}

/// Copies the report of `stage` to `artifacts/latest/PIPELINE/STAGE.html` (write to a
/// temporary name, then rename: a reader sees the old page or the new one), and returns
/// that path relative to the project. `None` when the store cannot take it (read-only,
/// full): the caller prints the artifact's own path.
pub fn latest_report(
    project: &Project,
    cache: &Cache,
    pipeline: &str,
    stage: &str,
    report: &Path,
) -> Option<PathBuf> {
    let src = project.root.join(report);
    let dir = cache.root().join("latest").join(pipeline);
    std::fs::create_dir_all(&dir).ok()?;
    let dest = dir.join(format!("{stage}.html"));
    let bytes = std::fs::read(&src).ok()?;
    crate::fileio::write_atomic(&dest, &bytes).ok()?;
    Some(
        dest.strip_prefix(&project.root)
            .map(Path::to_path_buf)
            .unwrap_or(dest),
    )
}
