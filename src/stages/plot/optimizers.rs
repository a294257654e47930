//! `type: optimizers`: the study's 2x2 figure (epoch and time against training loss and
//! test accuracy), one line per optimizer, from one stage's curves.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::super::curves::{self, by_optimizer};
use super::job::{band, curves_table, label_of, line_caption, shortest_epochs, Job};
use super::Drawn;
use crate::viz::figures::{Band, OptimizerCurves, OptimizerPanels};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Which stage of the role (0 = first).
    #[serde(default)]
    pub index: usize,
    #[serde(default = "curves_table")]
    pub table: String,
}

impl Options {
    pub(super) fn draw(&self, job: &Job<'_>) -> Result<Drawn> {
        let runs = job.runs(
            self.index,
            &self.table,
            &[],
            &[curves::TRAIN_MSE, curves::TEST_ACC, curves::ELAPSED_S],
            &[curves::LR],
        )?;
        let groups = by_optimizer(&runs, job.optimizers);
        let counts = groups
            .iter()
            .map(|(o, rs)| (crate::viz::figures::display_name(o), rs.len()))
            .collect::<Vec<_>>();
        let curves = groups
            .into_iter()
            .map(|(opt, rs)| OptimizerCurves {
                label: label_of(&opt, &rs),
                epoch: shortest_epochs(&rs),
                time_s: band(&rs, curves::ELAPSED_S).mean,
                loss: band(&rs, curves::TRAIN_MSE),
                accuracy: Band {
                    final_interval: job.final_interval(self.index, &opt),
                    ..band(&rs, curves::TEST_ACC)
                },
                name: opt,
            })
            .collect();
        let title = job.title_or("Optimizers: loss and accuracy");
        let fig = OptimizerPanels {
            title: title.clone(),
            curves,
        };
        job.render(&fig, title, line_caption(job, &counts))
    }
}
