//! `qa-pipe run`: compute what is stale, reuse the rest, record what each key was made of.

use std::path::PathBuf;

use crate::cache::write_atomic;
use crate::error::{Error, Result};
use crate::executor::{self, Options, Status};
use crate::explain;

use super::{key_names, load_state, stage_index, Project};

#[allow(clippy::too_many_arguments)]
pub fn run(
    project: &Project,
    pipeline: Option<PathBuf>,
    only: &[String],
    force: &[String],
    dry_run: bool,
    jobs: Option<usize>,
    vars: &[String],
    json: bool,
) -> Result<()> {
    let path = project.pipeline_path(pipeline)?;
    let plan = project.plan(&path, vars)?;
    let n = plan.nodes.len();
    let mut selected = vec![only.is_empty(); n];
    for name in only {
        plan.with_ancestors(stage_index(&plan, name)?, &mut selected);
    }
    let mut forced = vec![false; n];
    for name in force {
        plan.with_descendants(stage_index(&plan, name)?, &mut forced);
    }
    let cache = project.cache()?;
    let _lock = if dry_run {
        None
    } else {
        let quiet = project.quiet;
        Some(cache.lock(|holder| {
            if !quiet {
                eprintln!("waiting: another qa-pipe is using artifacts/ ({holder}); it will continue when that one finishes");
            }
        })?)
    };
    if !dry_run {
        cache.clean_tmp();
    }
    let materials = project.materials(&plan, &cache)?;
    let prev = load_state(&cache, &plan);
    let names = key_names(&plan, &materials);
    if project.verbose && !project.quiet {
        for &i in &plan.order {
            if selected[i] {
                if let Err(miss) = cache.lookup(&materials[i].key()) {
                    let why = explain::reasons(
                        prev.get(&plan.nodes[i].name),
                        &materials[i],
                        Some(&miss),
                        &names,
                    );
                    eprintln!("{:>8} {}: {}", "stale", plan.nodes[i].name, why.join("; "));
                }
            }
        }
    }
    let jobs = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let opts = Options {
        jobs,
        selected,
        forced,
        dry_run,
    };
    let progress = project.progress();
    let results = executor::execute(
        &plan,
        &materials,
        &cache,
        &project.root,
        &opts,
        progress.as_ref(),
    )?;

    if !dry_run {
        // Remember what each finished stage's key was made of; keep older entries for the rest.
        let mut state = prev;
        for (r, m) in results.iter().zip(&materials) {
            if matches!(r.status, Status::Cached | Status::Ran) {
                state.insert(r.stage.clone(), m.clone());
            }
        }
        let text = serde_json::to_vec_pretty(&state).map_err(anyhow::Error::from)?;
        // Only `status` reads this: a store that cannot take it (read-only, full) must not
        // fail a run whose results are all there.
        if let Err(e) = write_atomic(&cache.state_path(&plan.name), &text) {
            if !project.quiet {
                eprintln!(
                    "{:>8} could not record this run for `status`: {e}",
                    "warning"
                );
            }
        }
    }

    if dry_run && !json && !project.quiet {
        for &i in &plan.order {
            let r = &results[i];
            eprintln!("{}", crate::progress::line(&r.stage, &r.status, 0.0, 0, 0));
        }
    }
    for r in &results {
        for note in &r.notes {
            if !project.quiet && matches!(r.status, Status::Ran) {
                eprintln!("{:>8} {}: {note}", "note", r.stage);
            }
        }
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| matches!(r.status, Status::Failed(_)))
        .map(|r| r.stage.as_str())
        .collect();
    if json {
        let out = serde_json::json!({
            "pipeline": plan.path,
            "ok": failed.is_empty(),
            "stages": results,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?
        );
    } else if !project.quiet && !dry_run {
        let ran = results.iter().filter(|r| r.status == Status::Ran).count();
        let cached = results
            .iter()
            .filter(|r| r.status == Status::Cached)
            .count();
        eprintln!("{ran} computed, {cached} cached, {} failed", failed.len());
        for r in &results {
            if let Some(report) = report_path(project, &cache, r) {
                println!("report: {}", report.display());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::StagesFailed {
            failed: failed.len(),
            names: failed.join(", "),
        })
    }
}

/// A stage that produced `report.html` gets its path printed at the end of the run.
fn report_path(
    project: &Project,
    cache: &crate::cache::Cache,
    r: &executor::StageResult,
) -> Option<PathBuf> {
    if !matches!(r.status, Status::Ran | Status::Cached) {
        return None;
    }
    let a = cache.lookup(&r.key).ok()?;
    let p = a.file_path("report.html")?;
    Some(
        p.strip_prefix(&project.root)
            .map(|p| p.to_path_buf())
            .unwrap_or(p),
    )
}
