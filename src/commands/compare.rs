//! `qa-pipe report --compare RUN_A RUN_B`: one self-contained HTML page (the report's own
//! layout, `viz::report`) with both runs' training curves on the same axes, the params
//! diff and the metrics diff. Curves come from the `curves` tables of the runs' `train`
//! stages, read through the curves schema (`stages::curves`).

use std::path::PathBuf;

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::history::compare::{self, show_value, Diff};
use crate::history::{utc, RunLog, RunRecord};
use crate::stages::columns::Named;
use crate::stages::curves::{self, by_optimizer, read_runs};
use crate::viz::figures::{Band, CompareCurves, RunCurve};
use crate::viz::report::{render_html, EmbeddedFigure, Report, Section, Table};
use crate::viz::{render, Format};

use super::Project;

pub fn compare(project: &Project, a: &str, b: &str, output: Option<PathBuf>) -> Result<()> {
    let records = RunLog::new(&project.root.join("artifacts")).read()?.records;
    let (ra, rb) = super::diff::pick(project, &records, Some(a), Some(b), None)?;
    let cache = project.cache()?;
    let d = compare::diff(ra, rb, &cache);
    let report = build(ra, rb, &d, &cache)?;
    let html = render_html(&report);
    let out = match output {
        Some(p) if p.is_absolute() => p,
        Some(p) => project.root.join(p),
        None => cache
            .root()
            .join("compare")
            .join(format!("{}-{}.html", ra.id, rb.id)),
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Other(anyhow::anyhow!("creating {}: {e}", dir.display())))?;
    }
    crate::fileio::write_atomic(&out, html.as_bytes()).map_err(|e| Error::Other(e.into()))?;
    let shown = out.strip_prefix(&project.root).unwrap_or(&out);
    println!("report: {}", shown.display());
    Ok(())
}

/// The page: who the runs are, what changed, then one curves figure per `train` stage.
pub fn build(a: &RunRecord, b: &RunRecord, d: &Diff, cache: &Cache) -> Result<Report> {
    let names = [format!("A {}", a.id), format!("B {}", b.id)];
    let runs = Table {
        caption: "The two runs".into(),
        columns: [
            "",
            "run",
            "started (UTC)",
            "pipeline",
            "wall",
            "commit",
            "host",
        ]
        .map(String::from)
        .to_vec(),
        rows: [("A", a), ("B", b)]
            .iter()
            .map(|(n, r)| {
                vec![
                    n.to_string(),
                    r.id.clone(),
                    utc(r.start_unix),
                    r.pipeline.clone(),
                    crate::history::human_duration(r.wall_s()),
                    r.git
                        .as_ref()
                        .map(|g| format!("{}{}", g.commit, if g.dirty { " (dirty)" } else { "" }))
                        .unwrap_or_else(|| "-".into()),
                    r.host.clone(),
                ]
            })
            .collect(),
    };
    let changes: Vec<Vec<String>> = [
        ("variable", &d.vars),
        ("--set", &d.sets),
        ("param", &d.params),
    ]
    .iter()
    .flat_map(|(what, cs)| {
        cs.iter().map(move |c| {
            vec![
                what.to_string(),
                c.param.clone(),
                show_value(c.a.as_ref()),
                show_value(c.b.as_ref()),
            ]
        })
    })
    .collect();
    let params = Table {
        caption: if changes.is_empty() {
            "No param changed.".into()
        } else {
            "Params that differ (A → B)".into()
        },
        columns: ["", "param", "A", "B"].map(String::from).to_vec(),
        rows: changes,
    };
    let metrics = Table {
        caption: "Headline metrics (95% intervals where the stage gives them; Δ = B − A, with its 95% interval paired over the test questions both runs evaluated where the stage can pair them)".into(),
        columns: ["metric", "A", "B", "Δ"].map(String::from).to_vec(),
        rows: d
            .metrics
            .iter()
            .map(|m| {
                vec![
                    m.metric.clone(),
                    m.cell_a(),
                    m.cell_b(),
                    m.cell_delta(),
                ]
            })
            .collect(),
    };
    let mut figures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for s in b.stages.iter().chain(&a.stages) {
        if s.kind != "train" || !seen.insert(s.name.clone()) {
            continue;
        }
        let curves = [
            stage_curves(cache, a, &s.name),
            stage_curves(cache, b, &s.name),
        ];
        let fig = CompareCurves {
            title: format!(
                "Stage `{}`: {} (solid) vs {} (dashed)",
                s.name, names[0], names[1]
            ),
            runs: names.clone(),
            curves,
        };
        if fig.line_count() == 0 {
            continue;
        }
        let bytes = render(&fig, Format::Png)
            .map_err(|e| Error::Other(anyhow::anyhow!("figure for stage `{}`: {e}", s.name)))?;
        figures.push(EmbeddedFigure {
            caption: format!(
                "Stage `{}`: training loss and test accuracy by epoch, mean over seeds; run {} solid, run {} dashed, one colour per optimizer.",
                s.name, a.id, b.id
            ),
            format: Format::Png,
            bytes,
        });
    }
    let stages_text = if d.stages.is_empty() {
        "No stage's key changed: both runs computed the same artifacts.".to_string()
    } else {
        format!(
            "Stages whose key changed: {}.",
            d.stages
                .iter()
                .map(|c| c.stage.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(Report {
        title: format!("qa-pipe: run {} vs run {}", a.id, b.id),
        intro: Some(format!(
            "Run A {} ({}) against run B {} ({}). {stages_text}",
            a.id, a.pipeline, b.id, b.pipeline
        )),
        sections: vec![
            Section {
                title: "Runs".into(),
                text: None,
                figures: Vec::new(),
                tables: vec![runs],
            },
            Section {
                title: "Params diff".into(),
                text: None,
                figures: Vec::new(),
                tables: vec![params],
            },
            Section {
                title: "Metrics diff".into(),
                text: None,
                figures: Vec::new(),
                tables: vec![metrics],
            },
            Section {
                title: "Curves".into(),
                text: figures.is_empty().then(|| {
                    "Neither run has a `train` stage whose artifact is still in the store."
                        .to_string()
                }),
                figures,
                tables: Vec::new(),
            },
        ],
        ..Report::default()
    })
}

/// A run's curves of stage `name`, per optimizer; none when the stage or its artifact is
/// gone.
fn stage_curves(cache: &Cache, r: &RunRecord, name: &str) -> Vec<RunCurve> {
    let Some(s) = r.stage(name) else {
        return Vec::new();
    };
    let Ok(art) = cache.lookup(&s.key) else {
        return Vec::new();
    };
    let Ok(batch) = art.table(curves::CURVES) else {
        return Vec::new();
    };
    let what = format!("table `curves` of stage `{name}`");
    let Ok(runs) = read_runs(
        &Named::new(&batch, what),
        &[curves::TRAIN_MSE, curves::TEST_ACC],
        &[],
    ) else {
        return Vec::new();
    };
    by_optimizer(&runs, None)
        .into_iter()
        .map(|(opt, rs)| {
            let band = |m: &str| {
                Band::from_runs(&rs.iter().map(|r| r.metric(m).to_vec()).collect::<Vec<_>>())
            };
            RunCurve {
                epoch: rs
                    .iter()
                    .map(|r| r.epoch.clone())
                    .min_by_key(Vec::len)
                    .unwrap_or_default(),
                loss: band(curves::TRAIN_MSE),
                accuracy: band(curves::TEST_ACC),
                optimizer: opt,
            }
        })
        .collect()
}
