//! `sweep`: a grid over any train params (the study's: hidden [32, 64, 128] x lr [0.1, 0.01,
//! 0.001, 0.0001], Adam, 30 epochs) or a seeded random search. Each (cell, seed) run is its
//! own cached unit, so extending a grid or adding a seed computes only the new runs.
//!
//! Params are set on `base` (a train config: hidden, optimizer, epochs, batch_size,
//! fraction, early_stopping, ...) by name: `lr` is short for `optimizer.lr`, other dotted
//! paths reach inside (`optimizer.beta1`, `early_stopping.patience`).
//!
//! Tables: `cells` (one row per cell: its params, mean and population std over seeds of
//! the final test/train accuracy and MSE, diverged runs, saturated runs: one constant test
//! output) and `sweep` (one row per cell x
//! seed: the params, seed, status, epochs run and final metrics; the `plot` heatmap's
//! default input) and `scores` (every run's raw test outputs, for `evaluate`). Whole-number params are integer columns, other numbers floats.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, UInt32Array};
use arrow::compute::concat_batches;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::columns::Named;
use super::curves;
use super::runs_table::{self, RunRow};
use super::scores;
use super::train::{batch, load_features, run_spec, status_parts, strings, Precision, RunSpec};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage, Unit, UnitParams};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::ml::metrics::mean_std;
use crate::ml::rng::{RngScope, RunKey};
use crate::ml::sweep::{apply, grid, random_search, Cell, Distribution};
use crate::ml::train::{TrainConfig, TrainError};

pub const KIND: Kind = Kind {
    name: "sweep",
    // 3: one unit per (cell, seed) instead of one per cell holding every seed; (a parallel
    // 3 wrote a `scores` table and counted saturated runs); 4: both.
    version: 4,
    summary:
        "grid or random search over train params; one cached unit per cell and seed, mean ± std over seeds",
    inputs: &[Role::one("features")],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Random {
    /// Number of cells drawn.
    pub n: usize,
    #[serde(default)]
    pub seed: u64,
    /// Per param: `{log_uniform: {low, high}}`, `{uniform: ...}`, `{int_log_uniform: ...}`
    /// or `{choice: [...]}`.
    pub params: BTreeMap<String, Distribution>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default = "default_base")]
    pub base: TrainConfig,
    /// Values per param; every combination is a cell.
    #[serde(default)]
    pub grid: Option<BTreeMap<String, Vec<Value>>>,
    #[serde(default)]
    pub random: Option<Random>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub precision: Precision,
    /// What seeds a run's random numbers: `run` (seed, optimizer, cell) or `seed` (the
    /// seed alone, as the study: one seed's cells share initial weights where shapes
    /// match, and shuffles).
    #[serde(default)]
    pub rng: RngScope,
}

/// The study's grid setting: Adam, 30 epochs, batch 32.
fn default_base() -> TrainConfig {
    TrainConfig {
        epochs: 30,
        ..TrainConfig::default()
    }
}
fn default_seeds() -> Vec<u64> {
    vec![42, 10, 2024, 7, 99]
}

/// `lr` is the one short name; everything else is a path in the train config.
fn path_of(name: &str) -> String {
    match name {
        "lr" | "learning_rate" => "optimizer.lr".into(),
        other => other.to_string(),
    }
}

struct CellUnit {
    cell: Cell,
    label: String,
    config: TrainConfig,
}

struct Sweep {
    cells: Vec<CellUnit>,
    seeds: Vec<u64>,
    precision: Precision,
    rng: RngScope,
    names: Vec<String>,
}

/// What one unit (one seed's run of one cell) is made of: hashed into its key.
#[derive(Serialize, Deserialize)]
struct RunUnit {
    cell: String,
    config: TrainConfig,
    seed: u64,
    precision: Precision,
    rng: RngScope,
}

impl Params {
    /// The param behind an invalid cell config: the grid or search entry that set the
    /// setting, else the setting in `base`.
    fn blame(&self, e: &TrainError, cell: &Cell) -> String {
        let TrainError::Field { field, .. } = e else {
            return "grid".into();
        };
        let set_by_cell = cell.params.keys().find(|k| {
            let p = path_of(k);
            p == *field
                || p.starts_with(&format!("{field}."))
                || field.starts_with(&format!("{p}."))
        });
        match (set_by_cell, self.random.is_some()) {
            (Some(k), false) => format!("grid.{k}"),
            (Some(k), true) => format!("random.params.{k}"),
            (None, _) => format!("base.{field}"),
        }
    }
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        let cells = match (&self.grid, &self.random) {
            (Some(g), None) => {
                if let Some((k, _)) = g.iter().find(|(_, v)| v.is_empty()) {
                    return Err(cx.error(&format!("grid.{k}"), "a grid param needs at least one value"));
                }
                grid(g)
            }
            (None, Some(r)) => {
                if r.n == 0 {
                    return Err(cx.error("random.n", "random search needs n >= 1"));
                }
                random_search(&r.params, r.n, r.seed).map_err(|e| cx.error("random.params", e))?
            }
            _ => {
                return Err(cx
                    .error("grid", "give exactly one of `grid` and `random`")
                    .help("grid: {hidden: [32, 64], lr: [0.01, 0.001]}  or  random: {n: 20, params: {lr: {log_uniform: {low: 0.0001, high: 0.1}}}}"))
            }
        };
        if self.seeds.is_empty() {
            return Err(cx.error("seeds", "at least one seed is needed"));
        }
        let base = serde_json::to_value(&self.base).map_err(|e| cx.error("base", e.to_string()))?;
        // Each cell's config is checked on its own (a 100,000-cell sweep plans in parallel);
        // the first bad cell in grid order is the one reported, located at its param.
        let checked: Vec<Result<CellUnit, (String, String)>> = cells
            .into_par_iter()
            .map(|cell| {
                let mut v = base.clone();
                let paths: BTreeMap<String, Value> = cell
                    .params
                    .iter()
                    .map(|(k, x)| (path_of(k), x.clone()))
                    .collect();
                apply(&mut v, &paths).map_err(|e| ("grid".to_string(), e.to_string()))?;
                let config: TrainConfig = serde_json::from_value(v)
                    .map_err(|e| ("grid".to_string(), format!("cell {}: {e}", label(&cell))))?;
                if let Err(e) = config.validate() {
                    return Err((self.blame(&e, &cell), format!("cell {}: {e}", label(&cell))));
                }
                Ok(CellUnit {
                    label: label(&cell),
                    cell,
                    config,
                })
            })
            .collect();
        let mut units = Vec::with_capacity(checked.len());
        for c in checked {
            units.push(c.map_err(|(field, message)| cx.error(&field, message))?);
        }
        let names = units
            .first()
            .map(|u| u.cell.params.keys().cloned().collect())
            .unwrap_or_default();
        Ok(Box::new(Sweep {
            cells: units,
            seeds: self.seeds,
            precision: self.precision,
            rng: self.rng,
            names,
        }))
    }
}

fn label(cell: &Cell) -> String {
    cell.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Sweep {
    /// One column per swept param, each cell's value repeated `repeat` times: whole
    /// numbers as i64, other numbers as f64, anything else as JSON text.
    fn param_columns(&self, repeat: usize) -> Vec<(String, ArrayRef)> {
        self.names
            .iter()
            .map(|name| {
                let vals: Vec<&Value> = self
                    .cells
                    .iter()
                    .flat_map(|c| std::iter::repeat_n(&c.cell.params[name], repeat))
                    .collect();
                let arr: ArrayRef = if vals.iter().all(|v| v.is_i64()) {
                    Arc::new(Int64Array::from_iter_values(
                        vals.iter().map(|v| v.as_i64().unwrap_or_default()),
                    ))
                } else if vals.iter().all(|v| v.is_number()) {
                    Arc::new(Float64Array::from_iter_values(
                        vals.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)),
                    ))
                } else {
                    Arc::new(StringArray::from_iter_values(
                        vals.iter().map(|v| v.to_string()),
                    ))
                };
                (name.clone(), arr)
            })
            .collect()
    }
}

impl Stage for Sweep {
    /// The best cell's mean test accuracy over seeds (which cell in the note).
    fn headline(&self, a: &Artifact) -> Result<Vec<crate::headline::Metric>> {
        let t = a.table("cells")?;
        let named = super::columns::Named::new(&t, "cells");
        let cells = named.strings("cell")?;
        let acc = named.f64s(&format!("{}_mean", curves::TEST_ACC))?;
        let best = (0..cells.len())
            .filter(|&i| acc[i].is_finite())
            .max_by(|&i, &j| acc[i].total_cmp(&acc[j]));
        Ok(best
            .map(|i| {
                vec![crate::headline::Metric::higher("best_test_acc", acc[i]).note(cells[i].clone())]
            })
            .unwrap_or_default())
    }

    /// Cell-major, seed-minor: the order of the `sweep` table's rows.
    fn units(&self) -> Vec<Unit> {
        let text = |v: &Value| crate::hash::canonical_text(v);
        let precision = text(&serde_json::to_value(self.precision).expect("precision serialises"));
        let rng = text(&serde_json::to_value(self.rng).expect("rng scope serialises"));
        // In parallel and in order: (cell, seed), seeds within a cell.
        self.cells
            .par_iter()
            .flat_map_iter(|c| {
                // The cell's config as canonical text once, shared by its seeds' units.
                let config = text(&serde_json::to_value(&c.config).expect("config serialises"));
                let cell = text(&Value::from(c.cell.id.as_str()));
                let (precision, rng) = (&precision, &rng);
                self.seeds.iter().map(move |&seed| {
                    // RunUnit's canonical text, written directly (keys in sorted order): a
                    // sweep has ~10^5 of them. `unit_params_are_the_canonical_text_of_run_unit`
                    // checks it against `UnitParams::new`.
                    let params = format!(
                        r#"{{"cell":{cell},"config":{config},"precision":{precision},"rng":{rng},"seed":{seed}}}"#
                    );
                    Unit {
                        id: format!("{}/seed={seed}", c.label),
                        params: UnitParams::from_canonical(params),
                    }
                })
            })
            .collect()
    }

    fn run_unit(&self, unit: &Unit, cx: &RunCx<'_>) -> Result<Output> {
        let spec: RunUnit = unit.params.parse()?;
        let d = load_features(cx)?;
        let rs = RunSpec {
            config: spec.config.clone(),
            key: RunKey::new(
                spec.rng,
                spec.seed,
                spec.config.optimizer.name(),
                &spec.cell,
            ),
            precision: spec.precision,
        };
        let results = [run_spec(&d, &rs, cx)?];
        let rows: Vec<RunRow> = results
            .iter()
            .map(|r| {
                let at_end = |g: fn(&crate::ml::train::EpochRecord) -> f64| r.curves.last().map(g);
                RunRow {
                    config: spec.cell.clone(),
                    seed: spec.seed,
                    status: status_parts(r.status).0.to_string(),
                    epochs_run: Some(r.curves.len() as u32),
                    train_mse: at_end(|c| c.train_mse),
                    train_acc: at_end(|c| c.train_acc),
                    test_mse: at_end(|c| c.test_mse),
                    test_acc: at_end(|c| c.test_acc),
                    ..RunRow::default()
                }
            })
            .collect();
        let runs = runs_table::to_batch(&runs_table::SWEEP, &rows)?;
        // Raw test outputs per seed, for `evaluate`'s question-level intervals.
        let y_test = d.y_test.to_vec();
        // The unit id is `LABEL/seed=N`: the cell's label is what pairs runs across seeds.
        let label = unit
            .id
            .rsplit_once("/seed=")
            .map_or(unit.id.as_str(), |(l, _)| l);
        let parts = results
            .iter()
            .map(|r| {
                scores::to_batch(
                    &[(scores::CELL, &spec.cell), (scores::CELL_LABEL, label)],
                    spec.seed,
                    &y_test,
                    &r.test_scores.to_vec(),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let scores = concat_batches(&parts[0].schema(), &parts)?;
        Ok(Output::default()
            .table(curves::RUNS, runs)
            .table(scores::SCORES, scores))
    }

    fn run(&self, _cx: &RunCx<'_>, units: &[Arc<Artifact>]) -> Result<Output> {
        let parts = units
            .iter()
            .map(|u| u.table(curves::RUNS))
            .collect::<Result<Vec<_>>>()?;
        let runs = concat_batches(&parts[0].schema(), &parts)?;
        let rows = runs_table::from_batch(&Named::new(&runs, "a sweep unit's runs"), scores::CELL)?;
        let mut cols: Vec<(String, ArrayRef)> = vec![(
            "cell".into(),
            strings(self.cells.iter().map(|c| c.cell.id.clone()).collect()),
        )];
        cols.extend(self.param_columns(1));
        // Units are (cell, seed) in cell order, seeds within a cell.
        let per_cell = |metric: fn(&RunRow) -> Option<f64>| -> Vec<Vec<f64>> {
            rows.chunks(self.seeds.len().max(1))
                .map(|c| {
                    c.iter()
                        .filter_map(metric)
                        .filter(|x| x.is_finite())
                        .collect()
                })
                .collect()
        };
        type Get = fn(&RunRow) -> Option<f64>;
        let metrics: [(&str, Get); 4] = [
            (curves::TEST_ACC, |r| r.test_acc),
            (curves::TEST_MSE, |r| r.test_mse),
            (curves::TRAIN_ACC, |r| r.train_acc),
            (curves::TRAIN_MSE, |r| r.train_mse),
        ];
        for (metric, get) in metrics {
            let (mut means, mut stds) = (Vec::new(), Vec::new());
            for xs in per_cell(get) {
                let (m, s) = mean_std(&xs, 0);
                means.push((!xs.is_empty()).then_some(m));
                stds.push((!xs.is_empty()).then_some(s));
            }
            cols.push((
                format!("{metric}_mean"),
                Arc::new(Float64Array::from(means)),
            ));
            cols.push((format!("{metric}_std"), Arc::new(Float64Array::from(stds))));
        }
        let diverged: Vec<u32> = rows
            .chunks(self.seeds.len().max(1))
            .map(|c| {
                c.iter()
                    .filter(|r| r.status == runs_table::DIVERGED)
                    .count() as u32
            })
            .collect();
        cols.push(("diverged".into(), Arc::new(UInt32Array::from(diverged))));
        // Runs whose test output is one constant (e.g. lr 0.1: tanh pinned at ±1). Units are
        // (cell, seed) in cell order, seeds within a cell.
        let per_unit = units
            .iter()
            .map(|u| {
                let runs =
                    scores::from_batch(&u.table(scores::SCORES)?, scores::CELL, "a sweep cell")?;
                Ok(runs
                    .iter()
                    .filter(|r| scores::is_saturated(&r.scores))
                    .count() as u32)
            })
            .collect::<Result<Vec<u32>>>()?;
        let saturated: Vec<u32> = per_unit
            .chunks(self.seeds.len().max(1))
            .map(|c| c.iter().sum())
            .collect();
        cols.push(("saturated".into(), Arc::new(UInt32Array::from(saturated))));
        let cells = batch(cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect())?;
        // Per cell x seed, with the params beside (what the `plot` heatmap reads).
        let mut per_run = self.param_columns(self.seeds.len());
        let schema = runs.schema();
        for (f, c) in schema.fields().iter().zip(runs.columns()) {
            per_run.push((f.name().clone(), c.clone()));
        }
        let sweep = batch(
            per_run
                .iter()
                .map(|(n, a)| (n.as_str(), a.clone()))
                .collect(),
        )?;
        let parts = units
            .iter()
            .map(|u| u.table(scores::SCORES))
            .collect::<Result<Vec<_>>>()?;
        let scores = concat_batches(&parts[0].schema(), &parts)?;
        Ok(Output::default()
            .table("cells", cells)
            .table(runs_table::SWEEP_RUNS, sweep)
            .table(scores::SCORES, scores))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `units` writes each unit's canonical text by hand; it must be what the generic path
    /// (serialise `RunUnit`, then canonical text) gives, or every sweep unit's key changes.
    #[test]
    fn unit_params_are_the_canonical_text_of_run_unit() {
        let cell = |h: u64, lr: f64| {
            Cell::new(BTreeMap::from([
                ("hidden".to_string(), Value::from(h)),
                ("lr".to_string(), Value::from(lr)),
            ]))
        };
        let cells: Vec<CellUnit> = [cell(8, 1e-3), cell(64, 3.0000000000000004e-5)]
            .into_iter()
            .map(|c| {
                let config = TrainConfig {
                    hidden: vec![c.params["hidden"].as_u64().unwrap() as usize],
                    ..TrainConfig::default()
                };
                CellUnit {
                    label: label(&c),
                    cell: c,
                    config,
                }
            })
            .collect();
        let sweep = Sweep {
            cells,
            seeds: vec![1, 42],
            precision: Precision::default(),
            rng: RngScope::default(),
            names: vec!["hidden".into(), "lr".into()],
        };
        let units = sweep.units();
        assert_eq!(units.len(), 4);
        for (u, (c, seed)) in units.iter().zip(
            sweep
                .cells
                .iter()
                .flat_map(|c| sweep.seeds.iter().map(move |&s| (c, s))),
        ) {
            let generic = serde_json::to_value(RunUnit {
                cell: c.cell.id.clone(),
                config: c.config.clone(),
                seed,
                precision: sweep.precision,
                rng: sweep.rng,
            })
            .unwrap();
            assert_eq!(u.params, UnitParams::new(&generic), "{}", u.id);
            let back: RunUnit = u.params.parse().unwrap();
            assert_eq!(back.config, c.config, "the config parses back exactly");
        }
    }
}
