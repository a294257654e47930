//! `type: bars`: final test accuracy per optimizer, one bar per input stage (e.g. TF-IDF
//! vs E5), whiskers the 95% interval over test questions when evidence has it.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::super::curves::{self, by_optimizer};
use super::job::{curves_table, pooled, Job};
use super::Drawn;
use crate::viz::figures::{display_name, mean_std, BarSeries, GroupedBars};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default = "curves_table")]
    pub table: String,
    /// One name per input stage (the bar series).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

impl Options {
    pub(super) fn draw(&self, job: &Job<'_>) -> Result<Drawn> {
        let labels = job.labels(self.labels.as_deref());
        let mut groups: Vec<String> = Vec::new();
        let mut per_input = Vec::new();
        let mut counts = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let runs = job.runs(i, &self.table, &[], &[curves::TEST_ACC], &[])?;
            let finals: Vec<(String, Vec<f64>)> = by_optimizer(&runs, job.optimizers)
                .into_iter()
                .map(|(o, rs)| (o, rs.iter().map(|r| r.last(curves::TEST_ACC)).collect()))
                .collect();
            for (o, v) in &finals {
                counts.push((format!("{label} {}", display_name(o)), v.len()));
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
                    groups.iter().map(|g| job.final_interval(i, g)).collect();
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
        let with_intervals = series.iter().all(|s| s.intervals.is_some());
        let y_label = if with_intervals {
            "Final test accuracy (95% interval over test questions)"
        } else {
            "Final test accuracy (mean ± std over seeds)"
        };
        let title = job.title_or("Final test accuracy");
        let fig = GroupedBars {
            title: title.clone(),
            y_label: y_label.into(),
            groups: groups.iter().map(|g| display_name(g)).collect(),
            series,
            y_range: None,
            chance: Some(0.5),
        };
        let whiskers = match job.interval_method() {
            Some(m) if with_intervals => {
                format!("whiskers: 95% intervals of the final test accuracy, {m}")
            }
            _ => "whiskers: mean ± 1 std over seeds".into(),
        };
        let caption = format!(
            "bars: mean final test accuracy over seeds, {}; {whiskers}; dashed grey: chance accuracy (0.5)",
            pooled(&counts)
        );
        job.render(&fig, title, caption)
    }
}
