//! Two runs' training curves on the same axes (`report --compare`, as `dvc plots diff`):
//! epoch against training loss and against test accuracy, one line per run and optimizer
//! (mean over seeds), run A solid and run B dashed in the optimizer's colour.

use super::super::palette::optimizer_color;
use super::super::panel::{Dash, Line, LinePanel, PanelGeometry};
use super::super::render::{Figure, PlotError};
use super::{cells, draw_panels, no_data, Band, Rect};
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
            x_ticks: None,
            legend: true,
            chance: accuracy.then_some(0.5),
            marks: Vec::new(),
        }
    }

    fn panels(&self) -> Vec<(Rect, LinePanel)> {
        cells(self.size(), 1, 2)
            .into_iter()
            .zip([
                self.panel("Epoch vs Training Loss (MSE)", false),
                self.panel("Epoch vs Test Accuracy", true),
            ])
            .collect()
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
        draw_panels(root, &self.title, &self.panels())?;
        Ok(())
    }

    fn geometry(&self) -> Result<Vec<PanelGeometry>, PlotError> {
        if self.curves.iter().all(Vec::is_empty) {
            return Err(no_data(NAME, "neither run has curves"));
        }
        Ok(self.panels().iter().map(|(r, p)| p.layout(*r)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(opt: &str, loss: f64) -> RunCurve {
        RunCurve {
            optimizer: opt.into(),
            epoch: vec![1.0, 2.0],
            loss: Band::exact(vec![loss, loss / 2.0]),
            accuracy: Band::exact(vec![0.5, 0.6]),
        }
    }

    #[test]
    fn both_runs_share_the_axes_a_solid_b_dashed_same_colour_per_optimizer() {
        let fig = CompareCurves {
            title: "t".into(),
            runs: ["A 1".into(), "B 2".into()],
            curves: [
                vec![curve("adam", 1.0), curve("sgd", 0.9)],
                vec![curve("adam", 0.8)],
            ],
        };
        for accuracy in [false, true] {
            let p = fig.panel("p", accuracy);
            let labels: Vec<&str> = p
                .lines
                .iter()
                .map(|l| l.label.as_deref().unwrap())
                .collect();
            assert_eq!(labels, ["A 1: adam", "A 1: sgd", "B 2: adam"]);
            let dashes: Vec<Dash> = p.lines.iter().map(|l| l.dash).collect();
            assert_eq!(dashes, [Dash::Solid, Dash::Solid, Dash::Dashed]);
            assert_eq!(p.lines[0].color, p.lines[2].color);
        }
        assert_eq!(fig.panel("p", false).lines[2].y, [0.8, 0.4]);
        let png = crate::viz::render(&fig, crate::viz::Format::Png).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }
}
