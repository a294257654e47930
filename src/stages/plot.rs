//! `plot`: the study's figures as PNG and SVG files, drawn from upstream tables.
//!
//! Each entry of `figures` names a figure type, the input role it reads (`from`) and
//! a file name; the artifact holds `NAME.png` / `NAME.svg` and a table `figures`
//! (name, type, title, files) that the `report` stage reads. Tables read:
//! - curves (types `optimizers`, `fit`, `bars`, `depth`): long format, one row per run and
//!   epoch: `optimizer`, `epoch`, identifier columns telling runs apart (`seed`, ...),
//!   and `train_mse`, `train_acc`, `test_acc`, `elapsed_s`;
//! - `train_size`: the same with a column giving the training-set size (`x`, default
//!   `fraction`); the last epoch of each run counts;
//! - `heatmap`: a sweep table with row and column parameters (default `hidden`, `lr`),
//!   `seed` and a value (default `test_acc`); last epoch per run, mean over seeds;
//! - `tsne`: the `coords` table of the `tsne` stage.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use serde::{Deserialize, Serialize};

use super::columns::{is_identifier, Named};
use super::curves::{self, by_optimizer, read_runs_by, Run};
use super::evidence::{measure, Evidence, IntervalRow};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::viz::figures::*;
use crate::viz::{render, Format};

const fn role(name: &'static str) -> Role {
    Role {
        name,
        many: true,
        required: false,
    }
}

/// Input roles a figure can read (`from:`); each takes one or more stages.
const ROLES: &[Role] = &[
    role("curves"),
    role("size"),
    role("fit"),
    role("compare"),
    role("models"),
    role("sweep"),
    role("tsne"),
    // `evaluate` stages: 95% intervals over test questions for the accuracy whiskers.
    role("evidence"),
];

pub const KIND: Kind = Kind {
    name: "plot",
    version: 2,
    summary: "the study's figures (PNG + SVG) from curves, sweep and t-SNE tables",
    inputs: ROLES,
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureType {
    /// 2x2: epoch and time against training loss and test accuracy, per optimizer.
    Optimizers,
    /// Training loss; train vs test accuracy (over- and underfitting).
    Fit,
    /// Training-set size against final test accuracy.
    TrainSize,
    /// Parameter grid (e.g. hidden size x learning rate) with values written in.
    Heatmap,
    /// Optimizer paths in the t-SNE map.
    Tsne,
    /// Final test accuracy per optimizer, one bar per input (e.g. TF-IDF vs E5).
    Bars,
    /// One architecture per input: loss and test accuracy per optimizer.
    Depth,
}

impl FigureType {
    fn default_table(self) -> &'static str {
        match self {
            FigureType::Heatmap => "sweep",
            FigureType::Tsne => "coords",
            _ => "curves",
        }
    }

    fn default_title(self) -> &'static str {
        match self {
            FigureType::Optimizers => "Optimizers: loss and accuracy",
            FigureType::Fit => "Train vs test",
            FigureType::TrainSize => "Training-set size vs accuracy",
            FigureType::Heatmap => "Hyper-parameter grid",
            FigureType::Tsne => "t-SNE of the weight trajectories",
            FigureType::Bars => "Final test accuracy",
            FigureType::Depth => "Model depth",
        }
    }

    fn name(self) -> &'static str {
        match self {
            FigureType::Optimizers => "optimizers",
            FigureType::Fit => "fit",
            FigureType::TrainSize => "train_size",
            FigureType::Heatmap => "heatmap",
            FigureType::Tsne => "tsne",
            FigureType::Bars => "bars",
            FigureType::Depth => "depth",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatParam {
    Png,
    Svg,
}

impl FormatParam {
    fn format(self) -> Format {
        match self {
            FormatParam::Png => Format::Png,
            FormatParam::Svg => Format::Svg,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureSpec {
    /// File stem: NAME.png, NAME.svg.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FigureType,
    /// Input role to read.
    pub from: String,
    /// Which stage of that role, for figures drawn from one table (0 = first); `bars`,
    /// `depth` and `train_size` read every stage of the role.
    #[serde(default)]
    pub index: usize,
    /// Table of the input artifact; defaults by type (curves, sweep, coords).
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Optimizers to show, in this order (default: all, as they appear).
    #[serde(default)]
    pub optimizers: Option<Vec<String>>,
    /// `bars` and `depth`: one name per input stage of the role.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// `heatmap`: row, column and value columns.
    #[serde(default)]
    pub rows: Option<String>,
    #[serde(default)]
    pub cols: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    /// `train_size`: the column holding the training-set size.
    #[serde(default)]
    pub x: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub figures: Vec<FigureSpec>,
    #[serde(default = "both")]
    pub formats: Vec<FormatParam>,
}

fn both() -> Vec<FormatParam> {
    vec![FormatParam::Png, FormatParam::Svg]
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if self.figures.is_empty() {
            return Err(cx.error("figures", "`figures` is empty: list the figures to draw"));
        }
        if self.formats.is_empty() {
            return Err(cx.error(
                "formats",
                "`formats` is empty: use [png], [svg] or [png, svg]",
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, f) in self.figures.iter().enumerate() {
            let ok_name = !f.name.is_empty()
                && f.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok_name {
                return Err(cx
                    .error(
                        &format!("figures[{i}].name"),
                        format!("figure name `{}` is not a plain file name", f.name),
                    )
                    .help("use letters, digits, `_` and `-`"));
            }
            if seen.contains(&f.name.as_str()) {
                return Err(cx.error(
                    &format!("figures[{i}].name"),
                    format!("two figures are named `{}`", f.name),
                ));
            }
            seen.push(&f.name);
            if !ROLES.iter().any(|r| r.name == f.from) {
                let roles: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
                return Err(cx
                    .error(
                        &format!("figures[{i}].from"),
                        format!("unknown input role `{}`", f.from),
                    )
                    .help(format!("roles of `plot`: {}", roles.join(", "))));
            }
        }
        Ok(Box::new(Plot { p: self }))
    }
}

struct Plot {
    p: Params,
}

fn label_of(opt: &str, runs: &[&Run]) -> String {
    let lr = runs.first().map(|r| r.last("lr")).unwrap_or(f64::NAN);
    if lr.is_finite() {
        format!("{} (lr={lr})", opt.to_uppercase())
    } else {
        opt.to_uppercase()
    }
}

fn band(runs: &[&Run], metric: &str) -> Band {
    Band::from_runs(
        &runs
            .iter()
            .map(|r| r.metric(metric).to_vec())
            .collect::<Vec<_>>(),
    )
}

fn shortest_epochs(runs: &[&Run]) -> Vec<f64> {
    runs.iter()
        .map(|r| r.epoch.clone())
        .min_by_key(Vec::len)
        .unwrap_or_default()
}

/// Builds one figure and renders it in every format.
struct Job<'a> {
    spec: &'a FigureSpec,
    artifacts: &'a [Arc<Artifact>],
    evidence: &'a [Evidence],
}

impl Job<'_> {
    /// The question-level test-accuracy interval of (input stage i, optimizer).
    fn interval(&self, i: usize, optimizer: &str) -> Option<&IntervalRow> {
        let source = &self.artifacts.get(i)?.manifest.stage;
        self.evidence
            .iter()
            .find_map(|e| e.interval(source, optimizer, measure::ACCURACY))
    }

    fn final_interval(&self, i: usize, optimizer: &str) -> Option<(f64, f64)> {
        self.interval(i, optimizer).map(|r| (r.lo, r.hi))
    }

    /// What the figure's whiskers, bands and lines mean, in words, with n.
    fn caption(&self) -> String {
        let any = (0..self.artifacts.len()).find_map(|i| {
            self.evidence.iter().find_map(|e| {
                e.intervals.iter().find(|r| {
                    r.source == self.artifacts[i].manifest.stage && r.measure == measure::ACCURACY
                })
            })
        });
        let iv = any.map(|r| {
            format!(
                "whiskers: 95% intervals of the final test accuracy, {}",
                r.method
            )
        });
        let parts: Vec<String> = match self.spec.kind {
            FigureType::Optimizers | FigureType::Fit | FigureType::Depth => [
                Some("lines: mean over seeds; bands: ±1 std over seeds".to_string()),
                iv.map(|s| format!("{s} (at the last epoch)")),
                Some("dashed grey: chance accuracy (0.5)".into()),
            ]
            .into_iter()
            .flatten()
            .collect(),
            FigureType::Bars | FigureType::TrainSize => [
                Some(iv.unwrap_or_else(|| "whiskers: ±1 std over seeds".into())),
                Some("dashed grey: chance accuracy (0.5)".into()),
            ]
            .into_iter()
            .flatten()
            .collect(),
            FigureType::Heatmap => vec![
                "mean over seeds per cell; a red border marks cells with saturated runs (one constant output for every test row: the accuracy is the share of one class) or diverged runs".into(),
            ],
            FigureType::Tsne => Vec::new(),
        };
        parts.join("; ")
    }
    fn title(&self) -> String {
        self.spec
            .title
            .clone()
            .unwrap_or_else(|| self.spec.kind.default_title().to_string())
    }

    fn table_name(&self) -> &str {
        self.spec
            .table
            .as_deref()
            .unwrap_or(self.spec.kind.default_table())
    }

    fn artifact(&self, i: usize) -> Result<&Artifact> {
        self.artifacts.get(i).map(|a| a.as_ref()).with_context(|| {
            format!(
                "figure `{}` reads input {} of role `{}`, which has {} stage(s); add it under `inputs: {{{}: [...]}}`",
                self.spec.name,
                i,
                self.spec.from,
                self.artifacts.len(),
                self.spec.from
            )
        })
    }

    fn batch(&self, i: usize) -> Result<(RecordBatch, String)> {
        let a = self.artifact(i)?;
        let what = format!(
            "table `{}` of stage `{}` (role `{}`)",
            self.table_name(),
            a.manifest.stage,
            self.spec.from
        );
        Ok((a.table(self.table_name())?, what))
    }

    fn runs(&self, i: usize, required: &[&str], optional: &[&str]) -> Result<Vec<Run>> {
        self.runs_by(i, &[], required, optional)
    }

    fn runs_by(
        &self,
        i: usize,
        keys: &[&str],
        required: &[&str],
        optional: &[&str],
    ) -> Result<Vec<Run>> {
        let (b, what) = self.batch(i)?;
        read_runs_by(&Named::new(&b, what), keys, required, optional)
    }

    fn order(&self) -> Option<&[String]> {
        self.spec.optimizers.as_deref()
    }

    fn labels(&self) -> Vec<String> {
        let given = self.spec.labels.clone().unwrap_or_default();
        (0..self.artifacts.len())
            .map(|i| {
                given
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| self.artifacts[i].manifest.stage.clone())
            })
            .collect()
    }

    fn render_all<F: crate::viz::Figure>(
        &self,
        fig: &F,
        formats: &[FormatParam],
    ) -> Result<Vec<(Format, Vec<u8>)>> {
        formats
            .iter()
            .map(|f| {
                let bytes = render(fig, f.format())
                    .with_context(|| format!("figure `{}`", self.spec.name))?;
                Ok((f.format(), bytes))
            })
            .collect()
    }

    fn draw(&self, formats: &[FormatParam]) -> Result<Vec<(Format, Vec<u8>)>> {
        let title = self.title();
        match self.spec.kind {
            FigureType::Optimizers => {
                let runs = self.runs(
                    self.spec.index,
                    &[curves::TRAIN_MSE, curves::TEST_ACC, curves::ELAPSED_S],
                    &["lr"],
                )?;
                let curves = by_optimizer(&runs, self.order())
                    .into_iter()
                    .map(|(opt, rs)| OptimizerCurves {
                        label: label_of(&opt, &rs),
                        epoch: shortest_epochs(&rs),
                        time_s: band(&rs, curves::ELAPSED_S).mean,
                        loss: band(&rs, curves::TRAIN_MSE),
                        accuracy: Band {
                            final_interval: self.final_interval(self.spec.index, &opt),
                            ..band(&rs, curves::TEST_ACC)
                        },
                        name: opt,
                    })
                    .collect();
                self.render_all(&OptimizerPanels { title, curves }, formats)
            }
            FigureType::Fit => {
                let runs = self.runs(
                    self.spec.index,
                    &[curves::TRAIN_MSE, curves::TRAIN_ACC, curves::TEST_ACC],
                    &["lr"],
                )?;
                let curves = by_optimizer(&runs, self.order())
                    .into_iter()
                    .map(|(opt, rs)| FitCurves {
                        label: opt.to_uppercase(),
                        epoch: shortest_epochs(&rs),
                        train_loss: band(&rs, curves::TRAIN_MSE),
                        train_accuracy: band(&rs, curves::TRAIN_ACC),
                        test_accuracy: Band {
                            final_interval: self.final_interval(self.spec.index, &opt),
                            ..band(&rs, curves::TEST_ACC)
                        },
                        name: opt,
                    })
                    .collect();
                self.render_all(&FitFigure { title, curves }, formats)
            }
            FigureType::TrainSize => self.render_all(&self.train_size(title)?, formats),
            FigureType::Heatmap => self.render_all(&self.heatmap(title)?, formats),
            FigureType::Tsne => self.render_all(&self.tsne(title)?, formats),
            FigureType::Bars => {
                let labels = self.labels();
                let mut groups: Vec<String> = Vec::new();
                let mut per_input = Vec::new();
                for i in 0..self.artifacts.len() {
                    let runs = self.runs(i, &[curves::TEST_ACC], &[])?;
                    let finals: Vec<(String, Vec<f64>)> = by_optimizer(&runs, self.order())
                        .into_iter()
                        .map(|(o, rs)| (o, rs.iter().map(|r| r.last(curves::TEST_ACC)).collect()))
                        .collect();
                    for (o, _) in &finals {
                        if !groups.contains(o) {
                            groups.push(o.clone());
                        }
                    }
                    per_input.push(finals);
                }
                let series = per_input
                    .iter()
                    .zip(&labels)
                    .enumerate()
                    .map(|(i, (finals, label))| {
                        let stats: Vec<(f64, f64)> = groups
                            .iter()
                            .map(|g| {
                                finals
                                    .iter()
                                    .find(|(o, _)| o == g)
                                    .map_or((f64::NAN, f64::NAN), |(_, v)| mean_std(v))
                            })
                            .collect();
                        let intervals: Vec<Option<(f64, f64)>> =
                            groups.iter().map(|g| self.final_interval(i, g)).collect();
                        BarSeries {
                            label: label.clone(),
                            values: stats.iter().map(|s| s.0).collect(),
                            stds: stats.iter().map(|s| s.1).collect(),
                            intervals: intervals
                                .iter()
                                .all(Option::is_some)
                                .then(|| intervals.iter().flatten().copied().collect()),
                        }
                    })
                    .collect::<Vec<_>>();
                let y_label = if series.iter().all(|s| s.intervals.is_some()) {
                    "Final test accuracy (95% interval over test questions)"
                } else {
                    "Final test accuracy (mean ± std over seeds)"
                };
                let fig = GroupedBars {
                    title,
                    y_label: y_label.into(),
                    groups: groups.iter().map(|g| g.to_uppercase()).collect(),
                    series,
                    y_range: None,
                    chance: Some(0.5),
                };
                self.render_all(&fig, formats)
            }
            FigureType::Depth => {
                let labels = self.labels();
                let mut series = Vec::new();
                for (i, label) in labels.iter().enumerate() {
                    let runs = self.runs(i, &[curves::TRAIN_MSE, curves::TEST_ACC], &[])?;
                    for (opt, rs) in by_optimizer(&runs, self.order()) {
                        series.push(DepthSeries {
                            model: label.clone(),
                            epoch: shortest_epochs(&rs),
                            train_loss: band(&rs, curves::TRAIN_MSE),
                            test_accuracy: Band {
                                final_interval: self.final_interval(i, &opt),
                                ..band(&rs, curves::TEST_ACC)
                            },
                            optimizer: opt,
                        });
                    }
                }
                self.render_all(&DepthFigure { title, series }, formats)
            }
        }
    }

    fn train_size(&self, title: String) -> Result<TrainSizeFigure> {
        let x = self.spec.x.as_deref().unwrap_or("fraction");
        // Every stage of the role contributes its sizes (one stage per size, or
        // one stage holding several).
        let mut runs = Vec::new();
        let mut input_of = Vec::new();
        for i in 0..self.artifacts.len() {
            let rs = self.runs_by(i, &[x], &[curves::TEST_ACC, x], &[])?;
            input_of.extend(std::iter::repeat_n(i, rs.len()));
            runs.extend(rs);
        }
        let index_of = |r: &Run| {
            runs.iter()
                .position(|o| std::ptr::eq(o, r))
                .map(|p| input_of[p])
        };
        let percent = runs.iter().all(|r| r.last(x) <= 1.0);
        let series = by_optimizer(&runs, self.order())
            .into_iter()
            .map(|(opt, rs)| {
                let mut by_x: BTreeMap<i64, (f64, Vec<f64>, Vec<usize>)> = BTreeMap::new();
                for r in rs {
                    let xv = r.last(x);
                    // Group equal sizes exactly; the key keeps them sorted.
                    let e = by_x.entry((xv * 1e9).round() as i64).or_insert((
                        xv,
                        Vec::new(),
                        Vec::new(),
                    ));
                    e.1.push(r.last(curves::TEST_ACC));
                    e.2.extend(index_of(r));
                }
                let mut s = SizeSeries {
                    name: opt.clone(),
                    label: opt.to_uppercase(),
                    sizes: Vec::new(),
                    accuracy: Vec::new(),
                    accuracy_std: Vec::new(),
                    intervals: None,
                };
                let mut intervals = Vec::new();
                for (_, (xv, accs, mut inputs)) in by_x {
                    let (m, sd) = mean_std(&accs);
                    s.sizes.push(if percent { 100.0 * xv } else { xv });
                    s.accuracy.push(m);
                    s.accuracy_std.push(sd);
                    inputs.dedup();
                    // An interval only when one stage holds every run of this size.
                    intervals.push(match inputs.as_slice() {
                        [i] => self.final_interval(*i, &opt),
                        _ => None,
                    });
                }
                if intervals.iter().all(Option::is_some) {
                    s.intervals = Some(intervals.into_iter().flatten().collect());
                }
                s
            })
            .collect();
        let x_label = if percent {
            "Training set size (%)".to_string()
        } else {
            format!("Training set size ({})", axis_name(x))
        };
        Ok(TrainSizeFigure {
            title,
            x_label,
            series,
        })
    }

    fn heatmap(&self, title: String) -> Result<Heatmap> {
        let rows_col = self.spec.rows.as_deref().unwrap_or("hidden");
        let cols_col = self.spec.cols.as_deref().unwrap_or("lr");
        let value_col = self.spec.value.as_deref().unwrap_or(curves::TEST_ACC);
        let (b, what) = self.batch(self.spec.index)?;
        let t = Named::new(&b, what.clone());
        let rows = t.f64s(rows_col)?;
        let cols = t.f64s(cols_col)?;
        let values = t.f64s(value_col)?;
        let n = rows.len();
        let epoch = if t.has("epoch") {
            t.f64s("epoch")?
        } else {
            vec![0.0; n]
        };
        let seed = if t.has("seed") {
            t.strings("seed")?
        } else {
            vec![String::new(); n]
        };
        let optimizer = if t.has("optimizer") {
            Some(t.strings("optimizer")?)
        } else {
            None
        };
        let wanted = match (&optimizer, self.order()) {
            (Some(opts), None) => {
                let mut distinct: Vec<&String> = opts.iter().collect();
                distinct.sort();
                distinct.dedup();
                if distinct.len() > 1 {
                    bail!(
                        "figure `{}`: {what} mixes optimizers ({}); choose one with `optimizers: [NAME]`",
                        self.spec.name,
                        distinct.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    );
                }
                None
            }
            (_, order) => order.and_then(|o| o.first().cloned()),
        };
        // Last epoch of each (row, col, seed) run, then the mean over seeds per cell.
        let mut last: BTreeMap<(i64, i64, String), (f64, f64)> = BTreeMap::new();
        let key = |v: f64| (v * 1e12).round() as i64;
        for i in 0..n {
            if let (Some(opts), Some(w)) = (&optimizer, &wanted) {
                if &opts[i] != w {
                    continue;
                }
            }
            let e = last
                .entry((key(rows[i]), key(cols[i]), seed[i].clone()))
                .or_insert((f64::NEG_INFINITY, f64::NAN));
            if epoch[i] >= e.0 {
                *e = (epoch[i], values[i]);
            }
        }
        if last.is_empty() {
            bail!("figure `{}`: {what} has no rows to draw", self.spec.name);
        }
        let mut row_vals: Vec<f64> = Vec::new();
        let mut col_vals: Vec<f64> = Vec::new();
        for i in 0..n {
            if !row_vals.iter().any(|&v| key(v) == key(rows[i])) {
                row_vals.push(rows[i]);
            }
            if !col_vals.iter().any(|&v| key(v) == key(cols[i])) {
                col_vals.push(cols[i]);
            }
        }
        row_vals.sort_by(f64::total_cmp);
        // Learning rates from large to small, as the study's grid; anything else ascending.
        if cols_col == "lr" {
            col_vals.sort_by(|a, b| b.total_cmp(a));
        } else {
            col_vals.sort_by(f64::total_cmp);
        }
        let mut grid = vec![vec![f64::NAN; col_vals.len()]; row_vals.len()];
        for (r, &rv) in row_vals.iter().enumerate() {
            for (c, &cv) in col_vals.iter().enumerate() {
                let cell: Vec<f64> = last
                    .iter()
                    .filter(|((kr, kc, _), _)| *kr == key(rv) && *kc == key(cv))
                    .map(|(_, v)| v.1)
                    .collect();
                if !cell.is_empty() {
                    grid[r][c] = mean_std(&cell).0;
                }
            }
        }
        // Cells with saturated or diverged runs (count columns of `sweep`'s `cells` table).
        let count = |name: &str| -> Result<Vec<f64>> {
            if t.has(name) {
                t.f64s(name)
            } else {
                Ok(vec![0.0; n])
            }
        };
        let (sat, div) = (count("saturated")?, count("diverged")?);
        let mut tally = vec![vec![(0.0, 0.0); col_vals.len()]; row_vals.len()];
        for i in 0..n {
            if let (Some(opts), Some(w)) = (&optimizer, &wanted) {
                if &opts[i] != w {
                    continue;
                }
            }
            let r = row_vals.iter().position(|&v| key(v) == key(rows[i]));
            let c = col_vals.iter().position(|&v| key(v) == key(cols[i]));
            if let (Some(r), Some(c)) = (r, c) {
                tally[r][c].0 += sat[i].max(0.0);
                tally[r][c].1 += div[i].max(0.0);
            }
        }
        let marks = tally
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&(s, d)| {
                        let mut m = Vec::new();
                        if s > 0.0 {
                            m.push(format!("saturated: {s} runs"));
                        }
                        if d > 0.0 {
                            m.push(format!("diverged: {d} runs"));
                        }
                        m.join(", ")
                    })
                    .collect()
            })
            .collect();
        let fmt = |v: &f64| crate::viz::figures::tick_text(*v);
        Ok(Heatmap {
            marks,
            title,
            x_label: axis_name(cols_col),
            y_label: axis_name(rows_col),
            x_ticks: col_vals.iter().map(fmt).collect(),
            y_ticks: row_vals.iter().map(fmt).collect(),
            values: grid,
            value_range: (0.0, 1.0),
            value_label: axis_name(value_col),
        })
    }

    fn tsne(&self, title: String) -> Result<TsnePathsFigure> {
        let (b, what) = self.batch(self.spec.index)?;
        let t = Named::new(&b, what);
        let x = t.f64s("x")?;
        let y = t.f64s("y")?;
        let opt = t.strings("optimizer")?;
        let epoch = if t.has("epoch") {
            Some(t.f64s("epoch")?)
        } else {
            None
        };
        let schema = b.schema();
        let id_cols: Vec<String> = schema
            .fields()
            .iter()
            .filter(|f| {
                is_identifier(f.data_type()) && !["epoch", "step"].contains(&f.name().as_str())
            })
            .map(|f| f.name().clone())
            .collect();
        let ids: Vec<Vec<String>> = id_cols
            .iter()
            .map(|c| t.strings(c))
            .collect::<Result<_>>()?;
        let mut order: Vec<Vec<String>> = Vec::new();
        let mut members: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
        for i in 0..x.len() {
            let k: Vec<String> = ids.iter().map(|c| c[i].clone()).collect();
            let e = members.entry(k.clone()).or_default();
            if e.is_empty() {
                order.push(k);
            }
            e.push(i);
        }
        let keep = |o: &String| self.order().is_none_or(|list| list.contains(o));
        let mut paths = Vec::new();
        for k in order {
            let mut idx = members.remove(&k).unwrap_or_default();
            if let Some(ep) = &epoch {
                idx.sort_by(|&a, &b| ep[a].total_cmp(&ep[b]).then(a.cmp(&b)));
            }
            if !keep(&opt[idx[0]]) {
                continue;
            }
            paths.push(TsnePath {
                optimizer: opt[idx[0]].clone(),
                run: k.join("/"),
                points: idx.iter().map(|&i| [x[i], y[i]]).collect(),
            });
        }
        if let Some(order) = self.order() {
            paths.sort_by_key(|p| order.iter().position(|o| o == &p.optimizer));
        }
        Ok(TsnePathsFigure { title, paths })
    }
}

/// "hidden" -> "Hidden size", "lr" -> "Learning rate", other names as they are.
fn axis_name(col: &str) -> String {
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

impl Stage for Plot {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let mut out = Output::default();
        let mut names = Vec::new();
        let mut types = Vec::new();
        let mut titles = Vec::new();
        let mut files = Vec::new();
        let mut formats = self.p.formats.clone();
        formats.sort();
        formats.dedup();
        let evidence: Vec<Evidence> = cx
            .input_all("evidence")
            .iter()
            .map(|a| Evidence::read(a))
            .collect::<Result<_>>()?;
        let mut captions = Vec::new();
        for spec in &self.p.figures {
            let job = Job {
                spec,
                artifacts: cx.input_all(&spec.from),
                evidence: &evidence,
            };
            if job.artifacts.is_empty() {
                bail!(
                    "figure `{}` reads role `{}`, but no stage is bound to it; add `inputs: {{{}: STAGE}}`",
                    spec.name,
                    spec.from,
                    spec.from
                );
            }
            let mut these = Vec::new();
            for (format, bytes) in job.draw(&formats)? {
                let file = format!("{}.{}", spec.name, format.extension());
                these.push(file.clone());
                out = out.file(&file, bytes);
            }
            names.push(spec.name.clone());
            types.push(spec.kind.name());
            titles.push(job.title());
            captions.push(job.caption());
            files.push(these.join(","));
        }
        let table = RecordBatch::try_from_iter(vec![
            ("name", Arc::new(StringArray::from(names)) as ArrayRef),
            ("type", Arc::new(StringArray::from(types)) as ArrayRef),
            ("title", Arc::new(StringArray::from(titles)) as ArrayRef),
            ("files", Arc::new(StringArray::from(files)) as ArrayRef),
            ("caption", Arc::new(StringArray::from(captions)) as ArrayRef),
        ])?;
        out.notes.push(format!("{} figures", table.num_rows()));
        Ok(out.table("figures", table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::testkit::{curves, snapshots, sweep, Store};

    fn coords() -> RecordBatch {
        // Stand-in t-SNE coordinates: the first two weights of each snapshot.
        let s = snapshots(10, 4);
        let t = Named::new(&s, "s");
        let (w, dim) = crate::stages::columns::float_lists(&t, "weights").unwrap();
        let x: Vec<f64> = w.chunks(dim).map(|c| c[0] as f64).collect();
        let y: Vec<f64> = w.chunks(dim).map(|c| c[1] as f64).collect();
        RecordBatch::try_from_iter(vec![
            ("optimizer", s.column_by_name("optimizer").unwrap().clone()),
            ("seed", s.column_by_name("seed").unwrap().clone()),
            ("epoch", s.column_by_name("epoch").unwrap().clone()),
            (
                "x",
                Arc::new(arrow::array::Float64Array::from(x)) as ArrayRef,
            ),
            (
                "y",
                Arc::new(arrow::array::Float64Array::from(y)) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    /// Keeps a test's figures when QA_PIPE_FIGURE_DIR is set, for a look.
    fn keep(out: &Output) {
        if let Ok(dir) = std::env::var("QA_PIPE_FIGURE_DIR") {
            std::fs::create_dir_all(&dir).unwrap();
            for (name, bytes) in &out.files {
                std::fs::write(format!("{dir}/stage_{name}"), bytes).unwrap();
            }
        }
    }

    fn params(v: serde_json::Value) -> Params {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn draws_every_figure_type_from_upstream_tables() {
        let store = Store::new();
        let train = store.put(
            "train",
            "train",
            &[],
            Output::default().table("curves", curves(30, &[])),
        );
        let e5 = store.put(
            "train_e5",
            "train",
            &[],
            Output::default().table("curves", curves(20, &[])),
        );
        // Sizes spread over two stages, as a pipeline with one stage per size has them.
        let size = store.put(
            "size",
            "train",
            &[],
            Output::default().table("curves", curves(10, &[0.25, 0.5])),
        );
        let size_full = store.put(
            "size_full",
            "train",
            &[],
            Output::default().table("curves", curves(10, &[1.0])),
        );
        let grid = store.put(
            "grid",
            "sweep",
            &[],
            Output::default().table("sweep", sweep()),
        );
        let tsne = store.put(
            "tsne",
            "tsne",
            &[],
            Output::default().table("coords", coords()),
        );
        let p = params(serde_json::json!({ "figures": [
            { "name": "optimizers", "type": "optimizers", "from": "curves", "title": "Core", "optimizers": ["gd", "sgd", "adam"] },
            { "name": "fit", "type": "fit", "from": "fit" },
            { "name": "size", "type": "train_size", "from": "size" },
            { "name": "grid", "type": "heatmap", "from": "sweep" },
            { "name": "paths", "type": "tsne", "from": "tsne" },
            { "name": "repr", "type": "bars", "from": "compare", "labels": ["TF-IDF", "E5"] },
            { "name": "depth", "type": "depth", "from": "models", "labels": ["one layer", "two layers"] }
        ]}));
        let out = store
            .run(
                &Plot { p },
                "plot",
                &[
                    ("curves", vec![train.clone()]),
                    ("fit", vec![train.clone()]),
                    ("size", vec![size.clone(), size_full.clone()]),
                    ("sweep", vec![grid]),
                    ("tsne", vec![tsne]),
                    ("compare", vec![train.clone(), e5.clone()]),
                    ("models", vec![e5, train]),
                ],
            )
            .unwrap();
        keep(&out);
        let files: BTreeMap<&str, &Vec<u8>> =
            out.files.iter().map(|(n, b)| (n.as_str(), b)).collect();
        assert_eq!(files.len(), 14);
        for name in [
            "optimizers",
            "fit",
            "size",
            "grid",
            "paths",
            "repr",
            "depth",
        ] {
            let png = image::load_from_memory(files[format!("{name}.png").as_str()])
                .expect("PNG decodes");
            assert!(png.width() >= 1000, "{name}");
            assert!(
                String::from_utf8_lossy(files[format!("{name}.svg").as_str()]).starts_with("<svg")
            );
        }
        assert_eq!(
            image::load_from_memory(files["optimizers.png"])
                .unwrap()
                .width(),
            1400
        );
        let svg = |n: &str| String::from_utf8_lossy(files[n]).into_owned();
        // Heatmap cells are means over seeds: hidden 64, lr 0.001 -> 0.5 + 0.1 * 3 / 2.
        let grid_svg = svg("grid.svg");
        for text in [
            "0.65",
            "0.60",
            "0.0001",
            "128",
            "Learning rate",
            "Hidden size",
        ] {
            assert!(
                grid_svg.contains(&format!(">\n{text}\n</text>")),
                "heatmap lacks {text}"
            );
        }
        assert!(svg("size.svg").contains("Training set size (%)"));
        let spec = FigureSpec {
            name: "s".into(),
            kind: FigureType::TrainSize,
            from: "size".into(),
            index: 0,
            table: None,
            title: None,
            optimizers: None,
            labels: None,
            rows: None,
            cols: None,
            value: None,
            x: None,
        };
        let arts = vec![size, size_full];
        let fig = Job {
            spec: &spec,
            artifacts: &arts,
            evidence: &[],
        }
        .train_size("t".into())
        .unwrap();
        assert_eq!(fig.series.len(), 3);
        assert_eq!(fig.series[2].sizes, vec![25.0, 50.0, 100.0]);
        // Adam at 50 %: the testkit's accuracy at epoch 10 minus 0.02 for the second fraction.
        let finals: Vec<f64> = (0..3)
            .map(|s| crate::stages::testkit::test_acc(2, s, 10) - 0.02)
            .collect();
        assert!((fig.series[2].accuracy[1] - mean_std(&finals).0).abs() < 1e-12);
        assert!(svg("repr.svg").contains(">\nTF-IDF\n<") && svg("repr.svg").contains(">\nE5\n<"));
        assert!(svg("optimizers.svg").contains(">\nCore\n<"));
        assert!(svg("depth.svg").contains("two layers"));
        let table = &out.tables[0].1;
        let t = Named::new(table, "figures");
        assert_eq!(t.strings("name").unwrap()[3], "grid");
        assert_eq!(t.strings("files").unwrap()[3], "grid.png,grid.svg");
        assert_eq!(t.strings("title").unwrap()[0], "Core");
    }

    #[test]
    fn missing_role_and_mixed_optimizer_grid_are_clear_errors() {
        let store = Store::new();
        let p = params(
            serde_json::json!({ "figures": [{ "name": "x", "type": "tsne", "from": "tsne" }], "formats": ["png"] }),
        );
        let err = store
            .run(&Plot { p }, "plot", &[])
            .err()
            .expect("fails")
            .to_string();
        assert!(
            err.contains("figure `x` reads role `tsne`, but no stage is bound to it"),
            "{err}"
        );

        let mixed = store.put(
            "grid",
            "sweep",
            &[],
            Output::default().table("sweep", curves(2, &[])),
        );
        let p = params(
            serde_json::json!({ "figures": [{ "name": "g", "type": "heatmap", "from": "sweep", "rows": "seed", "cols": "epoch" }] }),
        );
        let err = store
            .run(&Plot { p }, "plot", &[("sweep", vec![mixed])])
            .err()
            .expect("fails")
            .to_string();
        assert!(
            err.contains("mixes optimizers (adam, gd, sgd); choose one with `optimizers: [NAME]`"),
            "{err}"
        );
    }

    #[test]
    fn tsne_stage_coords_draw_one_path_per_run() {
        let store = Store::new();
        let snaps = store.put(
            "train",
            "train",
            &[],
            Output::default().table("snapshots", snapshots(20, 200)),
        );
        let tp: crate::stages::tsne::Params =
            serde_json::from_value(serde_json::json!({ "perplexity": 10 })).unwrap();
        let t = store
            .run(
                &crate::stages::tsne::Tsne::new(tp),
                "tsne",
                &[("snapshots", vec![snaps])],
            )
            .unwrap();
        let tsne = store.put("tsne", "tsne", &[], t);
        let p = params(
            serde_json::json!({ "figures": [{ "name": "tsne_paths", "type": "tsne", "from": "tsne", "optimizers": ["gd", "sgd", "adam"] }] }),
        );
        let job_spec = p.figures[0].clone();
        let arts = vec![tsne.clone()];
        let fig = Job {
            spec: &job_spec,
            artifacts: &arts,
            evidence: &[],
        }
        .tsne("t".into())
        .unwrap();
        assert_eq!(fig.paths.len(), 9, "3 optimizers x 3 seeds");
        assert!(fig.paths.iter().all(|p| p.points.len() == 21));
        assert_eq!(fig.paths[0].optimizer, "gd");
        assert_eq!(fig.paths[0].run, "gd/42");
        let out = store
            .run(&Plot { p }, "plot", &[("tsne", vec![tsne])])
            .unwrap();
        keep(&out);
        assert_eq!(out.files.len(), 2);
    }
}
