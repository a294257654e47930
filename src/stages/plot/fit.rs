//! `type: fit`: over- and underfitting, training loss and train vs test accuracy per
//! optimizer; one row per input stage (or only `index`), y axes shared down each column.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::super::curves::{self, by_optimizer};
use super::job::{band, curves_table, label_of, line_caption, shortest_epochs, yes, Job};
use super::Drawn;
use crate::viz::figures::{display_name, Band, FitCurves, FitFigure, FitRow};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Only this stage of the role; default every stage, one row each.
    #[serde(default)]
    pub index: Option<usize>,
    #[serde(default = "curves_table")]
    pub table: String,
    /// One name per input stage (the row titles).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// One y axis per column (loss, accuracy) across the rows, so rows compare.
    #[serde(default = "yes")]
    pub share_y: bool,
}

impl Options {
    pub(super) fn draw(&self, job: &Job<'_>) -> Result<Drawn> {
        let labels = job.labels(self.labels.as_deref());
        let inputs: Vec<usize> = match self.index {
            Some(i) => vec![i],
            None => (0..job.artifacts.len()).collect(),
        };
        let mut rows = Vec::new();
        let mut counts = Vec::new();
        for i in inputs {
            let runs = job.runs(
                i,
                &self.table,
                &[],
                &[curves::TRAIN_MSE, curves::TRAIN_ACC, curves::TEST_ACC],
                &[curves::LR],
            )?;
            let mut row = FitRow {
                label: labels.get(i).cloned().unwrap_or_default(),
                curves: Vec::new(),
            };
            for (opt, rs) in by_optimizer(&runs, job.optimizers) {
                counts.push((display_name(&opt), rs.len()));
                row.curves.push(FitCurves {
                    label: label_of(&opt, &rs),
                    epoch: shortest_epochs(&rs),
                    train_loss: band(&rs, curves::TRAIN_MSE),
                    train_accuracy: band(&rs, curves::TRAIN_ACC),
                    test_accuracy: Band {
                        final_interval: job.final_interval(i, &opt),
                        ..band(&rs, curves::TEST_ACC)
                    },
                    name: opt,
                });
            }
            rows.push(row);
        }
        let title = job.title_or("Train vs test");
        let fig = FitFigure {
            title: title.clone(),
            rows,
            share_y: self.share_y,
        };
        let mut caption = line_caption(job, &counts);
        if self.share_y && fig.rows.len() > 1 {
            caption.push_str("; each column shares one y axis across the rows");
        }
        job.render(&fig, title, caption)
    }
}
