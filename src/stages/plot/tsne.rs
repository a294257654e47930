//! `type: tsne`: the `tsne` stage's coordinates as one path per run, a panel per optimizer
//! plus the joint one.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::super::columns::{is_identifier, Named};
use super::job::Job;
use super::Drawn;
use crate::viz::figures::{TsnePath, TsnePathsFigure};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub index: usize,
    #[serde(default = "default_table")]
    pub table: String,
}

fn default_table() -> String {
    "coords".into()
}

/// What the map's distances mean, for the caption.
pub const READING: &str = "t-SNE keeps neighbourhoods: snapshots close together in the map had similar weights, and a path that moves far changed its weights more than one that stays put. Distances between points that are far apart, the size and spacing of clusters, and the axes' directions and units mean nothing: t-SNE stretches and squeezes space to keep neighbours near, and another seed or perplexity draws another picture";

/// How many points are the start of runs of two or more optimizers (runs that share their
/// initial weights embed to one point).
pub(super) fn shared_starts(paths: &[TsnePath]) -> usize {
    let firsts: Vec<(&str, [f64; 2])> = paths
        .iter()
        .filter_map(|p| p.points.first().map(|&q| (p.optimizer.as_str(), q)))
        .collect();
    let extent = firsts
        .iter()
        .flat_map(|(_, q)| q.iter().map(|v| v.abs()))
        .fold(0.0, f64::max);
    let same =
        |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]) <= 1e-6 * extent.max(1.0);
    let mut counted = vec![false; firsts.len()];
    let mut groups = 0;
    for i in 0..firsts.len() {
        if counted[i] {
            continue;
        }
        let members: Vec<usize> = (i..firsts.len())
            .filter(|&j| !counted[j] && same(firsts[i].1, firsts[j].1))
            .collect();
        if members.iter().any(|&j| firsts[j].0 != firsts[i].0) {
            groups += 1;
        }
        for j in members {
            counted[j] = true;
        }
    }
    groups
}

impl Options {
    pub(super) fn draw(&self, job: &Job<'_>) -> Result<Drawn> {
        let fig = self.figure(job)?;
        let runs = fig.paths.len();
        let starts = match shared_starts(&fig.paths) {
            0 => String::new(),
            n => format!(
                " {n} stars are each shared by several optimizers' runs: those runs start from the same weights (with `rng: seed`, one seed's optimizers do), so their paths diverge from one point."
            ),
        };
        let caption = format!(
            "one line per training run ({runs} runs), through its weight snapshots in epoch order, all embedded together; star: the first snapshot, dot: the last.{starts} {READING}"
        );
        let title = fig.title.clone();
        job.render(&fig, title, caption)
    }

    pub(super) fn figure(&self, job: &Job<'_>) -> Result<TsnePathsFigure> {
        let (b, what) = job.batch(self.index, &self.table)?;
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
        let keep = |o: &String| job.optimizers.is_none_or(|list| list.contains(o));
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
        if let Some(order) = job.optimizers {
            paths.sort_by_key(|p| order.iter().position(|o| o == &p.optimizer));
        }
        Ok(TsnePathsFigure {
            title: job.title_or("t-SNE of the weight trajectories"),
            paths,
        })
    }
}
