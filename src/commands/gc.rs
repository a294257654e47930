//! `qa-pipe gc`: remove artifacts that no pipeline under pipelines/ references, from
//! artifacts/ and from the shared store, if one is named. Which keys stay is
//! [`keep_set`]; deleting the rest from any store is [`crate::store::sweep`].

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::store::sweep::{sweep, Swept};

use super::Project;

/// Minutes a shared store's artifacts are spared by default: far longer than any upload.
const REMOTE_GRACE_MIN: u64 = 60;

/// The keys `gc` keeps: every stage's and unit's key of every pipeline under pipelines/.
pub fn keep_set(project: &Project, cache: &Cache) -> Result<BTreeSet<String>> {
    let mut live = BTreeSet::new();
    for path in project.pipelines() {
        // A pipeline that does not load could reference anything: refuse rather than guess.
        let plan = project.plan(&path, &[]).map_err(|e| {
            Error::Usage(format!(
                "gc needs every pipeline to load, and {} does not:\n{e}",
                path.display()
            ))
        })?;
        let kp = project.keyed(plan, cache)?;
        for s in &kp.stages {
            live.insert(s.key.to_string());
            live.extend(s.units.iter().map(|u| u.key.to_string()));
        }
    }
    Ok(live)
}

pub fn gc(project: &Project, dry_run: bool, grace: Option<u64>) -> Result<()> {
    let cache = project.cache()?;
    let live = keep_set(project, &cache)?;
    let _lock = cache
        .lock(|holder| eprintln!("waiting: another qa-pipe is using artifacts/ ({holder})"))?;
    let tmp_freed = if dry_run { 0 } else { cache.clean_tmp() };
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let local = sweep(&cache, &live, minutes(grace.unwrap_or(0)), dry_run)?;
    report(project, "artifacts/", &local, tmp_freed, dry_run);
    if let Some(remote) = cache.remote() {
        let grace = grace.unwrap_or(REMOTE_GRACE_MIN);
        let swept = sweep(remote, &live, minutes(grace), dry_run)?;
        report(project, remote.url(), &swept, 0, dry_run);
        if swept.spared > 0 && !project.quiet {
            eprintln!(
                "{} unreferenced artifact(s) in {} are younger than {grace} min and stay (--grace)",
                swept.spared,
                remote.url()
            );
        }
    }
    Ok(())
}

fn report(project: &Project, place: &str, swept: &Swept, extra: u64, dry_run: bool) {
    let freed = swept.freed + extra;
    if project.verbose {
        for (key, bytes) in &swept.removed {
            eprintln!(
                "{} {key} ({bytes} bytes)",
                if dry_run { "would remove" } else { "removed" }
            );
        }
    }
    let verb = if dry_run { "would free" } else { "freed" };
    let whence = if place == "artifacts/" {
        String::new()
    } else {
        format!(" in {place}")
    };
    println!(
        "{} artifacts unreferenced{whence}, {verb} {} ({freed} bytes)",
        swept.removed.len(),
        human(freed)
    );
}

fn human(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < 3 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}
