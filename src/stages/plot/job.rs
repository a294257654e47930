//! What every figure type reads with: the input stages of its role, the `evaluate`
//! evidence, and helpers for runs, intervals, labels, captions and rendering.

use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;

use super::super::columns::Named;
use super::super::curves::{self, read_runs_by, Run};
use super::super::evidence::{measure, Evidence, IntervalRow};
use super::{Common, Drawn};
use crate::cache::Artifact;
use crate::viz::figures::{display_name, Band};
use crate::viz::{render, Figure, Format};

pub(crate) struct Job<'a> {
    pub name: &'a str,
    pub from: &'a str,
    pub title: Option<&'a str>,
    pub optimizers: Option<&'a [String]>,
    pub artifacts: &'a [Arc<Artifact>],
    pub evidence: &'a [Evidence],
    pub formats: &'a [Format],
}

impl<'a> Job<'a> {
    /// The job of the figure with options `c`, reading `artifacts` (its role's stages).
    pub fn of(
        c: &'a Common,
        artifacts: &'a [Arc<Artifact>],
        evidence: &'a [Evidence],
        formats: &'a [Format],
    ) -> Job<'a> {
        Job {
            name: &c.name,
            from: &c.from,
            title: c.title.as_deref(),
            optimizers: c.optimizers.as_deref(),
            artifacts,
            evidence,
            formats,
        }
    }

    /// The figure's `title:`, else the figure type's `default`.
    pub fn title_or(&self, default: &str) -> String {
        self.title.unwrap_or(default).to_string()
    }

    pub fn artifact(&self, i: usize) -> Result<&Artifact> {
        self.artifacts.get(i).map(|a| a.as_ref()).with_context(|| {
            format!(
                "figure `{}` reads input {} of role `{}`, which has {} stage(s); add it under `inputs: {{{}: [...]}}`",
                self.name,
                i,
                self.from,
                self.artifacts.len(),
                self.from
            )
        })
    }

    /// Table `table` of input `i`, and words naming it for errors.
    pub fn batch(&self, i: usize, table: &str) -> Result<(RecordBatch, String)> {
        let a = self.artifact(i)?;
        let what = format!(
            "table `{table}` of stage `{}` (role `{}`)",
            a.manifest.stage, self.from
        );
        Ok((a.table(table)?, what))
    }

    pub fn runs(
        &self,
        i: usize,
        table: &str,
        keys: &[&str],
        required: &[&str],
        optional: &[&str],
    ) -> Result<Vec<Run>> {
        let (b, what) = self.batch(i, table)?;
        read_runs_by(&Named::new(&b, what), keys, required, optional)
    }

    /// The question-level test-accuracy interval of (input stage i, optimizer).
    pub fn interval(&self, i: usize, optimizer: &str) -> Option<&IntervalRow> {
        let source = &self.artifacts.get(i)?.manifest.stage;
        self.evidence
            .iter()
            .find_map(|e| e.interval(source, optimizer, measure::ACCURACY))
    }

    pub fn final_interval(&self, i: usize, optimizer: &str) -> Option<(f64, f64)> {
        self.interval(i, optimizer).map(|r| (r.lo, r.hi))
    }

    /// How the intervals of any input were computed ("percentile bootstrap over ..."),
    /// with what they pool.
    pub fn interval_method(&self) -> Option<String> {
        self.artifacts.iter().find_map(|a| {
            self.evidence.iter().find_map(|e| {
                e.intervals
                    .iter()
                    .find(|r| r.source == a.manifest.stage && r.measure == measure::ACCURACY)
                    .map(|r| {
                        format!(
                            "{} ({} {}, {} seeds pooled)",
                            r.method, r.units, r.unit, r.seeds
                        )
                    })
            })
        })
    }

    /// One label per input stage: `given[i]`, else the stage's name.
    pub fn labels(&self, given: Option<&[String]>) -> Vec<String> {
        (0..self.artifacts.len())
            .map(|i| {
                given
                    .and_then(|g| g.get(i))
                    .cloned()
                    .unwrap_or_else(|| self.artifacts[i].manifest.stage.clone())
            })
            .collect()
    }

    pub fn render<F: Figure>(&self, fig: &F, title: String, caption: String) -> Result<Drawn> {
        let files = self
            .formats
            .iter()
            .map(|&f| {
                let bytes = render(fig, f).with_context(|| format!("figure `{}`", self.name))?;
                Ok((f, bytes))
            })
            .collect::<Result<_>>()?;
        Ok(Drawn {
            title,
            caption,
            files,
        })
    }
}

/// The default `table:` of the figure types that read training curves.
pub fn curves_table() -> String {
    curves::CURVES.into()
}

/// A `#[serde(default)]` of `true`.
pub fn yes() -> bool {
    true
}

/// "Adam (lr=0.001)": the optimizer as the study writes it, with its learning rate when
/// the table has one.
pub fn label_of(opt: &str, runs: &[&Run]) -> String {
    let lr = runs.first().map(|r| r.last(curves::LR)).unwrap_or(f64::NAN);
    if lr.is_finite() {
        format!("{} (lr={lr})", display_name(opt))
    } else {
        display_name(opt)
    }
}

pub fn band(runs: &[&Run], metric: &str) -> Band {
    Band::from_runs(
        &runs
            .iter()
            .map(|r| r.metric(metric).to_vec())
            .collect::<Vec<_>>(),
    )
}

pub fn shortest_epochs(runs: &[&Run]) -> Vec<f64> {
    runs.iter()
        .map(|r| r.epoch.clone())
        .min_by_key(Vec::len)
        .unwrap_or_default()
}

/// How many runs each series pools, in words: "5 seeds per series (15 runs)", or each
/// count when they differ ("GD 5, SGD 4 seeds").
pub fn pooled(counts: &[(String, usize)]) -> String {
    let total: usize = counts.iter().map(|c| c.1).sum();
    match counts.first() {
        None => "no runs".into(),
        Some((_, n)) if counts.iter().all(|c| c.1 == *n) => {
            format!("{n} seeds per series ({total} runs)")
        }
        _ => {
            let each: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
            format!("seeds per series: {} ({total} runs)", each.join(", "))
        }
    }
}

/// The caption of a line figure: what lines, bands and whiskers are, with n.
pub fn line_caption(job: &Job<'_>, counts: &[(String, usize)]) -> String {
    let mut parts = vec![format!(
        "lines: mean over seeds; shaded bands: mean ± 1 std over seeds, {}",
        pooled(counts)
    )];
    if let Some(m) = job.interval_method() {
        parts.push(format!(
            "whiskers at the last epoch: 95% intervals of the final test accuracy, {m}"
        ));
    }
    parts.push("dashed grey: chance accuracy (0.5)".into());
    parts.join("; ")
}

/// "hidden" -> "Hidden size", "lr" -> "Learning rate", other names as they are.
pub fn axis_name(col: &str) -> String {
    match col {
        "hidden" => "Hidden size".into(),
        "lr" => "Learning rate".into(),
        curves::TEST_ACC => "Test accuracy".into(),
        "test_acc_mean" => "Test accuracy (mean over seeds)".into(),
        curves::TRAIN_ROWS => "training rows".into(),
        curves::TRAIN_ACC => "Train accuracy".into(),
        "batch_size" => "Batch size".into(),
        other => other.to_string(),
    }
}
