//! Two runs' training curves on the same axes (`report --compare`, as `dvc plots diff`):
//! epoch against training loss and against test accuracy, one line per run and optimizer
//! (mean over seeds), run A solid and run B dashed in the optimizer's colour.

use super::super::palette::optimizer_color;
use super::super::panel::{draw_line_panel, Dash, Line, LinePanel};
use super::super::render::{Figure, PlotError};
use super::{no_data, titled_grid, Band};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One optimizer's curves in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCurve {
    /// Optimizer key ("adam"): picks the colour.
    pub optimizer: String,
    pub epoch: Vec<f64>,
    pub loss: Band,
    pub accuracy: Band,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompareCurves {
    pub title: String,
    /// Legend names of the two runs ("A 1f3a9c2e").
    pub runs: [String; 2],
    /// Each run's curves, in the order of `runs`.
    pub curves: [Vec<RunCurve>; 2],
}

const NAME: &str = "run comparison";

impl CompareCurves {
    fn panel(&self, title: &str, accuracy: bool) -> LinePanel {
        let mut lines = Vec::new();
        for (r, (name, curves)) in self.runs.iter().zip(&self.curves).enumerate() {
            for c in curves {
                let band = if accuracy { &c.accuracy } else { &c.loss };
                let mut l = Line::new(
                    Some(format!("{name}: {}", c.optimizer)),
                    optimizer_color(&c.optimizer),
                    c.epoch.clone(),
                    band.mean.clone(),
                );
                l.dash = if r == 0 { Dash::Solid } else { Dash::Dashed };
                lines.push(l);
            }
        }
        LinePanel {
            title: title.to_string(),
            x_label: "Epoch".into(),
            y_label: if accuracy { "Accuracy" } else { "Loss" }.into(),
            lines,
            y_range: None,
            x_range: None,
            legend: Some(if accuracy {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            }),
            chance: accuracy.then_some(0.5),
        }
    }

    /// Lines per panel: one per run and optimizer.
    pub fn line_count(&self) -> usize {
        self.curves.iter().map(Vec::len).sum()
    }
}

impl Figure for CompareCurves {
    fn size(&self) -> (u32, u32) {
        (1400, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.curves.iter().all(Vec::is_empty) {
            return Err(no_data(NAME, "neither run has curves"));
        }
        let areas = titled_grid(root, &self.title, 1, 2)?;
        let panels = [
            self.panel("Epoch vs Training Loss (MSE)", false),
            self.panel("Epoch vs Test Accuracy", true),
        ];
        for (area, panel) in areas.iter().zip(&panels) {
            draw_line_panel(area, panel)?;
        }
        Ok(())
    }
}
