//! `qa-pipe jobs` and `qa-pipe exec`: a pipeline as jobs addressed by key, and one job run
//! on its own, for schedulers that run each job as its own process (see [`crate::jobs`]).

use std::path::PathBuf;

use std::io::Write;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::jobs::{self, Executed, Job};

use super::Project;

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    job: &'a Job,
    cached: bool,
}

pub fn list(
    project: &Project,
    pipeline: Option<PathBuf>,
    vars: &[String],
    todo: bool,
    json: bool,
) -> Result<()> {
    let (kp, cache) = project.open(pipeline, vars)?;
    // One listing of the shared store answers for every job, without downloading any.
    cache.index_remote()?;
    let all = jobs::jobs(&kp);
    // One listing instead of a failed open per job: a big sweep is mostly not computed.
    let present = cache.present()?;
    let rows: Vec<Row> = all
        .iter()
        .map(|job| Row {
            job,
            cached: cache.available(job.key.as_str(), &present),
        })
        .filter(|r| !(todo && r.cached))
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| Error::Other(e.into()))?
        );
        return Ok(());
    }
    // One write per line is most of the time of a 100,000-job listing.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for r in &rows {
        let name = r.job.name();
        let state = if r.cached { "cached" } else { "todo" };
        // A closed pipe (`| head`) ends the listing, as it does for other tools.
        if writeln!(out, "{:>4}  {}  {state:<6}  {name}", r.job.wave, r.job.key).is_err() {
            return Ok(());
        }
    }
    let _ = out.flush();
    // As `run` does: the process ends here, the OS frees a 100,000-unit plan faster.
    std::mem::forget(kp);
    Ok(())
}

pub fn exec(
    project: &Project,
    pipeline: Option<PathBuf>,
    vars: &[String],
    key: &str,
) -> Result<()> {
    let (kp, cache) = project.open(pipeline, vars)?;
    let plan = &kp.plan;
    let all = jobs::jobs(&kp);
    let job = all.iter().find(|j| j.key.as_str() == key).ok_or_else(|| {
        Error::Usage(format!(
            "no job with key {key} in {} (with these --var values); `qa-pipe jobs {}` lists them",
            plan.path.display(),
            plan.path.display()
        ))
    })?;
    let name = job.name();
    let outcome = jobs::exec(&kp, &cache, &project.root, job)?;
    if !project.quiet {
        let what = match outcome {
            Executed::Cached => "cached",
            Executed::Ran => "done",
        };
        eprintln!("{what:>8} {name}");
    }
    println!("{}", cache.object_dir(key).display());
    Ok(())
}
