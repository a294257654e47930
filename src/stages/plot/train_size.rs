//! `type: train_size`: training-set size against final test accuracy per optimizer, from
//! every stage of the role (one stage per size, or one holding several); x ticks at the
//! measured sizes with their row counts.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::super::curves::{self, by_optimizer, Run};
use super::job::{axis_name, curves_table, pooled, Job};
use super::Drawn;
use crate::viz::figures::{display_name, mean_std, SizeSeries, Ticks, TrainSizeFigure};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default = "curves_table")]
    pub table: String,
    /// The column holding the training-set size: a share (`fraction`, at most 1) or a row
    /// count (`train_rows`, shown as a share of the largest).
    #[serde(default = "default_x")]
    pub x: String,
}

fn default_x() -> String {
    curves::FRACTION.into()
}

impl Options {
    pub(super) fn draw(&self, job: &Job<'_>) -> Result<Drawn> {
        let fig = self.figure(job)?;
        let counts: Vec<(String, usize)> = fig
            .series
            .iter()
            .flat_map(|s| {
                s.sizes
                    .iter()
                    .zip(&s.runs)
                    .map(|(x, n)| (format!("{} at {x:.0}%", s.label), *n))
            })
            .collect();
        let whiskers = match job.interval_method() {
            Some(m) if fig.series.iter().all(|s| s.intervals.is_some()) => {
                format!("whiskers: 95% intervals of the final test accuracy, {m}")
            }
            _ => "whiskers: mean ± 1 std over seeds".into(),
        };
        let caption = format!(
            "points: mean final test accuracy over seeds, {}; {whiskers}; series are shifted a little along x so whiskers do not overlap, ticks mark the measured sizes; dashed grey: chance accuracy (0.5)",
            pooled(&counts)
        );
        let title = fig.title.clone();
        job.render(&fig, title, caption)
    }

    pub(super) fn figure(&self, job: &Job<'_>) -> Result<TrainSizeFigure> {
        let x = self.x.as_str();
        let rows_col = curves::TRAIN_ROWS;
        let mut runs = Vec::new();
        let mut input_of = Vec::new();
        for i in 0..job.artifacts.len() {
            let (b, _) = job.batch(i, &self.table)?;
            let has_rows = b.schema().field_with_name(rows_col).is_ok();
            let optional: &[&str] = if has_rows && x != rows_col {
                &[rows_col]
            } else {
                &[]
            };
            let rs = job.runs(i, &self.table, &[x], &[curves::TEST_ACC, x], optional)?;
            input_of.extend(std::iter::repeat_n(i, rs.len()));
            runs.extend(rs);
        }
        let index_of = |r: &Run| {
            runs.iter()
                .position(|o| std::ptr::eq(o, r))
                .map(|p| input_of[p])
        };
        let share = runs.iter().all(|r| r.last(x) <= 1.0);
        let max_x = runs.iter().map(|r| r.last(x)).fold(0.0, f64::max);
        // Position on the axis: percent of the training set.
        let pct = |v: f64| if share { 100.0 * v } else { 100.0 * v / max_x };
        let rows_of = |r: &Run| {
            if x == rows_col {
                r.last(x)
            } else {
                r.last(rows_col)
            }
        };
        let mut tick_rows: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
        let key = |v: f64| (v * 1e6).round() as i64;
        let series = by_optimizer(&runs, job.optimizers)
            .into_iter()
            .map(|(opt, rs)| {
                let mut by_x: BTreeMap<i64, (f64, Vec<f64>, Vec<usize>)> = BTreeMap::new();
                for r in rs {
                    let p = pct(r.last(x));
                    tick_rows.entry(key(p)).or_insert((p, rows_of(r)));
                    let e = by_x.entry(key(p)).or_insert((p, Vec::new(), Vec::new()));
                    e.1.push(r.last(curves::TEST_ACC));
                    e.2.extend(index_of(r));
                }
                let mut s = SizeSeries {
                    label: display_name(&opt),
                    name: opt.clone(),
                    sizes: Vec::new(),
                    accuracy: Vec::new(),
                    accuracy_std: Vec::new(),
                    intervals: None,
                    runs: Vec::new(),
                };
                let mut intervals = Vec::new();
                for (_, (p, accs, mut inputs)) in by_x {
                    let (m, sd) = mean_std(&accs);
                    s.sizes.push(p);
                    s.accuracy.push(m);
                    s.accuracy_std.push(sd);
                    s.runs.push(accs.len());
                    inputs.dedup();
                    // An interval only when one stage holds every run of this size.
                    intervals.push(match inputs.as_slice() {
                        [i] => job.final_interval(*i, &opt),
                        _ => None,
                    });
                }
                if intervals.iter().all(Option::is_some) {
                    s.intervals = Some(intervals.into_iter().flatten().collect());
                }
                s
            })
            .collect();
        let (at, text): (Vec<f64>, Vec<String>) = tick_rows
            .values()
            .map(|&(p, rows)| {
                let t = if rows.is_finite() {
                    format!("{p:.0}% ({rows:.0} rows)")
                } else {
                    format!("{p:.0}%")
                };
                (p, t)
            })
            .unzip();
        let x_label = if share || x == rows_col {
            "Training set size (% of the training rows)".to_string()
        } else {
            format!("Training set size (% of the largest {})", axis_name(x))
        };
        Ok(TrainSizeFigure {
            title: job.title_or("Training-set size vs accuracy"),
            x_label,
            series,
            x_ticks: Some(Ticks::fixed(at, text)),
        })
    }
}
