//! `qa-pipe gc`: remove the artifacts nothing keeps, from artifacts/ and from the shared
//! store, if one is named. What is kept is decided by [`crate::history::keep_set`]
//! (pipelines under pipelines/, the last N runs of the log, pinned runs), under the store
//! lock, so a run in progress is never collected; deleting the rest from any store is
//! [`crate::store::sweep`].

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::history::{self, KeepRules, Reason, RunLog};
use crate::store::sweep::{sweep, Swept};

use super::Project;

/// Minutes a shared store's artifacts are spared by default: far longer than any upload.
const REMOTE_GRACE_MIN: u64 = 60;

pub fn gc(project: &Project, dry_run: bool, keep_runs: usize, grace: Option<u64>) -> Result<()> {
    let project = project.without_sets();
    let cache = project.cache()?;
    // Decided and done under the lock: a `run` holds it from before it computes anything
    // until its record is in the log.
    let _lock = cache
        .lock(|holder| eprintln!("waiting: another qa-pipe is using artifacts/ ({holder})"))?;
    let keep = history::keep_set(&project, &cache, &KeepRules { keep_runs })?;
    let live: BTreeSet<String> = keep.keys.keys().cloned().collect();
    if project.verbose {
        for key in cache.present()? {
            if let Some(r) = keep.keys.get(&key) {
                eprintln!("{:>8} {key} ({})", "keep", why(r));
            }
        }
    }
    let tmp_freed = if dry_run { 0 } else { cache.clean_tmp() };
    let minutes = |m: u64| Duration::from_secs(m * 60);
    // Rows for --dry-run, read from the manifests before anything goes.
    let now = history::now();
    let local = sweep(&cache, &live, minutes(grace.unwrap_or(0)), dry_run)?;
    report(&project, "artifacts/", &local, tmp_freed, dry_run);
    if dry_run {
        let rows: Vec<[String; 5]> = local
            .removed
            .iter()
            .map(|(key, bytes)| row(&cache.object_dir(key), key, *bytes, now))
            .collect();
        print_rows(&rows);
    } else {
        let ids: BTreeSet<&str> = keep.runs.iter().map(String::as_str).collect();
        RunLog::new(cache.root()).prune_keys(&ids);
    }
    if let Some(remote) = cache.remote() {
        let grace = grace.unwrap_or(REMOTE_GRACE_MIN);
        let swept = sweep(remote, &live, minutes(grace), dry_run)?;
        report(&project, remote.url(), &swept, 0, dry_run);
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

fn print_rows(rows: &[[String; 5]]) {
    if rows.is_empty() {
        return;
    }
    let w = |f: fn(&[String; 5]) -> &String| {
        rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0)
    };
    let (ws, wp, wz) = (
        w(|r| &r[0]).max(5),
        w(|r| &r[1]).max(8),
        w(|r| &r[2]).max(4),
    );
    println!(
        "{:<ws$}  {:<wp$}  {:>wz$}  {:>10}  key",
        "stage", "pipeline", "size", "age"
    );
    for r in rows {
        println!(
            "{:<ws$}  {:<wp$}  {:>wz$}  {:>10}  {}",
            r[0], r[1], r[2], r[3], r[4]
        );
    }
}

fn why(r: &Reason) -> String {
    match r {
        Reason::Pipeline(p) => format!("pipeline {p}"),
        Reason::Run(id) => format!("run {id}"),
        Reason::Pin(name) => format!("pinned as {name}"),
    }
}

/// Stage, pipeline, size and age of an artifact about to go, from its manifest.
fn row(dir: &Path, key: &str, bytes: u64, now: f64) -> [String; 5] {
    let m: Option<serde_json::Value> = std::fs::read(dir.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok());
    let field = |k: &str| {
        m.as_ref()
            .and_then(|m| m.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut stage = field("stage");
    if let Some(u) = m
        .as_ref()
        .and_then(|m| m.get("unit"))
        .and_then(|v| v.as_str())
    {
        stage = format!("{stage} [{u}]");
    }
    if stage.is_empty() {
        stage = "?".into();
    }
    let pipeline = Some(field("pipeline"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "?".into());
    let age = m
        .as_ref()
        .and_then(|m| m.get("created_unix"))
        .and_then(|v| v.as_f64())
        .map(|c| history::human_duration(now - c))
        .unwrap_or_else(|| "?".into());
    [stage, pipeline, human(bytes), age, key.to_string()]
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
