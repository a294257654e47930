//! Model depth comparison: for each optimizer, training loss (top) and test accuracy
//! (bottom) of each architecture, mean over seeds with +/-1 std bands. With `share_y`
//! each row (one metric) has one y axis across the optimizers.

use super::super::palette::{cycle, display_name};
use super::super::panel::{Line, LinePanel, PanelGeometry};
use super::super::render::{Figure, PlotError};
use super::{cells, check_len, draw_panels, no_data, share_y, Band, Rect};
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
    /// One y axis per row (loss, accuracy) across the optimizers' columns.
    pub share_y: bool,
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

impl DepthFigure {
    fn check(&self) -> Result<(), PlotError> {
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
        Ok(())
    }

    fn panels(&self) -> Vec<(Rect, LinePanel)> {
        let opts = self.columns();
        let models = first_seen(self.series.iter().map(|s| s.model.as_str()));
        let cells = cells(self.size(), 2, opts.len());
        let mut out = Vec::new();
        for (r, accuracy) in [false, true].into_iter().enumerate() {
            for (c, opt) in opts.iter().enumerate() {
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
                out.push((
                    cells[r * opts.len() + c],
                    LinePanel {
                        title: format!(
                            "{}: {}",
                            display_name(opt),
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
                        x_ticks: None,
                        legend: true,
                        chance: accuracy.then_some(0.5),
                        marks: Vec::new(),
                    },
                ));
            }
        }
        if self.share_y {
            let n = opts.len();
            share_y(&mut out, &[(0..n).collect(), (n..2 * n).collect()]);
        }
        out
    }
}

impl Figure for DepthFigure {
    fn size(&self) -> (u32, u32) {
        let cols = self.columns().len().max(1) as u32;
        (cols * 560, 1004)
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
