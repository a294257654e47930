//! `qa-pipe gc`: remove artifacts that no pipeline under pipelines/ references.

use std::collections::BTreeSet;

use crate::error::{Error, Result};

use super::Project;

pub fn gc(project: &Project, dry_run: bool) -> Result<()> {
    let cache = project.cache()?;
    let mut live = BTreeSet::new();
    for path in project.pipelines() {
        // A pipeline that does not load could reference anything: refuse rather than guess.
        let plan = project.plan(&path, &[]).map_err(|e| {
            Error::Usage(format!(
                "gc needs every pipeline to load, and {} does not:\n{e}",
                path.display()
            ))
        })?;
        let kp = project.keyed(plan, &cache)?;
        for s in &kp.stages {
            live.insert(s.key.to_string());
            live.extend(s.units.iter().map(|u| u.key.to_string()));
        }
    }
    let _lock = cache
        .lock(|holder| eprintln!("waiting: another qa-pipe is using artifacts/ ({holder})"))?;
    let mut freed = if dry_run { 0 } else { cache.clean_tmp() };
    let mut removed = 0;
    for (key, bytes) in cache.list()? {
        if !live.contains(&key) {
            removed += 1;
            freed += bytes;
            if !dry_run {
                cache.discard(&key)?;
            }
            if project.verbose {
                eprintln!(
                    "{} {key} ({bytes} bytes)",
                    if dry_run { "would remove" } else { "removed" }
                );
            }
        }
    }
    let verb = if dry_run { "would free" } else { "freed" };
    println!(
        "{removed} artifacts unreferenced, {verb} {} ({freed} bytes)",
        human(freed)
    );
    Ok(())
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
