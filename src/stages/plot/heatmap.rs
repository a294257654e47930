//! `type: heatmap`: a sweep's parameter grid (default hidden x lr), each cell the mean
//! over seeds of the last epoch's value with its spread; the colour scale fitted to the
//! data; cells with saturated or diverged runs marked.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::super::columns::Named;
use super::super::curves;
use super::job::{axis_name, Job};
use super::Drawn;
use crate::viz::figures::{mean_std, tick_text, Heatmap};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub index: usize,
    /// `sweep` (one row per run and epoch) or `cells` (means and stds over seeds).
    #[serde(default = "default_table")]
    pub table: String,
    #[serde(default = "default_rows")]
    pub rows: String,
    #[serde(default = "default_cols")]
    pub cols: String,
    #[serde(default = "default_value")]
    pub value: String,
    /// Column with each row's spread (default: `VALUE_std` for a `VALUE_mean` column when
    /// the table has it; otherwise the std over seeds of the cell's runs).
    #[serde(default)]
    pub spread: Option<String>,
}

fn default_table() -> String {
    "sweep".into()
}
fn default_rows() -> String {
    "hidden".into()
}
fn default_cols() -> String {
    curves::LR.into()
}
fn default_value() -> String {
    curves::TEST_ACC.into()
}

impl Options {
    pub(super) fn draw(&self, job: &Job<'_>) -> Result<Drawn> {
        let (fig, seeds) = self.figure(job)?;
        let (lo, hi) = fig.color_range();
        let caption = format!(
            "each cell: mean over seeds ({seeds}) of the last epoch's value, ± its std over seeds; colour scale fitted to the data, from {lo:.3} (smallest cell) to {hi:.3} (largest); a red border and a note mark cells with saturated runs (one constant output for every test row: the accuracy is the share of one class) or diverged runs"
        );
        let title = fig.title.clone();
        job.render(&fig, title, caption)
    }

    /// The heatmap and how many seeds its cells pool, in words.
    pub(super) fn figure(&self, job: &Job<'_>) -> Result<(Heatmap, String)> {
        let (rows_col, cols_col, value_col) = (&self.rows, &self.cols, &self.value);
        let (b, what) = job.batch(self.index, &self.table)?;
        let t = Named::new(&b, what.clone());
        let rows = t.f64s(rows_col)?;
        let cols = t.f64s(cols_col)?;
        let values = t.f64s(value_col)?;
        let n = rows.len();
        let spread_col = self.spread.clone().or_else(|| {
            value_col
                .strip_suffix("_mean")
                .map(|m| format!("{m}_std"))
                .filter(|c| t.has(c))
        });
        let given_spread = spread_col.as_deref().map(|c| t.f64s(c)).transpose()?;
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
        let wanted = match (&optimizer, job.optimizers) {
            (Some(opts), None) => {
                let mut distinct: Vec<&String> = opts.iter().collect();
                distinct.sort();
                distinct.dedup();
                if distinct.len() > 1 {
                    bail!(
                        "figure `{}`: {what} mixes optimizers ({}); choose one with `optimizers: [NAME]`",
                        job.name,
                        distinct.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    );
                }
                None
            }
            (_, order) => order.and_then(|o| o.first().cloned()),
        };
        let keep = |i: usize| match (&optimizer, &wanted) {
            (Some(opts), Some(w)) => &opts[i] == w,
            _ => true,
        };
        // Last epoch of each (row, col, seed) run, then the mean over seeds per cell.
        let key = |v: f64| (v * 1e12).round() as i64;
        let mut last: BTreeMap<(i64, i64, String), (f64, f64, f64)> = BTreeMap::new();
        for i in (0..n).filter(|&i| keep(i)) {
            let e = last
                .entry((key(rows[i]), key(cols[i]), seed[i].clone()))
                .or_insert((f64::NEG_INFINITY, f64::NAN, f64::NAN));
            if epoch[i] >= e.0 {
                let s = given_spread.as_ref().map_or(f64::NAN, |g| g[i]);
                *e = (epoch[i], values[i], s);
            }
        }
        if last.is_empty() {
            bail!("figure `{}`: {what} has no rows to draw", job.name);
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
        if cols_col == curves::LR {
            col_vals.sort_by(|a, b| b.total_cmp(a));
        } else {
            col_vals.sort_by(f64::total_cmp);
        }
        let mut grid = vec![vec![f64::NAN; col_vals.len()]; row_vals.len()];
        let mut spread = grid.clone();
        let mut seeds_per_cell = Vec::new();
        for (r, &rv) in row_vals.iter().enumerate() {
            for (c, &cv) in col_vals.iter().enumerate() {
                let cell: Vec<(f64, f64)> = last
                    .iter()
                    .filter(|((kr, kc, _), _)| *kr == key(rv) && *kc == key(cv))
                    .map(|(_, v)| (v.1, v.2))
                    .collect();
                if cell.is_empty() {
                    continue;
                }
                let vals: Vec<f64> = cell.iter().map(|c| c.0).collect();
                let (m, sd) = mean_std(&vals);
                grid[r][c] = m;
                // A table of means carries its own spread; runs give theirs.
                spread[r][c] = if given_spread.is_some() && cell.len() == 1 {
                    cell[0].1
                } else {
                    sd
                };
                seeds_per_cell.push(cell.len());
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
        for i in (0..n).filter(|&i| keep(i)) {
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
        let seeds = match seeds_per_cell.first() {
            Some(&k) if seeds_per_cell.iter().all(|&s| s == k) && given_spread.is_none() => {
                format!("{k} seeds per cell")
            }
            _ if t.has("seeds") => {
                let s = t.f64s("seeds")?;
                format!(
                    "{:.0} seeds per cell",
                    s.first().copied().unwrap_or(f64::NAN)
                )
            }
            _ => "the seeds of each cell".into(),
        };
        let fmt = |v: &f64| tick_text(*v);
        let fig = Heatmap {
            marks,
            title: job.title_or("Hyper-parameter grid"),
            x_label: axis_name(cols_col),
            y_label: axis_name(rows_col),
            x_ticks: col_vals.iter().map(fmt).collect(),
            y_ticks: row_vals.iter().map(fmt).collect(),
            values: grid,
            spread,
            value_range: None,
            value_label: axis_name(value_col),
        };
        Ok((fig, seeds))
    }
}
