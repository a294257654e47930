//! Headline metrics: the few numbers a stage declares as its result (test accuracy with its
//! 95% interval, final training MSE, claim verdict counts), read from the stage's artifact
//! by [`crate::stages::Stage::headline`] after a run. `run` prints them in its summary and
//! in `--json`, the run log records them, and `runs`, `diff` and `report --compare` set
//! them side by side. Kinds that declare none return an empty list.

use serde::{Deserialize, Serialize};

/// One named number, optionally with an interval and a direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Stable across runs of the same pipeline, e.g. `accuracy[train/adam]`.
    pub name: String,
    pub value: f64,
    /// The 95% interval the stage computed (bootstrap over questions, or over seeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    /// Whether larger is better (accuracy: `true`, MSE: `false`); `None` when neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub higher_is_better: Option<bool>,
    /// What the number is about when the name cannot say it (the best cell's params).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Metric {
    pub fn new(name: impl Into<String>, value: f64) -> Metric {
        Metric {
            name: name.into(),
            value,
            interval: None,
            higher_is_better: None,
            note: None,
        }
    }

    pub fn higher(name: impl Into<String>, value: f64) -> Metric {
        Metric {
            higher_is_better: Some(true),
            ..Metric::new(name, value)
        }
    }

    pub fn lower(name: impl Into<String>, value: f64) -> Metric {
        Metric {
            higher_is_better: Some(false),
            ..Metric::new(name, value)
        }
    }

    /// With its 95% interval; a non-finite bound (one seed: no interval) leaves none.
    pub fn interval(mut self, lo: f64, hi: f64) -> Metric {
        self.interval = (lo.is_finite() && hi.is_finite()).then_some((lo, hi));
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Metric {
        self.note = Some(note.into());
        self
    }

    /// `0.712 [0.665, 0.758]`, three decimals (four below 0.1, as MSEs are).
    pub fn display(&self) -> String {
        let count = self.interval.is_none()
            && self.higher_is_better.is_none()
            && self.value.fract() == 0.0
            && self.value.abs() < 1e9;
        if count {
            return format!("{:.0}", self.value);
        }
        let v = fmt_number(self.value);
        match self.interval {
            Some((lo, hi)) => format!("{v} [{}, {}]", fmt_number(lo), fmt_number(hi)),
            None => v,
        }
    }
}

/// A stage's metric as the run log stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageMetric {
    pub stage: String,
    #[serde(flatten)]
    pub metric: Metric,
}

impl StageMetric {
    /// `stage:name`, how `runs` and `diff` label it.
    pub fn label(&self) -> String {
        format!("{}:{}", self.stage, self.metric.name)
    }
}

/// Drops what JSON cannot hold (NaN: a run without test rows), so a record always parses.
pub fn finite(metrics: Vec<Metric>) -> Vec<Metric> {
    metrics
        .into_iter()
        .filter(|m| m.value.is_finite())
        .map(|m| {
            let Metric { interval, .. } = &m;
            let keep = interval.filter(|(lo, hi)| lo.is_finite() && hi.is_finite());
            Metric {
                interval: keep,
                ..m
            }
        })
        .collect()
}

/// Three decimals, four for small values (MSEs, small deltas); zero as `0.000`.
pub fn fmt_number(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v != 0.0 && v.abs() < 0.1 {
        format!("{v:.4}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_value_and_interval() {
        let m = Metric::higher("accuracy[train/adam]", 0.7123).interval(0.665, 0.7581);
        assert_eq!(m.display(), "0.712 [0.665, 0.758]");
        assert_eq!(Metric::lower("mse", 0.01234).display(), "0.0123");
        assert_eq!(Metric::new("supported", 7.0).display(), "7");
        assert_eq!(Metric::new("a", 0.5).interval(f64::NAN, 1.0).interval, None);
    }

    #[test]
    fn non_finite_metrics_are_dropped_before_json() {
        let v = finite(vec![Metric::new("a", f64::NAN), Metric::new("b", 1.0)]);
        assert_eq!(v.len(), 1);
        let text = serde_json::to_string(&v[0]).unwrap();
        let back: Metric = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v[0]);
    }
}
