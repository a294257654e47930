//! What two runs differ in: variables and `--set` values, every stage param (read from the
//! stages' manifests, which hold the params their key was made of), the stages whose key
//! changed, and the headline metrics side by side with the change. `diff` prints it,
//! `report --compare` lays it out as HTML.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::record::RunRecord;
use crate::cache::Cache;
use crate::headline::{fmt_number, StageMetric};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// A variable's name, or `STAGE.PATH` of a param.
    pub param: String,
    /// `None`: absent in that run.
    pub a: Option<Value>,
    pub b: Option<Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StageChange {
    pub stage: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricChange {
    /// `stage:name`.
    pub metric: String,
    pub a: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a_interval: Option<(f64, f64)>,
    pub b: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_interval: Option<(f64, f64)>,
    /// b − a, when both have it.
    pub delta: Option<f64>,
    /// The 95% interval of b − a, paired over the test questions both runs evaluated,
    /// where the stage can pair them (`evaluate`'s accuracies) and both artifacts are
    /// still in the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_interval: Option<(f64, f64)>,
    /// How many test questions that interval resampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired_questions: Option<usize>,
    pub moved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub higher_is_better: Option<bool>,
}

impl MetricChange {
    /// A's value with its interval, as a table cell (`-` when A lacks it).
    pub fn cell_a(&self) -> String {
        cell(self.a, self.a_interval)
    }

    pub fn cell_b(&self) -> String {
        cell(self.b, self.b_interval)
    }

    /// The change, with its paired interval where there is one:
    /// `+0.02 [-0.01, +0.05] paired over 100 test questions`.
    pub fn cell_delta(&self) -> String {
        let Some(d) = self.delta else {
            return "-".into();
        };
        match (self.delta_interval, self.paired_questions) {
            (Some((lo, hi)), Some(n)) => format!(
                "{} [{}, {}] paired over {n} test questions",
                signed(d),
                signed(lo),
                signed(hi)
            ),
            _ => signed(d),
        }
    }
}

fn cell(v: Option<f64>, interval: Option<(f64, f64)>) -> String {
    match (v, interval) {
        (None, _) => "-".to_string(),
        (Some(v), None) => fmt_number(v),
        (Some(v), Some((lo, hi))) => {
            format!("{} [{}, {}]", fmt_number(v), fmt_number(lo), fmt_number(hi))
        }
    }
}

fn signed(x: f64) -> String {
    format!("{}{}", if x >= 0.0 { "+" } else { "" }, fmt_number(x))
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub a: String,
    pub b: String,
    /// Variables (defaults and `--var`) that differ.
    pub vars: Vec<Change>,
    /// `--set` values that differ.
    pub sets: Vec<Change>,
    /// Stage params that differ, `STAGE.PATH`, from the stages' manifests.
    pub params: Vec<Change>,
    /// Stages whose key changed but whose params could not be read (artifact collected or
    /// never written: the stage failed).
    pub params_unknown: Vec<String>,
    pub stages: Vec<StageChange>,
    pub metrics: Vec<MetricChange>,
    /// The pipeline file's text changed.
    pub pipeline_changed: bool,
}

pub fn diff(a: &RunRecord, b: &RunRecord, cache: &Cache) -> Diff {
    let vars = changes(&a.vars, &b.vars, "");
    let sets = changes(&a.sets, &b.sets, "");
    let mut stages = Vec::new();
    let mut params = Vec::new();
    let mut params_unknown = Vec::new();
    let names: Vec<&str> = union(
        a.stages.iter().map(|s| s.name.as_str()),
        b.stages.iter().map(|s| s.name.as_str()),
    );
    for name in names {
        let ka = a.stage(name).map(|s| s.key.clone());
        let kb = b.stage(name).map(|s| s.key.clone());
        if ka == kb {
            continue;
        }
        let pa = ka.as_deref().and_then(|k| manifest_params(cache, k));
        let pb = kb.as_deref().and_then(|k| manifest_params(cache, k));
        match (&pa, &pb) {
            (Some(x), Some(y)) => params.extend(changes(&flatten(x), &flatten(y), name)),
            _ if ka.is_some() && kb.is_some() => params_unknown.push(name.to_string()),
            _ => {}
        }
        stages.push(StageChange {
            stage: name.to_string(),
            a: ka,
            b: kb,
        });
    }
    let mut metrics = metric_changes(&a.metrics, &b.metrics);
    for c in &stages {
        let (Some(ka), Some(kb)) = (&c.a, &c.b) else {
            continue;
        };
        for p in paired(cache, ka, kb) {
            let label = format!("{}:{}", c.stage, p.metric);
            if let Some(m) = metrics.iter_mut().find(|m| m.metric == label) {
                m.delta_interval = Some((p.lo, p.hi));
                m.paired_questions = Some(p.questions);
            }
        }
    }
    Diff {
        a: a.id.clone(),
        b: b.id.clone(),
        vars,
        sets,
        params,
        params_unknown,
        stages,
        metrics,
        pipeline_changed: a.pipeline_hash != b.pipeline_hash,
    }
}

/// The paired changes between two artifacts of one stage (verified; none when either is
/// gone or the kind cannot pair them).
fn paired(cache: &Cache, ka: &str, kb: &str) -> Vec<crate::stages::across_runs::PairedChange> {
    match (cache.lookup_local(ka), cache.lookup_local(kb)) {
        (Ok(a), Ok(b)) => crate::stages::paired_changes(&a, &b).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn union<'a>(x: impl Iterator<Item = &'a str>, y: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    x.chain(y).filter(|n| seen.insert(*n)).collect()
}

/// The params a stage's key was made of, from its manifest (not verified: only read).
pub fn manifest_params(cache: &Cache, key: &str) -> Option<Value> {
    let text = std::fs::read(cache.object_dir(key).join("manifest.json")).ok()?;
    let mut m: Value = serde_json::from_slice(&text).ok()?;
    Some(m.get_mut("params")?.take())
}

/// Nested mappings as dotted paths; lists and scalars are leaves (`seeds: [1, 2]`).
pub fn flatten(v: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    fn go(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    go(&p, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    go("", v, &mut out);
    out
}

fn changes(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>, stage: &str) -> Vec<Change> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Change {
            param: match (stage, k.as_str()) {
                ("", k) => k.to_string(),
                (s, "") => s.to_string(),
                (s, k) => format!("{s}.{k}"),
            },
            a: a.get(k).cloned(),
            b: b.get(k).cloned(),
        })
        .collect()
}

/// Metrics in the order run B (then A) declared them.
pub fn metric_changes(a: &[StageMetric], b: &[StageMetric]) -> Vec<MetricChange> {
    let by_a: BTreeMap<String, &StageMetric> = a.iter().map(|m| (m.label(), m)).collect();
    let by_b: BTreeMap<String, &StageMetric> = b.iter().map(|m| (m.label(), m)).collect();
    let mut seen = BTreeSet::new();
    let labels: Vec<String> = b
        .iter()
        .chain(a)
        .map(StageMetric::label)
        .filter(|l| seen.insert(l.clone()))
        .collect();
    labels
        .into_iter()
        .map(|l| {
            let (ma, mb) = (by_a.get(&l), by_b.get(&l));
            let va = ma.map(|m| m.metric.value);
            let vb = mb.map(|m| m.metric.value);
            let delta = va.zip(vb).map(|(x, y)| y - x);
            MetricChange {
                metric: l.clone(),
                a: va,
                a_interval: ma.and_then(|m| m.metric.interval),
                b: vb,
                b_interval: mb.and_then(|m| m.metric.interval),
                delta,
                delta_interval: None,
                paired_questions: None,
                moved: va != vb,
                higher_is_better: mb.or(ma).and_then(|m| m.metric.higher_is_better),
            }
        })
        .collect()
}

/// A param value as a table cell: strings bare, everything else as compact JSON.
pub fn show_value(v: Option<&Value>) -> String {
    match v {
        None => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
