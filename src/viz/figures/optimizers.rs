//! The study's 2x2 optimizer figure: epoch and wall time against training loss and test
//! accuracy, one line per optimizer (mean over seeds) with a +/-1 std band; accuracy panels
//! draw chance (0.5) and, at the last epoch, the 95% interval over test questions.

use super::super::palette::optimizer_color;
use super::super::panel::{Line, LinePanel, PanelGeometry};
use super::super::render::{Figure, PlotError};
use super::{cells, check_len, draw_panels, no_data, share_y, Band, Rect};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One optimizer's curves, already summarised over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerCurves {
    /// Optimizer key ("gd", "sgd", "adam", ...): picks the colour.
    pub name: String,
    /// Legend text, e.g. "Adam (lr=0.001, batch 32)".
    pub label: String,
    pub epoch: Vec<f64>,
    /// Mean over seeds of the seconds elapsed at each epoch.
    pub time_s: Vec<f64>,
    pub loss: Band,
    pub accuracy: Band,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerPanels {
    pub title: String,
    pub curves: Vec<OptimizerCurves>,
}

const NAME: &str = "optimizer panels";

impl OptimizerPanels {
    fn check(&self) -> Result<(), PlotError> {
        if self.curves.is_empty() {
            return Err(no_data(NAME, "no optimizer curves"));
        }
        for c in &self.curves {
            let n = c.epoch.len();
            check_len(NAME, &format!("{} time", c.name), n, c.time_s.len())?;
            check_len(NAME, &format!("{} loss", c.name), n, c.loss.len())?;
            check_len(NAME, &format!("{} accuracy", c.name), n, c.accuracy.len())?;
        }
        Ok(())
    }

    fn panel(&self, title: &str, by_time: bool, accuracy: bool) -> LinePanel {
        let lines = self
            .curves
            .iter()
            .map(|c| {
                let band = if accuracy { &c.accuracy } else { &c.loss };
                let x = if by_time {
                    c.time_s.clone()
                } else {
                    c.epoch.clone()
                };
                let mut l = Line::new(
                    Some(c.label.clone()),
                    optimizer_color(&c.name),
                    x,
                    band.mean.clone(),
                );
                l.band = Some(band.std.clone());
                if let (Some((lo, hi)), Some(&x)) = (band.final_interval, l.x.last()) {
                    l.intervals = Some(vec![(x, lo, hi)]);
                }
                l
            })
            .collect();
        LinePanel {
            title: title.to_string(),
            x_label: if by_time { "Time (s)" } else { "Epoch" }.to_string(),
            y_label: if accuracy { "Accuracy" } else { "Loss" }.to_string(),
            lines,
            y_range: None,
            x_range: None,
            x_ticks: None,
            legend: true,
            chance: accuracy.then_some(0.5),
            marks: Vec::new(),
        }
    }

    /// The 2x2 panels in their cells; the two loss panels share a y axis, as do the two
    /// accuracy panels (same values against epochs and against time).
    fn panels(&self) -> Vec<(Rect, LinePanel)> {
        let cells = cells(self.size(), 2, 2);
        let mut p: Vec<(Rect, LinePanel)> = cells
            .into_iter()
            .zip([
                self.panel("Epoch vs Training Loss (MSE)", false, false),
                self.panel("Epoch vs Test Accuracy", false, true),
                self.panel("Time (s) vs Training Loss", true, false),
                self.panel("Time (s) vs Test Accuracy", true, true),
            ])
            .collect();
        share_y(&mut p, &[vec![0, 2], vec![1, 3]]);
        p
    }
}

impl Figure for OptimizerPanels {
    fn size(&self) -> (u32, u32) {
        (1400, 1000)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.check()?;
        draw_panels(root, &self.title, &self.panels())?;
        Ok(())
    }

    fn geometry(&self) -> Result<Vec<PanelGeometry>, PlotError> {
        self.check()?;
        Ok(self.panels().iter().map(|(r, p)| p.layout(*r)).collect())
    }
}
