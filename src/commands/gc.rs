//! `qa-pipe gc`: remove the artifacts nothing keeps. What is kept is decided by
//! [`crate::history::keep_set`] (pipelines under pipelines/, the last N runs of the log,
//! pinned runs), under the store lock, so a run in progress is never collected.

use std::path::Path;

use crate::error::Result;
use crate::history::{self, KeepRules, Reason, RunLog};

use super::Project;

pub fn gc(project: &Project, dry_run: bool, keep_runs: usize) -> Result<()> {
    let project = project.without_sets();
    let cache = project.cache()?;
    // Decided and done under the lock: a `run` holds it from before it computes anything
    // until its record is in the log.
    let _lock = cache
        .lock(|holder| eprintln!("waiting: another qa-pipe is using artifacts/ ({holder})"))?;
    let keep = history::keep_set(&project, &cache, &KeepRules { keep_runs })?;
    let mut freed = if dry_run { 0 } else { cache.clean_tmp() };
    let mut removed = 0;
    let now = history::now();
    let mut rows = Vec::new();
    for (key, bytes) in cache.list()? {
        if keep.contains(&key) {
            if project.verbose {
                eprintln!("{:>8} {key} ({})", "keep", why(&keep.keys[&key]));
            }
            continue;
        }
        removed += 1;
        freed += bytes;
        if dry_run {
            rows.push(row(&cache.object_dir(&key), &key, bytes, now));
        } else {
            cache.discard(&key)?;
            if project.verbose {
                eprintln!("{:>8} {key} ({bytes} bytes)", "removed");
            }
        }
    }
    if !dry_run {
        let ids: std::collections::BTreeSet<&str> = keep.runs.iter().map(String::as_str).collect();
        RunLog::new(cache.root()).prune_keys(&ids);
    }
    let verb = if dry_run { "would free" } else { "freed" };
    println!(
        "{removed} artifacts unreferenced, {verb} {} ({freed} bytes)",
        human(freed)
    );
    if !rows.is_empty() {
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
        for r in &rows {
            println!(
                "{:<ws$}  {:<wp$}  {:>wz$}  {:>10}  {}",
                r[0], r[1], r[2], r[3], r[4]
            );
        }
    }
    Ok(())
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
