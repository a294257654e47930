//! Over- and underfitting: training loss, and train (solid) against test (dashed)
//! accuracy per optimizer, mean over seeds with +/-1 std bands.

use super::super::palette::optimizer_color;
use super::super::panel::{draw_line_panel, Dash, Line, LinePanel};
use super::super::render::{Figure, PlotError};
use super::{check_len, no_data, titled_grid, Band};
use plotters::coord::Shift;
use plotters::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct FitCurves {
    pub name: String,
    pub label: String,
    pub epoch: Vec<f64>,
    pub train_loss: Band,
    pub train_accuracy: Band,
    pub test_accuracy: Band,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FitFigure {
    pub title: String,
    pub curves: Vec<FitCurves>,
}

const NAME: &str = "train vs test";

impl Figure for FitFigure {
    fn size(&self) -> (u32, u32) {
        (1400, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.curves.is_empty() {
            return Err(no_data(NAME, "no curves"));
        }
        let mut loss = Vec::new();
        let mut acc = Vec::new();
        for c in &self.curves {
            let n = c.epoch.len();
            check_len(
                NAME,
                &format!("{} train loss", c.name),
                n,
                c.train_loss.len(),
            )?;
            check_len(
                NAME,
                &format!("{} train accuracy", c.name),
                n,
                c.train_accuracy.len(),
            )?;
            check_len(
                NAME,
                &format!("{} test accuracy", c.name),
                n,
                c.test_accuracy.len(),
            )?;
            let color = optimizer_color(&c.name);
            let mut l = Line::new(
                Some(c.label.clone()),
                color,
                c.epoch.clone(),
                c.train_loss.mean.clone(),
            );
            l.band = Some(c.train_loss.std.clone());
            loss.push(l);
            let mut tr = Line::new(
                Some(format!("{} train", c.label)),
                color,
                c.epoch.clone(),
                c.train_accuracy.mean.clone(),
            );
            tr.band = Some(c.train_accuracy.std.clone());
            let mut te = Line::new(
                Some(format!("{} test", c.label)),
                color,
                c.epoch.clone(),
                c.test_accuracy.mean.clone(),
            );
            te.band = Some(c.test_accuracy.std.clone());
            if let (Some((lo, hi)), Some(&x)) = (c.test_accuracy.final_interval, c.epoch.last()) {
                te.intervals = Some(vec![(x, lo, hi)]);
            }
            te.dash = Dash::Dashed;
            acc.push(tr);
            acc.push(te);
        }
        let areas = titled_grid(root, &self.title, 1, 2)?;
        draw_line_panel(
            &areas[0],
            &LinePanel {
                title: "Training loss (MSE)".into(),
                x_label: "Epoch".into(),
                y_label: "Loss".into(),
                lines: loss,
                y_range: None,
                x_range: None,
                legend: Some(SeriesLabelPosition::UpperRight),
                chance: None,
            },
        )?;
        draw_line_panel(
            &areas[1],
            &LinePanel {
                title: "Accuracy: train (solid) vs test (dashed)".into(),
                x_label: "Epoch".into(),
                y_label: "Accuracy".into(),
                lines: acc,
                y_range: Some((0.0, 1.05)),
                x_range: None,
                legend: Some(SeriesLabelPosition::LowerRight),
                chance: Some(0.5),
            },
        )
    }
}
