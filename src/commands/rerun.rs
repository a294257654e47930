//! `run` again with nothing changed: when the last run of this command found or made every
//! stage's artifact and every file it depended on stats as it did then
//! ([`crate::unchanged`]), the run is known to find every stage cached, so it prints and
//! records what that planning would have, without planning. The shared store is still
//! asked exactly as a planned run asks it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::error::Result;
use crate::graph::Plan;
use crate::headline::StageMetric;
use crate::history::record::{status_name, Finished, GitProbe, StageEntry};
use crate::outcome::Status;
use crate::progress::Event;
use crate::scheduler::RunResults;
use crate::unchanged;

use super::{Project, Values};

/// What a run that found every stage cached prints and records, as the last planned run of
/// the same command saw it.
#[derive(Serialize, Deserialize)]
pub struct Summary {
    pipeline: String,
    name: String,
    /// Each stage's entry in the run log, as a run that found it cached writes it.
    stages: Vec<StageEntry>,
    /// The keys of every stage's units.
    units: Vec<String>,
    metrics: Vec<StageMetric>,
    vars: BTreeMap<String, serde_json::Value>,
    sets: BTreeMap<String, serde_json::Value>,
    /// (stage, its artifact's report.html relative to the project).
    reports: Vec<(String, PathBuf)>,
}

impl Summary {
    /// What the finished run `run` printed and recorded, as a run that found every stage
    /// cached would.
    pub fn new(
        run: &Finished,
        metrics: &[StageMetric],
        values: &Values,
        reports: &[(String, PathBuf)],
    ) -> Summary {
        let cached = |e: &StageEntry| StageEntry {
            status: status_name(&Status::Cached).into(),
            ..e.clone()
        };
        Summary {
            pipeline: run.pipeline.clone(),
            name: run.name.clone(),
            stages: run.stages.iter().map(cached).collect(),
            units: run.units.clone(),
            metrics: metrics.to_vec(),
            vars: values.vars.clone(),
            sets: values.sets.clone(),
            reports: reports.to_vec(),
        }
    }
}

/// Who is asking: the same words can mean another project or another binary. None when the
/// binary cannot be told apart from a rebuilt one (no stat of it): then nothing is recorded.
pub fn identity(project: &Project, pipeline: &Path, vars: &[String]) -> Result<Option<String>> {
    let store = project.store()?.map(|s| s.url().to_string());
    let (Some(binary), Ok(cwd)) = (unchanged::this_binary(), std::env::current_dir()) else {
        return Ok(None);
    };
    Ok(Some(
        serde_json::json!({
            "cwd": cwd,
            "root": project.root,
            "pipeline": pipeline,
            "vars": vars,
            "sets": project.sets,
            "store": store,
            "qa_pipe": format!("{binary:?}"),
        })
        .to_string(),
    ))
}

/// After a planned run of every stage: remembers `summary` and what it depended on when
/// every stage finished, else forgets any older record. Failing to is only slower next time,
/// so it is silent.
pub fn remember(
    cache: &Cache,
    plan: &Plan,
    identity: &str,
    executed: &RunResults,
    summary: &Summary,
) {
    let record = unchanged::path(cache.root(), &plan.name);
    let all_finished = executed
        .results
        .iter()
        .all(|r| matches!(r.status, Status::Cached | Status::Ran));
    if !all_finished {
        let _ = std::fs::remove_file(&record);
        return;
    }
    let state = cache.state_path(&plan.name);
    let mut files: Vec<PathBuf> = plan.sources.clone();
    files.push(state.with_extension("keys"));
    files.push(state);
    for node in &plan.nodes {
        for f in &node.files {
            // The folder too: a file added beside an input (a model's external data) can
            // change what the stage reads.
            files.extend(f.parent().map(Path::to_path_buf));
            files.push(f.clone());
        }
    }
    for art in executed.artifacts.iter().flatten() {
        files.push(art.dir.join("manifest.json"));
        let m = &art.manifest;
        files.extend(
            m.tables
                .iter()
                .chain(&m.extra)
                .map(|e| art.dir.join(&e.file)),
        );
    }
    // Removing the memo of verified tables makes the next run hash every table again.
    let memo = cache.save_verified();
    let _ = unchanged::write(&record, identity, summary, &files, &[memo]);
}

/// What the last run of `identity` saw (and how many files were checked), if its `record`
/// still holds.
pub fn check(record: &Path, identity: &str) -> Option<(Summary, usize)> {
    unchanged::check(record, identity)
}

/// The run the record `last` vouches for: prints what a planned run that found every stage
/// cached prints, and appends the same record to the run log.
pub fn finish(
    project: &Project,
    cache: &Cache,
    path: &Path,
    last: (Summary, usize),
    started: f64,
    git: GitProbe,
) -> Result<()> {
    let (s, checked) = last;
    if project.verbose && !project.quiet {
        eprintln!(
            "{:>8} {checked} files as the last run left them: every stage cached, nothing planned",
            "unchanged"
        );
    }
    let keys: Vec<&str> = s
        .stages
        .iter()
        .map(|st| st.key.as_str())
        .chain(s.units.iter().map(String::as_str))
        .collect();
    super::run::ask_store(project, cache, &keys)?;
    let progress = project.progress(s.stages.len());
    for st in &s.stages {
        progress.event(Event::Finish {
            stage: &st.name,
            status: &Status::Cached,
            duration_s: 0.0,
            units_run: 0,
            units_total: 0,
        });
    }
    drop(progress);
    super::run::push_store(project, cache, keys)?;
    let run = Finished {
        pipeline: s.pipeline,
        name: s.name,
        stages: s.stages,
        ok: true,
        units: s.units,
        computed: false,
    };
    let values = Values {
        vars: s.vars,
        sets: s.sets,
    };
    let run_id =
        super::record::append(project, cache, path, values, &run, &s.metrics, started, git);
    if !project.quiet {
        eprintln!(
            "0 computed, {} cached, 0 failed in {}{}",
            run.stages.len(),
            crate::history::human_duration(crate::history::now() - started),
            run_id.map(|id| format!(" (run {id})")).unwrap_or_default()
        );
        super::record::print_metrics(&s.metrics);
    }
    for (stage, report) in &s.reports {
        let latest = super::record::latest_report(project, cache, &run.name, stage, report);
        println!("report: {}", latest.as_ref().unwrap_or(report).display());
    }
    Ok(())
}
