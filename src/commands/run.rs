//! `qa-pipe run`: compute what is stale, reuse the rest, record what each key was made of.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cache::{Artifact, Cache, StoreLock};
use crate::error::{Error, Result};
use crate::explain;
use crate::fileio::write_atomic;
use crate::hash::Material;
use crate::history::record::{Finished, GitProbe};
use crate::outcome::Status;
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
    // The run log's git commit, asked while the run works (a dry run records nothing).
    let git = (!dry_run).then(|| GitProbe::start(&project.root));
    let path = project.pipeline_path(pipeline)?;
    // A run of every stage may be the last one again (nothing it read has changed since):
    // then it is known without planning. The store is locked before that is checked.
    let whole = only.is_empty() && !dry_run;
    let identity = if whole {
        super::rerun::identity(project, &path, vars)?
    } else {
        None
    };
    let mut early = None;
    let record = crate::unchanged::path(
        &project.root.join("artifacts"),
        &crate::config::pipeline_name(&path),
    );
    if let (Some(id), true, true) = (&identity, force.is_empty() && !json, record.is_file()) {
        let cache = project.cache()?;
        let lock = lock(project, &cache)?;
        cache.clean_tmp();
        if let Some(last) = super::rerun::check(&record, id) {
            let git = git.expect("a run of every stage is not a dry run");
            return super::rerun::finish(project, &cache, &path, last, started, git);
        }
        early = Some((cache, lock));
    }
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
    let (cache, _lock) = match early {
        Some((cache, lock)) => (cache, Some(lock)),
        None => {
            let cache = project.cache()?;
            let lock = if dry_run {
                None
            } else {
                let lock = lock(project, &cache)?;
                cache.clean_tmp();
                Some(lock)
            };
            (cache, lock)
        }
    };
    let kp = project.keyed(plan, &cache)?;
    let plan = &kp.plan;
    // One listing of the shared store: keys it lacks are then not asked for, and a store
    // that is down is reported before anything is computed. None when every artifact is
    // here and was seen in the store within the hour.
    let wanted: Vec<&str> = (0..n)
        .filter(|&i| modes[i] != Mode::Skip)
        .flat_map(|i| kp.keys_of(i))
        .collect();
    ask_store(project, &cache, &wanted)?;
    // What `status` remembers of each stage; read now only to explain (`-v`), else at the
    // end, and only when this run changed it.
    let mut prev = None;
    if project.verbose && !project.quiet {
        let prev = prev.insert(load_state(&cache, plan));
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
    let executed = scheduler::execute(&kp, &cache, &project.root, &opts, progress.as_ref())?;
    let results = &executed.results;
    if !dry_run {
        push_store(project, &cache, (0..n).flat_map(|i| kp.keys_of(i)))?;
        remember_materials(project, &cache, &kp, results, prev);
    }

    let metrics = super::record::headline(&kp, &executed.artifacts, project);
    let finished = Finished::of(&kp, results);
    let run_id = match git {
        None => None,
        Some(git) => super::record::append(
            project,
            &cache,
            &path,
            values.clone(),
            &finished,
            &metrics,
            started,
            git,
        ),
    };

    if dry_run && !json && !project.quiet {
        for &i in &plan.order {
            let r = &results[i];
            eprintln!("{}", crate::progress::line(&r.stage, &r.status, 0.0, 0, 0));
        }
    }
    for r in results {
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
    // Each report: the artifact's own, and the latest copy at a stable path (or, where that
    // cannot be written, the artifact's own).
    let own: Vec<Option<PathBuf>> = executed
        .artifacts
        .iter()
        .map(|art| report_path(project, art.as_deref()).filter(|_| !dry_run))
        .collect();
    let reports: Vec<Option<PathBuf>> = results
        .iter()
        .zip(&own)
        .map(|(r, report)| {
            let report = report.as_ref()?;
            let latest =
                super::record::latest_report(project, &cache, &plan.name, &r.stage, report);
            Some(latest.unwrap_or_else(|| report.clone()))
        })
        .collect();
    if let Some(id) = &identity {
        let own_by_stage: Vec<(String, PathBuf)> = results
            .iter()
            .zip(&own)
            .filter_map(|(r, p)| Some((r.stage.clone(), p.clone()?)))
            .collect();
        let summary = super::rerun::Summary::new(&finished, &metrics, &values, &own_by_stage);
        super::rerun::remember(&cache, plan, id, &executed, &summary);
    }
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

/// The shared store asked once for `keys` (see [`Cache::index_remote_for`]): keys it lacks
/// are then not asked for, and a store that is down is reported before anything is computed.
pub fn ask_store(project: &Project, cache: &Cache, keys: &[&str]) -> Result<()> {
    let listed = cache.index_remote_for(keys)?;
    if let (false, Some(r), true) = (listed, cache.remote(), project.verbose) {
        eprintln!(
            "store {}: not asked: every artifact is here and was seen there within the hour",
            r.url()
        );
    }
    Ok(())
}

/// Artifacts reused from artifacts/ that the shared store lacks (computed while it was down,
/// or before it was named) go there now.
pub fn push_store<'k>(
    project: &Project,
    cache: &Cache,
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<()> {
    let pushed = cache.push_missing(keys)?;
    if pushed > 0 && !project.quiet {
        let url = cache.remote().map(|r| r.url()).unwrap_or_default();
        eprintln!(
            "{:>8} {pushed} artifact(s) from artifacts/ to {url}",
            "pushed"
        );
    }
    Ok(())
}

/// Takes the store's lock, saying so when another qa-pipe holds it.
fn lock(project: &Project, cache: &Cache) -> Result<StoreLock> {
    let quiet = project.quiet;
    Ok(cache.lock(|holder| {
        if !quiet {
            eprintln!("waiting: another qa-pipe is using artifacts/ ({holder}); it will continue when that one finishes");
        }
    })?)
}

/// A stage that produced `report.html` gets its path printed at the end of the run.
fn report_path(project: &Project, art: Option<&Artifact>) -> Option<PathBuf> {
    // The artifact as this run verified it: no second lookup, no stat per stage.
    let p = art?.file_path("report.html")?;
    Some(
        p.strip_prefix(&project.root)
            .map(|p| p.to_path_buf())
            .unwrap_or(p),
    )
}

/// Remembers for `status` what each finished stage's key was made of, keeping older entries
/// for the rest (`prev`: the state if already read). Skipped without reading the state when
/// every stage finished with the keys it already holds: a digest of (stage, key) beside it
/// says so, since a key names its material. A store that cannot take it (read-only, full)
/// gets a warning: only `status` reads it, and the run's results are all there.
fn remember_materials(
    project: &Project,
    cache: &crate::cache::Cache,
    kp: &crate::keyed::KeyedPlan,
    results: &[crate::outcome::StageResult],
    prev: Option<BTreeMap<String, Material>>,
) {
    let path = cache.state_path(&kp.plan.name);
    let digest_path = path.with_extension("keys");
    let all_finished = results
        .iter()
        .all(|r| matches!(r.status, Status::Cached | Status::Ran));
    let digest = all_finished.then(|| {
        let mut h = blake3::Hasher::new();
        for r in results {
            h.update(r.stage.as_bytes());
            h.update(b"\0");
            h.update(r.key.as_str().as_bytes());
            h.update(b"\n");
        }
        h.finalize().to_hex().to_string()
    });
    // The state itself must still be there: a digest vouches for it, it does not replace it.
    if digest.is_some() && std::fs::read_to_string(&digest_path).ok() == digest && path.is_file() {
        return;
    }
    let mut state = prev.unwrap_or_else(|| load_state(cache, &kp.plan));
    let mut changed = false;
    for (r, s) in results.iter().zip(&kp.stages) {
        if matches!(r.status, Status::Cached | Status::Ran)
            && state.get(&r.stage) != Some(&s.material)
        {
            state.insert(r.stage.clone(), s.material.clone());
            changed = true;
        }
    }
    let write = || -> std::io::Result<()> {
        if changed {
            // The digest goes first: a crash before the new one is written leaves none,
            // never one that vouches for the state it replaced.
            match std::fs::remove_file(&digest_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            write_atomic(&path, &serde_json::to_vec_pretty(&state)?)?;
        }
        match &digest {
            Some(d) => write_atomic(&digest_path, d.as_bytes()),
            None => Ok(()),
        }
    };
    if let Err(e) = write() {
        if !project.quiet {
            eprintln!(
                "{:>8} could not record this run for `status`: {e}",
                "warning"
            );
        }
    }
}
