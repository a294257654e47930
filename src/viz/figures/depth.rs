//! Model depth comparison: for each optimizer, training loss (top) and test accuracy
//! (bottom) of each architecture, mean over seeds with +/-1 std bands.

use super::super::palette::cycle;
use super::super::panel::{draw_line_panel, Line, LinePanel};
use super::super::render::{Figure, PlotError};
use super::{check_len, no_data, titled_grid, Band};
use plotters::coord::Shift;
use plotters::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct DepthSeries {
    /// Architecture, e.g. "one layer", "MLP [2049, 64, 1]".
    pub model: String,
    pub optimizer: String,
    pub epoch: Vec<f64>,
    pub train_loss: Band,
    pub test_accuracy: Band,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DepthFigure {
    pub title: String,
    pub series: Vec<DepthSeries>,
}

const NAME: &str = "depth comparison";

fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in items {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

impl DepthFigure {
    fn columns(&self) -> Vec<String> {
        first_seen(self.series.iter().map(|s| s.optimizer.as_str()))
    }
}

impl Figure for DepthFigure {
    fn size(&self) -> (u32, u32) {
        let cols = self.columns().len().max(1) as u32;
        (cols * 560, 960)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.series.is_empty() {
            return Err(no_data(NAME, "no series"));
        }
        for s in &self.series {
            let n = s.epoch.len();
            check_len(
                NAME,
                &format!("{} / {} loss", s.model, s.optimizer),
                n,
                s.train_loss.len(),
            )?;
            check_len(
                NAME,
                &format!("{} / {} accuracy", s.model, s.optimizer),
                n,
                s.test_accuracy.len(),
            )?;
        }
        let opts = self.columns();
        let models = first_seen(self.series.iter().map(|s| s.model.as_str()));
        let areas = titled_grid(root, &self.title, 2, opts.len())?;
        for (c, opt) in opts.iter().enumerate() {
            for (r, accuracy) in [false, true].into_iter().enumerate() {
                let lines = self
                    .series
                    .iter()
                    .filter(|s| &s.optimizer == opt)
                    .map(|s| {
                        let color = cycle(models.iter().position(|m| m == &s.model).unwrap_or(0));
                        let band = if accuracy {
                            &s.test_accuracy
                        } else {
                            &s.train_loss
                        };
                        let mut l = Line::new(
                            Some(s.model.clone()),
                            color,
                            s.epoch.clone(),
                            band.mean.clone(),
                        );
                        l.band = Some(band.std.clone());
                        if let (Some((lo, hi)), Some(&x)) = (band.final_interval, s.epoch.last()) {
                            l.intervals = Some(vec![(x, lo, hi)]);
                        }
                        l
                    })
                    .collect();
                let panel = LinePanel {
                    title: format!(
                        "{}: {}",
                        opt.to_uppercase(),
                        if accuracy {
                            "test accuracy"
                        } else {
                            "training loss"
                        }
                    ),
                    x_label: "Epoch".into(),
                    y_label: if accuracy { "Accuracy" } else { "Loss (MSE)" }.into(),
                    lines,
                    y_range: None,
                    x_range: None,
                    legend: Some(if accuracy {
                        SeriesLabelPosition::LowerRight
                    } else {
                        SeriesLabelPosition::UpperRight
                    }),
                    chance: accuracy.then_some(0.5),
                };
                draw_line_panel(&areas[r * opts.len() + c], &panel)?;
            }
        }
        Ok(())
    }
}
