//! `qa-pipe run`: compute what is stale, reuse the rest, record what each key was made of.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::explain;
use crate::fileio::write_atomic;
use crate::outcome::{StageResult, Status};
use crate::scheduler::{self, Mode, Options};

use super::{load_state, stage_index, Project};

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
    let started = crate::history::now();
    let path = project.pipeline_path(pipeline)?;
    let (plan, values) = project.plan_values(&path, vars)?;
    let n = plan.nodes.len();
    let mut selected = vec![only.is_empty(); n];
    for name in only {
        plan.with_ancestors(stage_index(&plan, name)?, &mut selected);
    }
    let mut forced = vec![false; n];
    for name in force {
        plan.with_descendants(stage_index(&plan, name)?, &mut forced);
    }
    let modes: Vec<Mode> = (0..n)
        .map(|i| match (selected[i], forced[i]) {
            (false, _) => Mode::Skip,
            (true, false) => Mode::Reuse,
            (true, true) => Mode::Force,
        })
        .collect();
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
    // One listing of the shared store: keys it lacks are then not asked for, and a store
    // that is down is reported before anything is computed.
    cache.index_remote()?;
    let kp = project.keyed(plan, &cache)?;
    let plan = &kp.plan;
    let prev = load_state(&cache, plan);
    if project.verbose && !project.quiet {
        for &i in &plan.order {
            if modes[i] != Mode::Skip {
                if let Err(miss) = cache.lookup(kp.key(i).as_str()) {
                    let why = explain::reasons(
                        prev.get(&plan.nodes[i].name),
                        &kp.stages[i].material,
                        Some(&miss),
                        &explain::upstream_names(plan, i),
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
    // Work inside a task (t-SNE, checksums of large files) runs on rayon's global pool:
    // sized like the scheduler's workers. Only the first call in a process takes effect.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build_global();
    let opts = Options {
        jobs,
        modes,
        dry_run,
    };
    let progress = project.progress(opts.modes.iter().filter(|m| **m != Mode::Skip).count());
    let results = scheduler::execute(&kp, &cache, &project.root, &opts, progress.as_ref())?;
    if !dry_run {
        // Artifacts reused from artifacts/ that the shared store lacks (computed while it was
        // down, or before it was named) go there now.
        let keys = kp
            .stages
            .iter()
            .flat_map(|s| std::iter::once(&s.key).chain(s.units.iter().map(|u| &u.key)));
        let pushed = cache.push_missing(keys.map(|k| k.as_str()))?;
        if pushed > 0 && !project.quiet {
            let url = cache.remote().map(|r| r.url()).unwrap_or_default();
            eprintln!(
                "{:>8} {pushed} artifact(s) from artifacts/ to {url}",
                "pushed"
            );
        }
    }

    if !dry_run {
        // Remember what each finished stage's key was made of; keep older entries for the rest.
        let mut state = prev;
        let mut changed = false;
        for (r, s) in results.iter().zip(&kp.stages) {
            if matches!(r.status, Status::Cached | Status::Ran)
                && state.get(&r.stage) != Some(&s.material)
            {
                state.insert(r.stage.clone(), s.material.clone());
                changed = true;
            }
        }
        // Only `status` reads this: a store that cannot take it (read-only, full) must not
        // fail a run whose results are all there. A rerun that changed nothing leaves it be.
        let text = serde_json::to_vec_pretty(&state).map_err(anyhow::Error::from)?;
        let write = || write_atomic(&cache.state_path(&plan.name), &text);
        if let Err(e) = if changed { write() } else { Ok(()) } {
            if !project.quiet {
                eprintln!(
                    "{:>8} could not record this run for `status`: {e}",
                    "warning"
                );
            }
        }
    }

    let metrics = super::record::headline(&kp, &cache, &results, project);
    let run_id = if dry_run {
        None
    } else {
        super::record::append(
            project, &kp, &cache, &path, values, &results, &metrics, started,
        )
    };

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
    // Each report's path: the latest copy at a stable path, or the artifact's own.
    let reports: Vec<Option<PathBuf>> = results
        .iter()
        .map(|r| {
            let report = report_path(project, &cache, r).filter(|_| !dry_run)?;
            let latest = super::record::latest_report(project, &cache, plan, r, &report);
            Some(latest.unwrap_or(report))
        })
        .collect();
    if json {
        let stages: Vec<serde_json::Value> = results
            .iter()
            .zip(&reports)
            .map(|(r, report)| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                let done = matches!(r.status, Status::Ran | Status::Cached) && !dry_run;
                if let (true, Some(o)) = (done, v.as_object_mut()) {
                    o.insert(
                        "artifact".into(),
                        serde_json::json!(cache.object_dir(r.key.as_str())),
                    );
                    o.insert("report".into(), serde_json::json!(report));
                }
                v
            })
            .collect();
        let out = serde_json::json!({
            "pipeline": plan.path,
            "ok": failed.is_empty(),
            "run": run_id,
            "wall_s": crate::history::now() - started,
            "report": reports.iter().flatten().next(),
            "metrics": metrics,
            "stages": stages,
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
        eprintln!(
            "{ran} computed, {cached} cached, {} failed in {}{}",
            failed.len(),
            crate::history::human_duration(crate::history::now() - started),
            run_id.map(|id| format!(" (run {id})")).unwrap_or_default()
        );
        super::record::print_metrics(&metrics);
    }
    // The report's path is what a quiet run is for: `-q` keeps it.
    if !json {
        for report in reports.iter().flatten() {
            println!("report: {}", report.display());
        }
    }
    // The process ends here: freeing a plan of 10,000 stages piece by piece is a tenth of
    // a fully cached run's time, for memory the OS takes back at exit anyway.
    std::mem::forget(kp);
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
fn report_path(project: &Project, cache: &crate::cache::Cache, r: &StageResult) -> Option<PathBuf> {
    if !matches!(r.status, Status::Ran | Status::Cached) {
        return None;
    }
    // The artifact was verified in this run; a second lookup of every stage's artifact
    // would double what a fully cached run costs.
    let p = cache.object_dir(r.key.as_str()).join("report.html");
    if !p.is_file() {
        return None;
    }
    Some(
        p.strip_prefix(&project.root)
            .map(|p| p.to_path_buf())
            .unwrap_or(p),
    )
}
