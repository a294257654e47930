//! `type: depth`: one architecture per input stage; per optimizer (column) the training
//! loss and test accuracy of each; each row shares one y axis by default.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::super::curves::{self, by_optimizer};
use super::job::{band, curves_table, line_caption, shortest_epochs, yes, Job};
use super::Drawn;
use crate::viz::figures::{display_name, Band, DepthFigure, DepthSeries};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default = "curves_table")]
    pub table: String,
    /// One name per input stage (the architectures).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// One y axis per row (loss, accuracy) across the optimizers, so panels compare.
    #[serde(default = "yes")]
    pub share_y: bool,
}

impl Options {
    pub(super) fn draw(&self, job: &Job<'_>) -> Result<Drawn> {
        let labels = job.labels(self.labels.as_deref());
        let mut series = Vec::new();
        let mut counts = Vec::new();
        for (i, label) in labels.iter().enumerate() {
            let runs = job.runs(
                i,
                &self.table,
                &[],
                &[curves::TRAIN_MSE, curves::TEST_ACC],
                &[],
            )?;
            for (opt, rs) in by_optimizer(&runs, job.optimizers) {
                counts.push((format!("{label} {}", display_name(&opt)), rs.len()));
                series.push(DepthSeries {
                    model: label.clone(),
                    epoch: shortest_epochs(&rs),
                    train_loss: band(&rs, curves::TRAIN_MSE),
                    test_accuracy: Band {
                        final_interval: job.final_interval(i, &opt),
                        ..band(&rs, curves::TEST_ACC)
                    },
                    optimizer: opt,
                });
            }
        }
        let title = job.title_or("Model depth");
        let fig = DepthFigure {
            title: title.clone(),
            series,
            share_y: self.share_y,
        };
        let mut caption = line_caption(job, &counts);
        if self.share_y {
            caption.push_str("; each row shares one y axis across the optimizers");
        }
        job.render(&fig, title, caption)
    }
}
