//! `qa-pipe runs`: the run log as a table, one row per run; the variables and `--set`
//! values that differ between the rows shown become columns (as `dvc exp show` does), then
//! headline metrics, time and commit.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::history::compare::show_value;
use crate::history::{refs, utc, Pins, RunLog, RunRecord};

use super::Project;

/// Runs shown without `--last` (the latest ones); `--last 0` shows every run.
const DEFAULT_LAST: usize = 20;

/// Metric columns shown without `--all` (those that differ between the rows first).
const METRIC_COLUMNS: usize = 6;

pub fn runs(
    project: &Project,
    pipeline: Option<&str>,
    last: Option<usize>,
    all: bool,
    json: bool,
) -> Result<()> {
    let store = project.root.join("artifacts");
    let read = RunLog::new(&store).read_tail(last.unwrap_or(DEFAULT_LAST), |r| {
        pipeline.is_none_or(|p| refs::is_of(r, p))
    })?;
    let rows: Vec<&RunRecord> = read.records.iter().collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| Error::Other(e.into()))?
        );
        return Ok(());
    }
    if read.skipped > 0 && !project.quiet {
        eprintln!(
            "{:>8} {} unreadable line(s) in the run log skipped (a run killed while writing its record)",
            "note", read.skipped
        );
    }
    if rows.is_empty() {
        eprintln!(
            "no runs recorded yet{}",
            pipeline.map(|p| format!(" for {p}")).unwrap_or_default()
        );
        return Ok(());
    }
    let pins = Pins::load(&store);
    print!("{}", table(&rows, &pins, all, pipeline.is_none()));
    Ok(())
}

/// Values of one column per row (`None`: the run did not have it).
fn column<'a>(
    rows: &[&'a RunRecord],
    get: impl Fn(&'a RunRecord) -> Option<&'a Value>,
) -> Vec<Option<&'a Value>> {
    rows.iter().map(|r| get(r)).collect()
}

fn differs<T: PartialEq>(values: &[T]) -> bool {
    values.windows(2).any(|w| w[0] != w[1])
}

pub fn table(rows: &[&RunRecord], pins: &Pins, all: bool, show_pipeline: bool) -> String {
    let mut header: Vec<String> = vec![
        "run".into(),
        "started (UTC)".into(),
        "wall".into(),
        "ok".into(),
    ];
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let pin = pins
                .pins
                .iter()
                .find(|p| p.id == r.id)
                .map(|p| {
                    if p.name == p.id {
                        " *".to_string()
                    } else {
                        format!(" ({})", p.name)
                    }
                })
                .unwrap_or_default();
            vec![
                format!("{}{pin}", r.id),
                utc(r.start_unix)[..16].to_string(),
                crate::history::human_duration(r.wall_s()),
                if r.ok { "ok" } else { "FAILED" }.to_string(),
            ]
        })
        .collect();
    let mut add = |name: String, values: Vec<String>, header: &mut Vec<String>| {
        header.push(name);
        for (row, v) in cells.iter_mut().zip(values) {
            row.push(v);
        }
    };
    if show_pipeline {
        add(
            "pipeline".into(),
            rows.iter().map(|r| r.pipeline.clone()).collect(),
            &mut header,
        );
    }
    let hashes: Vec<&str> = rows.iter().map(|r| r.pipeline_hash.as_str()).collect();
    if all || differs(&hashes) {
        add(
            "file".into(),
            hashes
                .iter()
                .map(|h| h[..8.min(h.len())].to_string())
                .collect(),
            &mut header,
        );
    }
    let var_names: BTreeSet<&String> = rows.iter().flat_map(|r| r.vars.keys()).collect();
    for name in var_names {
        let col = column(rows, |r| r.vars.get(name));
        if all || differs(&col) {
            add(
                name.clone(),
                col.into_iter().map(show_value).collect(),
                &mut header,
            );
        }
    }
    let set_names: BTreeSet<&String> = rows.iter().flat_map(|r| r.sets.keys()).collect();
    for name in set_names {
        let col = column(rows, |r| r.sets.get(name));
        if all || differs(&col) {
            add(
                format!("--set {name}"),
                col.into_iter().map(show_value).collect(),
                &mut header,
            );
        }
    }
    // Metrics in the order the latest run declared them; those that moved first.
    let mut labels: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for r in rows.iter().rev() {
        for m in &r.metrics {
            if seen.insert(m.label()) {
                labels.push(m.label());
            }
        }
    }
    let per_row: Vec<BTreeMap<String, String>> = rows
        .iter()
        .map(|r| {
            r.metrics
                .iter()
                .map(|m| (m.label(), m.metric.display()))
                .collect()
        })
        .collect();
    let col_of = |l: &String| {
        per_row
            .iter()
            .map(|m| m.get(l).cloned())
            .collect::<Vec<_>>()
    };
    let (moved, still): (Vec<String>, Vec<String>) =
        labels.into_iter().partition(|l| differs(&col_of(l)));
    let mut shown: Vec<String> = moved.into_iter().chain(still).collect();
    let hidden = if all {
        0
    } else {
        shown.len().saturating_sub(METRIC_COLUMNS)
    };
    if !all {
        shown.truncate(METRIC_COLUMNS);
    }
    for l in shown {
        let col = col_of(&l)
            .into_iter()
            .map(|v| v.unwrap_or_else(|| "-".into()))
            .collect();
        add(l, col, &mut header);
    }
    add(
        "commit".into(),
        rows.iter()
            .map(|r| match &r.git {
                Some(g) => format!(
                    "{}{}",
                    &g.commit[..8.min(g.commit.len())],
                    if g.dirty { "+" } else { "" }
                ),
                None => "-".into(),
            })
            .collect(),
        &mut header,
    );
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            cells
                .iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String]| {
        let mut s = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&header);
    for r in &cells {
        out.push_str(&line(r));
    }
    if hidden > 0 {
        out.push_str(&format!(
            "({hidden} more metric columns: --all, or --json)\n"
        ));
    }
    out
}
