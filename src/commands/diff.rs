//! `qa-pipe diff [RUN_A] [RUN_B]`: what changed between two runs (see
//! [`crate::history::compare`]). Default: the last two runs of the pipeline; one run: that
//! run against the run of its pipeline before it.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::history::compare::{self, show_value, Diff};
use crate::history::{refs, utc, Pins, RunLog, RunRecord};

use super::Project;

/// The two runs the arguments name, oldest first when defaulted.
pub fn pick<'a>(
    project: &Project,
    records: &'a [RunRecord],
    run_a: Option<&str>,
    run_b: Option<&str>,
    pipeline: Option<PathBuf>,
) -> Result<(&'a RunRecord, &'a RunRecord)> {
    let pins = Pins::load(&project.root.join("artifacts"));
    let of = || -> Result<String> {
        let p = project.pipeline_path(pipeline.clone())?;
        Ok(p.strip_prefix(&project.root)
            .unwrap_or(&p)
            .display()
            .to_string())
    };
    match (run_a, run_b) {
        (Some(a), Some(b)) => Ok((
            refs::resolve(a, records, &pins, None)?,
            refs::resolve(b, records, &pins, None)?,
        )),
        (Some(a), None) => {
            let a = refs::resolve(a, records, &pins, None)?;
            let before = records
                .iter()
                .take_while(|r| r.id != a.id)
                .filter(|r| r.pipeline == a.pipeline)
                .last()
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "run {} is the first run of {} in the log: name a second run",
                        a.id, a.pipeline
                    ))
                })?;
            Ok((before, a))
        }
        _ => {
            let p = of()?;
            Ok((
                refs::resolve("last~1", records, &pins, Some(&p))?,
                refs::resolve("last", records, &pins, Some(&p))?,
            ))
        }
    }
}

pub fn diff(
    project: &Project,
    run_a: Option<String>,
    run_b: Option<String>,
    pipeline: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let records = RunLog::new(&project.root.join("artifacts")).read()?.records;
    let (a, b) = pick(
        project,
        &records,
        run_a.as_deref(),
        run_b.as_deref(),
        pipeline,
    )?;
    let cache = project.cache()?;
    let d = compare::diff(a, b, &cache);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&d).map_err(|e| Error::Other(e.into()))?
        );
    } else {
        print!("{}", text(a, b, &d));
    }
    Ok(())
}

pub fn text(a: &RunRecord, b: &RunRecord, d: &Diff) -> String {
    let mut s = format!(
        "run {} ({} UTC, {}) -> run {} ({} UTC, {})\n",
        a.id,
        &utc(a.start_unix)[..16],
        a.pipeline,
        b.id,
        &utc(b.start_unix)[..16],
        b.pipeline
    );
    if d.pipeline_changed {
        s.push_str("pipeline file changed\n");
    }
    let section = |s: &mut String, title: &str, rows: &[compare::Change]| {
        if rows.is_empty() {
            return;
        }
        s.push_str(&format!("{title}:\n"));
        let w = rows
            .iter()
            .map(|c| c.param.chars().count())
            .max()
            .unwrap_or(0);
        for c in rows {
            s.push_str(&format!(
                "  {:<w$}  {} -> {}\n",
                c.param,
                show_value(c.a.as_ref()),
                show_value(c.b.as_ref())
            ));
        }
    };
    section(&mut s, "vars", &d.vars);
    section(&mut s, "--set", &d.sets);
    section(&mut s, "params", &d.params);
    if d.vars.is_empty() && d.sets.is_empty() && d.params.is_empty() {
        s.push_str("params: none changed\n");
    }
    if !d.params_unknown.is_empty() {
        s.push_str(&format!(
            "params unknown (artifact gone): {}\n",
            d.params_unknown.join(", ")
        ));
    }
    if d.stages.is_empty() {
        s.push_str("stages whose key changed: none\n");
    } else {
        let names: Vec<&str> = d.stages.iter().map(|c| c.stage.as_str()).collect();
        s.push_str(&format!("stages whose key changed: {}\n", names.join(", ")));
    }
    let moved: Vec<&compare::MetricChange> = d.metrics.iter().filter(|m| m.moved).collect();
    if !moved.is_empty() {
        s.push_str("metrics:\n");
        let w = moved
            .iter()
            .map(|m| m.metric.chars().count())
            .max()
            .unwrap_or(0);
        for m in &moved {
            let delta = match m.delta {
                Some(_) => format!("  {}", m.cell_delta()),
                None => String::new(),
            };
            s.push_str(&format!(
                "  {:<w$}  {} -> {}{delta}\n",
                m.metric,
                m.cell_a(),
                m.cell_b()
            ));
        }
    }
    let same = d.metrics.len() - moved.len();
    if same > 0 || d.metrics.is_empty() {
        s.push_str(&format!("metrics unchanged: {same}\n"));
    }
    s
}
