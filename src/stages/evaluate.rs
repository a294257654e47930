//! `evaluate`: accuracy, precision, recall, F1, confusion matrix and ROC AUC of every run
//! of one or more `train` or `sweep` stages (from their test scores), a comparison table
//! with the mean and standard deviation over seeds per configuration, and the uncertainty
//! that matches the question: 95% intervals from a bootstrap over test questions, and paired
//! comparisons of every two configurations on the same questions.
//!
//! Tables: `per_run` (source, optimizer, seed, status, saturated, metrics, tp/fp/tn/fn),
//! `comparison` (source, optimizer, seeds, `<metric>_mean` and `<metric>_std`; population
//! std, numpy's `np.std`, unless `ddof: 1`), and the `intervals`, `paired` and
//! `per_question` tables of [`super::evidence`]. Positive class +1; an output above 0 predicts +1.
//!
//! Why questions: the two answers of one question share its text, so they are not
//! independent; resampling rows would understate the spread. With the optional `data`
//! input (the QA stage), rows are grouped by question and bad answers by defect type;
//! without it every row is its own unit and there is no pairwise or per-defect measure.
//! Accuracy is pooled over seeds: one bootstrap draw of questions is applied to every seed.
//! Paired p-values come from a sign-flip permutation test over questions (exact up to 16
//! differing questions, else `permutations` random flips), not McNemar's test: each
//! question carries a proportion (several rows and seeds), not one binary outcome.
//! Training measures (there are no per-row training outputs) resample seeds instead.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{ArrayRef, BooleanArray, Float64Array, UInt32Array, UInt64Array};
use serde::{Deserialize, Serialize};

use super::columns::Named;
use super::curves;
use super::curves::read_runs as read_curves;
use super::eval_tables;
use super::evidence::{self, measure, IntervalRow, PairedRow, QuestionRow};
use super::qa_table;
use super::runs_table;
use super::scores::{self, RunScores};
use super::train::{batch, strings};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::ml::metrics::{mean_std, BinaryReport};
use crate::ml::stats::{bootstrap_indices, bootstrap_mean, paired, Interval};

pub const KIND: Kind = Kind {
    name: "evaluate",
    // 3: the `per_question` table (`diff` pairs two runs' accuracies question by question).
    version: 3,
    summary: "per-run metrics, mean ± std over seeds, bootstrap intervals over test questions and paired comparisons",
    inputs: &[
        Role::many("runs"),
        Role {
            name: "data",
            many: false,
            required: false,
        },
    ],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Degrees of freedom of the std over seeds: 0 = population (numpy), 1 = sample.
    #[serde(default)]
    pub ddof: usize,
    /// Bootstrap resamples (of test questions, or of seeds for training measures).
    #[serde(default = "default_resamples")]
    pub resamples: usize,
    /// Random sign flips of the permutation test when exact enumeration is too large.
    #[serde(default = "default_permutations")]
    pub permutations: usize,
    /// Seeds the resampling, so the same key gives the same bytes.
    #[serde(default)]
    pub seed: u64,
    /// Which pairs of configurations to compare: `related` (same training stage, or same
    /// optimizer/cell across stages: Adam vs SGD, E5 vs TF-IDF with Adam) or `all`.
    #[serde(default)]
    pub pairs: Pairs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairs {
    #[default]
    Related,
    All,
}

fn default_resamples() -> usize {
    2000
}
fn default_permutations() -> usize {
    9999
}

struct Evaluate {
    p: Params,
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if self.ddof > 1 {
            return Err(cx.error("ddof", "ddof must be 0 (population std) or 1 (sample std)"));
        }
        if self.resamples < 100 {
            return Err(cx.error(
                "resamples",
                "at least 100 resamples are needed for a 95% interval",
            ));
        }
        if self.permutations < 99 {
            return Err(cx.error("permutations", "at least 99 permutations are needed"));
        }
        Ok(Box::new(Evaluate { p: self }))
    }
}

/// One run: its test scores and final training numbers.
struct Run {
    source: String,
    config: String,
    seed: u64,
    status: String,
    labels: Vec<f64>,
    scores: Vec<f64>,
    train_acc: f64,
    train_mse: f64,
    /// Mean training MSE over the epochs (NaN without curves).
    loss_area: f64,
}

impl Run {
    fn saturated(&self) -> bool {
        scores::is_saturated(&self.scores)
    }
}

/// Runs of a `train` artifact (named by optimizer) or a `sweep` artifact (named by cell).
fn read_artifact(a: &Artifact) -> Result<Vec<Run>> {
    let source = a.manifest.stage.clone();
    let what = format!("stage `{source}`");
    let is_sweep = a.table_names().iter().any(|t| t == runs_table::SWEEP_RUNS);
    let (runs_name, config_col, scores_col) = if is_sweep {
        (runs_table::SWEEP_RUNS, scores::CELL, scores::CELL_LABEL)
    } else {
        (curves::RUNS, scores::OPTIMIZER, scores::OPTIMIZER)
    };
    let runs = a
        .table(runs_name)
        .with_context(|| format!("is stage `{source}` a `train` or `sweep` stage?"))?;
    let rows = runs_table::from_batch(
        &Named::new(&runs, format!("table `{runs_name}` of {what}")),
        config_col,
    )?;
    let sc = scores::from_batch(&a.table(scores::SCORES)?, scores_col, &what)?;
    // Sweep scores name cells by label; the runs table by id, in the same cell order.
    let cell_ids: Vec<String> = if is_sweep {
        Named::new(&a.table(scores::SCORES)?, what.clone()).strings(scores::CELL)?
    } else {
        Vec::new()
    };
    let id_of_label: BTreeMap<String, String> = if is_sweep {
        let labels =
            Named::new(&a.table(scores::SCORES)?, what.clone()).strings(scores::CELL_LABEL)?;
        labels.into_iter().zip(cell_ids).collect()
    } else {
        BTreeMap::new()
    };
    let mut areas: BTreeMap<(String, u64), f64> = BTreeMap::new();
    if !is_sweep && a.table_names().iter().any(|n| n == "curves") {
        let curves = a.table("curves")?;
        let c = Named::new(&curves, format!("table `curves` of {what}"));
        for r in read_curves(&c, &[curves::TRAIN_MSE], &[])? {
            let seed: u64 = r.id.get("seed").and_then(|s| s.parse().ok()).unwrap_or(0);
            let m = r.metric(curves::TRAIN_MSE);
            let finite: Vec<f64> = m.iter().copied().filter(|x| x.is_finite()).collect();
            let area = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
            areas.insert((r.optimizer.clone(), seed), area);
        }
    }
    sc.into_iter()
        .map(
            |RunScores {
                 config,
                 seed: s,
                 labels,
                 scores,
             }| {
                let key = id_of_label.get(&config).cloned().unwrap_or(config.clone());
                let row = rows
                    .iter()
                    .find(|r| r.config == key && r.seed == s)
                    .with_context(|| {
                        format!("{what}: scores of an unknown run {config}/seed={s}")
                    })?;
                Ok(Run {
                    source: source.clone(),
                    loss_area: areas.get(&(config.clone(), s)).copied().unwrap_or(f64::NAN),
                    config,
                    seed: s,
                    status: row.status.clone(),
                    labels,
                    scores,
                    // A source that does not train (`llm_judge`) has no training metrics:
                    // NaN, which every training measure skips.
                    train_acc: row.train_acc.unwrap_or(f64::NAN),
                    train_mse: row.train_mse.unwrap_or(f64::NAN),
                })
            },
        )
        .collect()
}

/// The name of the headline test accuracy of a configuration.
pub(crate) fn accuracy_metric(source: &str, config: &str) -> String {
    format!("accuracy[{source}/{config}]")
}

/// The test rows' questions and defects.
struct Questions {
    group: Vec<usize>,
    groups: usize,
    /// Defect type of each bad row ("" for good rows and untyped bad ones).
    defect: Vec<String>,
    labels: Vec<f64>,
    /// Whether rows are real question groups (a `data` input) or each row alone.
    grouped: bool,
    /// Each group's question text (`row N` for rows alone): how `per_question` names it.
    names: Vec<String>,
}

impl Questions {
    fn from_data(a: &Artifact) -> Result<Questions> {
        let b = a.table("test")?;
        let t = Named::new(&b, format!("table `test` of stage `{}`", a.manifest.stage));
        let group: Vec<usize> = t
            .f64s(qa_table::GROUP)?
            .iter()
            .map(|&g| g as usize)
            .collect();
        let labels = t.f64s(qa_table::LABEL)?;
        let defect = if t.has(qa_table::DEFECT) {
            t.strings(qa_table::DEFECT)?
        } else {
            vec![String::new(); group.len()]
        };
        let defect = defect
            .into_iter()
            .zip(&labels)
            .map(|(d, &l)| if l > 0.0 { String::new() } else { d })
            .collect();
        let groups = group.iter().map(|g| g + 1).max().unwrap_or(0);
        let mut names: Vec<String> = (1..=groups).map(|g| format!("question {g}")).collect();
        if t.has(qa_table::QUESTION) {
            let mut named = vec![false; groups];
            for (&g, text) in group.iter().zip(t.strings(qa_table::QUESTION)?) {
                if !std::mem::replace(&mut named[g], true) {
                    names[g] = text;
                }
            }
        }
        Ok(Questions {
            groups,
            group,
            defect,
            labels,
            grouped: true,
            names,
        })
    }

    fn rows_alone(labels: &[f64]) -> Questions {
        Questions {
            group: (0..labels.len()).collect(),
            groups: labels.len(),
            defect: vec![String::new(); labels.len()],
            labels: labels.to_vec(),
            grouped: false,
            names: (1..=labels.len()).map(|i| format!("row {i}")).collect(),
        }
    }

    fn defects(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in &self.defect {
            if !d.is_empty() && !out.contains(d) {
                out.push(d.clone());
            }
        }
        out.sort();
        out
    }
}

/// Per-question values and weights of one measure for one configuration; questions where
/// the measure is undefined are left out (so `ids` names the questions kept).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PerQuestion {
    pub ids: Vec<usize>,
    pub values: Vec<f64>,
    pub weights: Vec<f64>,
}

fn correct(label: f64, score: f64) -> bool {
    (label > 0.0) == (score > 0.0)
}

/// Accuracy per question over `rows` (those of interest), pooled over the runs: the share
/// of (row, run) classified right, weighted by the question's rows.
pub(crate) fn accuracy_per_question(
    group: &[usize],
    groups: usize,
    keep: impl Fn(usize) -> bool,
    labels: &[f64],
    runs: &[&[f64]],
) -> PerQuestion {
    let mut hits = vec![0.0; groups];
    let mut rows = vec![0.0; groups];
    for i in (0..group.len()).filter(|&i| keep(i)) {
        rows[group[i]] += 1.0;
        for s in runs {
            if correct(labels[i], s[i]) {
                hits[group[i]] += 1.0;
            }
        }
    }
    let r = runs.len() as f64;
    let ids: Vec<usize> = (0..groups).filter(|&g| rows[g] > 0.0).collect();
    PerQuestion {
        values: ids.iter().map(|&g| hits[g] / (rows[g] * r)).collect(),
        weights: ids.iter().map(|&g| rows[g]).collect(),
        ids,
    }
}

/// Pairwise accuracy per question: the share of (good, bad, run) triples where the good
/// answer scores above the bad one, ties counting half; questions lacking either are out.
pub(crate) fn pairwise_per_question(
    group: &[usize],
    groups: usize,
    labels: &[f64],
    runs: &[&[f64]],
) -> PerQuestion {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups];
    for (i, &g) in group.iter().enumerate() {
        members[g].push(i);
    }
    let mut out = PerQuestion {
        ids: Vec::new(),
        values: Vec::new(),
        weights: Vec::new(),
    };
    for (g, m) in members.iter().enumerate() {
        let good: Vec<usize> = m.iter().copied().filter(|&i| labels[i] > 0.0).collect();
        let bad: Vec<usize> = m.iter().copied().filter(|&i| labels[i] <= 0.0).collect();
        if good.is_empty() || bad.is_empty() {
            continue;
        }
        let mut wins = 0.0;
        for s in runs {
            for &p in &good {
                for &n in &bad {
                    wins += if s[p] > s[n] {
                        1.0
                    } else if s[p] == s[n] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        out.ids.push(g);
        out.values
            .push(wins / (runs.len() * good.len() * bad.len()) as f64);
        out.weights.push(1.0);
    }
    out
}

struct Config {
    source: String,
    config: String,
    runs: Vec<usize>,
}

struct Resampler {
    seed: u64,
    resamples: usize,
    cache: BTreeMap<usize, Vec<Vec<u32>>>,
}

impl Resampler {
    fn draws(&mut self, n: usize) -> &[Vec<u32>] {
        let (seed, b) = (self.seed, self.resamples);
        self.cache
            .entry(n)
            .or_insert_with(|| bootstrap_indices(seed, n, b))
    }
}

impl Stage for Evaluate {
    /// Test accuracy of every configuration, with its 95% interval over test questions.
    fn headline(&self, a: &Artifact) -> Result<Vec<crate::headline::Metric>> {
        let rows = evidence::intervals_from_batch(&a.table(evidence::INTERVALS)?, "intervals")?;
        Ok(rows
            .iter()
            .filter(|r| r.measure == measure::ACCURACY && r.defect.is_empty())
            .map(|r| {
                crate::headline::Metric::higher(accuracy_metric(&r.source, &r.config), r.estimate)
                    .interval(r.lo, r.hi)
            })
            .collect())
    }

    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let mut runs = Vec::new();
        for a in cx.input_all("runs") {
            runs.extend(read_artifact(a)?);
        }
        let Some(first) = runs.first() else {
            bail!("stage `{}`: the `runs` inputs hold no runs", cx.stage);
        };
        let q = match cx.input_all("data") {
            [a] => Questions::from_data(a)?,
            _ => Questions::rows_alone(&first.labels),
        };
        for r in &runs {
            if r.labels.len() != q.labels.len()
                || r.labels
                    .iter()
                    .zip(&q.labels)
                    .any(|(a, b)| (*a > 0.0) != (*b > 0.0))
            {
                bail!(
                    "stage `{}`: run {}/{}/seed={} was scored on other test rows than the `data` input's test table ({} rows vs {}): are they from the same data?",
                    cx.stage,
                    r.source,
                    r.config,
                    r.seed,
                    r.labels.len(),
                    q.labels.len()
                );
            }
        }
        let reports: Vec<BinaryReport> = runs
            .iter()
            .map(|r| BinaryReport::new(&r.labels, &r.scores))
            .collect();
        let saturated: Vec<bool> = runs.iter().map(Run::saturated).collect();
        let per_run = self.per_run(&runs, &reports, &saturated)?;

        let mut configs: Vec<Config> = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            match configs
                .iter_mut()
                .find(|c| c.source == r.source && c.config == r.config)
            {
                Some(c) => c.runs.push(i),
                None => configs.push(Config {
                    source: r.source.clone(),
                    config: r.config.clone(),
                    runs: vec![i],
                }),
            }
        }
        let comparison = self.comparison(&configs, &reports)?;

        let mut rs = Resampler {
            seed: self.p.seed,
            resamples: self.p.resamples,
            cache: BTreeMap::new(),
        };
        let b = self.p.resamples;
        let defects = q.defects();
        let mut intervals = Vec::new();
        let mut per_question = Vec::new();
        let mut measures: Vec<BTreeMap<&str, PerQuestion>> = Vec::new();
        for c in &configs {
            let scores: Vec<&[f64]> = c.runs.iter().map(|&i| runs[i].scores.as_slice()).collect();
            let n_sat = c.runs.iter().filter(|&&i| saturated[i]).count() as u32;
            let n_div = c
                .runs
                .iter()
                .filter(|&&i| runs[i].status == "diverged")
                .count() as u32;
            let seeds = c.runs.len() as u32;
            let row = |measure: &str,
                       defect: &str,
                       iv: Interval,
                       units: usize,
                       unit: &str,
                       method: String| IntervalRow {
                source: c.source.clone(),
                config: c.config.clone(),
                measure: measure.into(),
                defect: defect.into(),
                estimate: iv.estimate,
                lo: iv.lo,
                hi: iv.hi,
                units: units as u32,
                unit: unit.into(),
                seeds,
                saturated_runs: n_sat,
                diverged_runs: n_div,
                method,
                resamples: b as u32,
            };
            let unit = if q.grouped {
                "test questions"
            } else {
                "test rows"
            };
            let qmethod = |n: usize| {
                format!(
                    "percentile bootstrap over {n} {unit}{}, {b} resamples, pooled over {seeds} seed{}",
                    if q.grouped { " (a question's answers resampled together)" } else { "" },
                    if seeds == 1 { "" } else { "s" }
                )
            };
            let mut mine: BTreeMap<&str, PerQuestion> = BTreeMap::new();
            let acc = accuracy_per_question(&q.group, q.groups, |_| true, &q.labels, &scores);
            let iv = bootstrap_mean(&acc.values, &acc.weights, rs.draws(acc.ids.len()));
            intervals.push(row(
                measure::ACCURACY,
                "",
                iv,
                acc.ids.len(),
                unit,
                qmethod(acc.ids.len()),
            ));
            mine.insert(measure::ACCURACY, acc);
            if q.grouped {
                let pw = pairwise_per_question(&q.group, q.groups, &q.labels, &scores);
                if !pw.ids.is_empty() {
                    let iv = bootstrap_mean(&pw.values, &pw.weights, rs.draws(pw.ids.len()));
                    intervals.push(row(
                        measure::PAIRWISE,
                        "",
                        iv,
                        pw.ids.len(),
                        unit,
                        qmethod(pw.ids.len()),
                    ));
                    mine.insert(measure::PAIRWISE, pw);
                }
            }
            for d in &defects {
                let pq = accuracy_per_question(
                    &q.group,
                    q.groups,
                    |i| q.defect[i] == *d,
                    &q.labels,
                    &scores,
                );
                let iv = bootstrap_mean(&pq.values, &pq.weights, rs.draws(pq.ids.len()));
                intervals.push(row(
                    measure::BAD_ANSWERS,
                    d,
                    iv,
                    pq.ids.len(),
                    unit,
                    qmethod(pq.ids.len()),
                ));
            }
            // Training measures: one value per seed, resampled over seeds.
            let smethod = format!(
                "percentile bootstrap over {seeds} seed{}, {b} resamples",
                if seeds == 1 { "" } else { "s" }
            );
            for (m, f) in [
                (
                    measure::TRAIN_ACCURACY,
                    (|r: &Run| r.train_acc) as fn(&Run) -> f64,
                ),
                (measure::TRAIN_MSE, |r: &Run| r.train_mse),
                (measure::TRAIN_LOSS_AREA, |r: &Run| r.loss_area),
            ] {
                let v: Vec<f64> = c
                    .runs
                    .iter()
                    .map(|&i| f(&runs[i]))
                    .filter(|x| x.is_finite())
                    .collect();
                if v.is_empty() {
                    continue;
                }
                let w = vec![1.0; v.len()];
                let iv = bootstrap_mean(&v, &w, rs.draws(v.len()));
                intervals.push(row(m, "", iv, v.len(), "seeds", smethod.clone()));
            }
            for (m, pq) in &mine {
                per_question.extend(pq.ids.iter().zip(&pq.values).zip(&pq.weights).map(
                    |((&g, &value), &weight)| QuestionRow {
                        source: c.source.clone(),
                        config: c.config.clone(),
                        measure: m.to_string(),
                        question: q.names[g].clone(),
                        value,
                        weight,
                    },
                ));
            }
            measures.push(mine);
        }

        let mut paired_rows = Vec::new();
        for i in 0..configs.len() {
            for j in i + 1..configs.len() {
                let related = configs[i].source == configs[j].source
                    || configs[i].config == configs[j].config;
                if self.p.pairs == Pairs::Related && !related {
                    continue;
                }
                for m in [measure::ACCURACY, measure::PAIRWISE] {
                    let (Some(a), Some(bq)) = (measures[i].get(m), measures[j].get(m)) else {
                        continue;
                    };
                    if a.ids != bq.ids {
                        continue;
                    }
                    let pr = paired(
                        &a.values,
                        &bq.values,
                        &a.weights,
                        rs.draws(a.ids.len()),
                        self.p.permutations,
                        self.p.seed,
                    );
                    let test = if pr.exact {
                        format!(
                            "paired sign-flip permutation over {}, exact ({} assignments)",
                            if q.grouped { "questions" } else { "rows" },
                            pr.permutations
                        )
                    } else {
                        format!(
                            "paired sign-flip permutation over {}, {} random flips",
                            if q.grouped { "questions" } else { "rows" },
                            pr.permutations
                        )
                    };
                    paired_rows.push(PairedRow {
                        measure: m.into(),
                        source_a: configs[i].source.clone(),
                        config_a: configs[i].config.clone(),
                        source_b: configs[j].source.clone(),
                        config_b: configs[j].config.clone(),
                        a: crate::ml::stats::weighted_mean(&a.values, &a.weights),
                        b: crate::ml::stats::weighted_mean(&bq.values, &bq.weights),
                        difference: pr.difference.estimate,
                        lo: pr.difference.lo,
                        hi: pr.difference.hi,
                        p_value: pr.p_value,
                        units: a.ids.len() as u32,
                        test,
                        resamples: b as u32,
                    });
                }
            }
        }

        let mut out = Output::default()
            .table(eval_tables::PER_RUN, per_run)
            .table(eval_tables::COMPARISON, comparison)
            .table(
                evidence::INTERVALS,
                evidence::intervals_to_batch(&intervals)?,
            )
            .table(evidence::PAIRED, evidence::paired_to_batch(&paired_rows)?)
            .table(
                evidence::PER_QUESTION,
                evidence::per_question_to_batch(&per_question)?,
            );
        let n = runs.len();
        let diverged = runs.iter().filter(|r| r.status == "diverged").count();
        if diverged > 0 {
            out.notes.push(format!(
                "{diverged} of {n} runs diverged; their scores are from their last finite epoch"
            ));
        }
        let sat: Vec<String> = runs
            .iter()
            .zip(&saturated)
            .filter(|(_, s)| **s)
            .map(|(r, _)| format!("{}/{}/seed={}", r.source, r.config, r.seed))
            .collect();
        if !sat.is_empty() {
            out.notes.push(format!(
                "{} of {n} runs are saturated (one constant output for every test row): {}",
                sat.len(),
                sat.join(", ")
            ));
        }
        Ok(out)
    }
}

fn metric(r: &BinaryReport, name: &str) -> Option<f64> {
    match name {
        eval_tables::ACCURACY => Some(r.accuracy),
        eval_tables::PRECISION => Some(r.precision),
        eval_tables::RECALL => Some(r.recall),
        eval_tables::F1 => Some(r.f1),
        _ => r.roc_auc,
    }
}

impl Evaluate {
    fn per_run(
        &self,
        runs: &[Run],
        reports: &[BinaryReport],
        saturated: &[bool],
    ) -> Result<arrow::array::RecordBatch> {
        let text = |f: fn(&Run) -> String| strings(runs.iter().map(f).collect());
        let mut cols: Vec<(&str, ArrayRef)> = vec![
            (eval_tables::SOURCE, text(|r| r.source.clone())),
            (eval_tables::CONFIG, text(|r| r.config.clone())),
            (
                eval_tables::SEED,
                Arc::new(UInt64Array::from_iter_values(runs.iter().map(|r| r.seed))),
            ),
            (eval_tables::STATUS, text(|r| r.status.clone())),
            (
                eval_tables::SATURATED,
                Arc::new(BooleanArray::from(saturated.to_vec())),
            ),
        ];
        for m in eval_tables::METRICS {
            let v: Float64Array = reports.iter().map(|r| metric(r, m)).collect();
            cols.push((m, Arc::new(v)));
        }
        let count = |f: fn(&BinaryReport) -> usize| -> ArrayRef {
            Arc::new(UInt32Array::from_iter_values(
                reports.iter().map(|r| f(r) as u32),
            ))
        };
        cols.push((eval_tables::TP, count(|r| r.confusion.tp)));
        cols.push((eval_tables::FP, count(|r| r.confusion.fp)));
        cols.push((eval_tables::TN, count(|r| r.confusion.tn)));
        cols.push((eval_tables::FN, count(|r| r.confusion.fn_)));
        batch(cols)
    }

    fn comparison(
        &self,
        configs: &[Config],
        reports: &[BinaryReport],
    ) -> Result<arrow::array::RecordBatch> {
        let mut cols: Vec<(String, ArrayRef)> = vec![
            (
                eval_tables::SOURCE.into(),
                strings(configs.iter().map(|g| g.source.clone()).collect()),
            ),
            (
                eval_tables::CONFIG.into(),
                strings(configs.iter().map(|g| g.config.clone()).collect()),
            ),
            (
                eval_tables::SEEDS.into(),
                Arc::new(UInt32Array::from_iter_values(
                    configs.iter().map(|g| g.runs.len() as u32),
                )),
            ),
        ];
        for m in eval_tables::METRICS {
            let (mut means, mut stds) = (Vec::new(), Vec::new());
            for g in configs {
                let xs: Vec<f64> = g
                    .runs
                    .iter()
                    .filter_map(|&i| metric(&reports[i], m))
                    .collect();
                let (mean, std) = mean_std(&xs, self.p.ddof);
                means.push((!xs.is_empty()).then_some(mean));
                stds.push((xs.len() > self.p.ddof).then_some(std));
            }
            cols.push((eval_tables::mean(m), Arc::new(Float64Array::from(means))));
            cols.push((eval_tables::std(m), Arc::new(Float64Array::from(stds))));
        }
        batch(cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    //! Every number below is from `scripts/stats_reference.py` (numpy 2.4.6, scipy 1.17.1),
    //! which recomputes them from the raw rows with numpy, the same SplitMix64 index stream,
    //! and scipy.stats.permutation_test. Its output, pasted:
    //!
    //! ```text
    //! accuracy A (rows) np.float64(0.71875)
    //! accuracy A ['0.71875', '0.625', '0.8125']
    //! accuracy B ['0.46875', '0.34375', '0.5625']
    //! pairwise A ['0.90625', '0.78125', '1.0']
    //! bad answers off_topic A ['0.6666666666666666', '0.5', '1.0']
    //! bad answers vague A ['0.6666666666666666', '0.0', '1.0']
    //! bad answers wrong_fact A ['0.5', '0.0', '1.0']
    //! paired accuracy A-B ['0.25', '0.09296875000000002', '0.375']
    //! exact sign-flip p np.float64(0.0546875) over 256
    //! scipy permutation_test p 0.0546875
    //! d40 0.662,-0.717,0.175,-0.12,-0.086,-0.015,-0.556,-0.02,-0.21,1.047,0.118,-0.056,-0.034,-0.15,-0.267,-0.067,0.195,-0.022,0.337,-0.01,0.057,0.514,0.214,-0.102,-0.005,0.212,0.631,-0.031,-0.023,0.351,-0.216,-0.038,0.315,0.224,0.077,0.251,-0.798,0.356,-0.238,-0.451
    //! random sign-flip p 0.504
    //! scipy permutation_test p (99999 random) 0.50404
    //! ```
    use super::*;
    use crate::ml::stats::sign_flip_p;
    use crate::stages::evidence::{intervals_from_batch, paired_from_batch};
    use crate::stages::testkit::Store;
    use arrow::array::{Int8Array, RecordBatch, StringArray};

    const G: usize = 8;
    const DEFECT: [&str; 16] = [
        "",
        "vague",
        "",
        "off_topic",
        "",
        "vague",
        "",
        "wrong_fact",
        "",
        "off_topic",
        "",
        "vague",
        "",
        "wrong_fact",
        "",
        "off_topic",
    ];
    const A: [[f64; 16]; 2] = [
        [
            0.9, -0.2, 0.4, 0.3, -0.1, -0.5, 0.3, 0.6, 0.2, -0.9, 0.7, 0.1, -0.3, -0.4, 0.5, -0.6,
        ],
        [
            0.6, -0.1, 0.2, -0.3, 0.3, -0.2, 0.9, 0.7, -0.4, -0.8, 0.2, 0.2, 0.1, -0.5, 0.4, 0.3,
        ],
    ];
    const B: [[f64; 16]; 2] = [
        [
            0.1, 0.2, -0.4, -0.3, 0.5, 0.6, -0.2, -0.1, 0.3, 0.4, -0.6, 0.2, 0.7, 0.8, -0.1, 0.1,
        ],
        [
            0.2, 0.1, 0.3, 0.4, -0.5, -0.6, 0.1, -0.2, 0.6, 0.5, 0.2, 0.3, -0.1, -0.3, 0.4, 0.2,
        ],
    ];
    const SEED: u64 = 7;
    const RESAMPLES: usize = 200;

    fn group() -> Vec<usize> {
        (0..2 * G).map(|i| i / 2).collect()
    }
    fn labels() -> Vec<f64> {
        (0..2 * G)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect()
    }

    fn close(got: Interval, want: [f64; 3]) {
        let g = [got.estimate, got.lo, got.hi];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{g:?} vs {want:?}");
        }
    }

    #[test]
    fn question_level_statistics_match_the_numpy_reference() {
        let (group, labels) = (group(), labels());
        let draws = bootstrap_indices(SEED, G, RESAMPLES);
        let a: Vec<&[f64]> = A.iter().map(|r| r.as_slice()).collect();
        let b: Vec<&[f64]> = B.iter().map(|r| r.as_slice()).collect();
        let acc_a = accuracy_per_question(&group, G, |_| true, &labels, &a);
        let acc_b = accuracy_per_question(&group, G, |_| true, &labels, &b);
        close(
            bootstrap_mean(&acc_a.values, &acc_a.weights, &draws),
            [0.71875, 0.625, 0.8125],
        );
        close(
            bootstrap_mean(&acc_b.values, &acc_b.weights, &draws),
            [0.46875, 0.34375, 0.5625],
        );
        let pw = pairwise_per_question(&group, G, &labels, &a);
        close(
            bootstrap_mean(&pw.values, &pw.weights, &draws),
            [0.90625, 0.78125, 1.0],
        );
        for (d, want) in [
            ("off_topic", [2.0 / 3.0, 0.5, 1.0]),
            ("vague", [2.0 / 3.0, 0.0, 1.0]),
            ("wrong_fact", [0.5, 0.0, 1.0]),
        ] {
            let pq = accuracy_per_question(&group, G, |i| DEFECT[i] == d, &labels, &a);
            let dr = bootstrap_indices(SEED, pq.ids.len(), RESAMPLES);
            close(bootstrap_mean(&pq.values, &pq.weights, &dr), want);
        }
        let pr = paired(
            &acc_a.values,
            &acc_b.values,
            &acc_a.weights,
            &draws,
            999,
            SEED,
        );
        close(pr.difference, [0.25, 0.09296875000000002, 0.375]);
        assert!(pr.exact);
        assert_eq!(pr.permutations, 256);
        assert!((pr.p_value - 0.0546875).abs() < 1e-15);
    }

    #[test]
    fn random_sign_flips_follow_the_reference_stream() {
        let d: Vec<f64> = "0.662,-0.717,0.175,-0.12,-0.086,-0.015,-0.556,-0.02,-0.21,1.047,0.118,-0.056,-0.034,-0.15,-0.267,-0.067,0.195,-0.022,0.337,-0.01,0.057,0.514,0.214,-0.102,-0.005,0.212,0.631,-0.031,-0.023,0.351,-0.216,-0.038,0.315,0.224,0.077,0.251,-0.798,0.356,-0.238,-0.451"
            .split(',')
            .map(|x| x.parse().unwrap())
            .collect();
        let (p, exact) = sign_flip_p(&d, &vec![1.0; d.len()], 999, SEED + 1);
        assert!(!exact);
        assert!((p - 0.504).abs() < 1e-15, "{p}");
    }

    fn train_artifact(store: &Store) -> Arc<Artifact> {
        train_artifact_of(store, "", &[("adam", &A), ("gd", &B)])
    }

    /// The `train` artifact of stage `optimizers` in run `run` (its own key), whose
    /// optimizers scored the given runs.
    fn train_artifact_of(
        store: &Store,
        run: &str,
        configs: &[(&str, &[[f64; 16]; 2])],
    ) -> Arc<Artifact> {
        let mut score_parts = Vec::new();
        let (mut opt, mut seed, mut status, mut tacc, mut tmse) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for &(name, runs) in configs {
            for (s, r) in runs.iter().enumerate() {
                score_parts.push(
                    scores::to_batch(&[(scores::OPTIMIZER, name)], s as u64, &labels(), r).unwrap(),
                );
                opt.push(name.to_string());
                seed.push(s as u64);
                status.push("completed".to_string());
                tacc.push(0.9 + 0.01 * s as f64);
                tmse.push(0.1 * (s + 1) as f64);
            }
        }
        let sc = arrow::compute::concat_batches(&score_parts[0].schema(), &score_parts).unwrap();
        let runs = batch(vec![
            ("optimizer", strings(opt)),
            ("seed", Arc::new(UInt64Array::from(seed))),
            ("status", strings(status)),
            ("train_acc", Arc::new(Float64Array::from(tacc))),
            ("train_mse", Arc::new(Float64Array::from(tmse))),
        ])
        .unwrap();
        let params = serde_json::json!({ "made_by": "testkit", "run": run });
        let out = Output::default().table("runs", runs).table("scores", sc);
        store.put_with_params("optimizers", "train", &[], params, out)
    }

    /// Run 1's adam scored A, run 2's adam scored B, on the same questions: the change of
    /// adam's accuracy from run 1 to run 2 is B − A paired over the questions, the negation
    /// of the reference's paired A − B (0.25 [0.09296875, 0.375], same seed and resamples;
    /// the percentile interval of −d is the negated interval of d).
    #[test]
    fn a_change_between_two_runs_is_paired_over_the_same_questions() {
        let store = Store::new();
        let data = data_artifact(&store);
        let params = serde_json::to_value(&stage().p).unwrap();
        let evaluated = |name: &str, runs: &[[f64; 16]; 2]| {
            let train = train_artifact_of(&store, name, &[("adam", runs)]);
            let out = stage()
                .run_in(&store, vec![train.clone()], Some(data.clone()))
                .unwrap();
            store.put_with_params("eval", "evaluate", &[&train], params.clone(), out)
        };
        let (one, two) = (evaluated("one", &A), evaluated("two", &B));
        let changes = crate::stages::paired_changes(&one, &two).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        let c = &changes[0];
        assert_eq!(c.metric, "accuracy[optimizers/adam]");
        assert_eq!(c.questions, G);
        close(
            Interval {
                estimate: c.difference,
                lo: c.lo,
                hi: c.hi,
            },
            [-0.25, -0.375, -0.09296875000000002],
        );
        // Each run's own headline accuracy: the change is their difference.
        let acc = |a: &Artifact| stage().headline(a).unwrap()[0].value;
        assert!((acc(&two) - acc(&one) - c.difference).abs() < 1e-12);
    }

    fn data_artifact(store: &Store) -> Arc<Artifact> {
        let test = RecordBatch::try_from_iter(vec![
            (
                "group",
                Arc::new(UInt32Array::from_iter_values(
                    group().iter().map(|&g| g as u32),
                )) as ArrayRef,
            ),
            (
                "label",
                Arc::new(Int8Array::from_iter_values(
                    labels().iter().map(|&l| l as i8),
                )) as ArrayRef,
            ),
            (
                "defect",
                Arc::new(StringArray::from(DEFECT.to_vec())) as ArrayRef,
            ),
        ])
        .unwrap();
        store.put(
            "data",
            "ingest_csv",
            &[],
            Output::default().table("test", test),
        )
    }

    fn stage() -> Evaluate {
        Evaluate {
            p: Params {
                ddof: 0,
                resamples: RESAMPLES,
                permutations: 999,
                seed: SEED,
                pairs: Pairs::All,
            },
        }
    }

    #[test]
    fn the_stage_writes_the_reference_intervals_and_comparisons() {
        let store = Store::new();
        let (train, data) = (train_artifact(&store), data_artifact(&store));
        let out = stage()
            .run_in(&store, vec![train.clone()], Some(data.clone()))
            .unwrap();
        let get = |n: &str| out.tables.iter().find(|(t, _)| t == n).unwrap().1.clone();
        let iv = intervals_from_batch(&get("intervals"), "t").unwrap();
        let find = |c: &str, m: &str, d: &str| {
            let r = iv
                .iter()
                .find(|r| r.config == c && r.measure == m && r.defect == d)
                .unwrap_or_else(|| panic!("no {c} {m} {d}"));
            Interval {
                estimate: r.estimate,
                lo: r.lo,
                hi: r.hi,
            }
        };
        close(
            find("adam", measure::ACCURACY, ""),
            [0.71875, 0.625, 0.8125],
        );
        close(
            find("gd", measure::ACCURACY, ""),
            [0.46875, 0.34375, 0.5625],
        );
        close(find("adam", measure::PAIRWISE, ""), [0.90625, 0.78125, 1.0]);
        close(
            find("adam", measure::BAD_ANSWERS, "vague"),
            [2.0 / 3.0, 0.0, 1.0],
        );
        let acc = iv
            .iter()
            .find(|r| r.config == "adam" && r.measure == measure::ACCURACY)
            .unwrap();
        assert_eq!((acc.units, acc.seeds, acc.resamples), (8, 2, 200));
        assert!(
            acc.method.contains("bootstrap over 8 test questions"),
            "{}",
            acc.method
        );
        // Training measures resample seeds: [0.9, 0.91] has mean 0.905.
        let ta = find("adam", measure::TRAIN_ACCURACY, "");
        assert!((ta.estimate - 0.905).abs() < 1e-12 && ta.lo >= 0.9 && ta.hi <= 0.91);
        let pr = paired_from_batch(&get("paired"), "t").unwrap();
        let p = pr.iter().find(|r| r.measure == measure::ACCURACY).unwrap();
        assert_eq!((p.config_a.as_str(), p.config_b.as_str()), ("adam", "gd"));
        assert!((p.difference - 0.25).abs() < 1e-12);
        assert!((p.lo - 0.09296875000000002).abs() < 1e-12 && (p.hi - 0.375).abs() < 1e-12);
        assert!((p.p_value - 0.0546875).abs() < 1e-15);
        assert!(p.test.contains("exact (256"), "{}", p.test);
        // Same key, same bytes: a second run writes identical tables.
        let again = stage().run_in(&store, vec![train], Some(data)).unwrap();
        for ((n, a), (_, b)) in out.tables.iter().zip(&again.tables) {
            assert_eq!(a, b, "table {n} differs between two runs");
        }
    }

    #[test]
    fn a_constant_output_is_flagged_saturated() {
        let r = Run {
            source: "s".into(),
            config: "adam".into(),
            seed: 0,
            status: "completed".into(),
            labels: vec![1.0, -1.0, 1.0],
            scores: vec![-1.0, -1.0, -1.0],
            train_acc: 0.5,
            train_mse: 2.0,
            loss_area: 2.0,
        };
        assert!(r.saturated());
        let mut r2 = r;
        r2.scores[1] = -0.99;
        assert!(!r2.saturated());
    }

    impl Evaluate {
        fn run_in(
            &self,
            store: &Store,
            runs: Vec<Arc<Artifact>>,
            data: Option<Arc<Artifact>>,
        ) -> Result<Output> {
            let mut inputs = vec![("runs", runs)];
            if let Some(d) = data {
                inputs.push(("data", vec![d]));
            }
            store.run(self, "eval", &inputs)
        }
    }
}
