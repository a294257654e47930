//! Over- and underfitting: per model (one row each), training loss, and train (solid)
//! against test (dashed) accuracy per optimizer, mean over seeds with +/-1 std bands. With
//! `share_y` each column (one metric) has one y axis across the rows.

use super::super::palette::optimizer_color;
use super::super::panel::{Dash, Line, LinePanel, PanelGeometry};
use super::super::render::{Figure, PlotError};
use super::{cells, check_len, draw_panels, no_data, share_y, Band, Rect};
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

/// One model (e.g. "overfitting: hidden 1024"): its curves per optimizer.
#[derive(Debug, Clone, PartialEq)]
pub struct FitRow {
    /// Shown before the panel titles when there are several rows.
    pub label: String,
    pub curves: Vec<FitCurves>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FitFigure {
    pub title: String,
    pub rows: Vec<FitRow>,
    /// One y axis per column (loss, accuracy) across the rows.
    pub share_y: bool,
}

const NAME: &str = "train vs test";

impl FitFigure {
    fn check(&self) -> Result<(), PlotError> {
        if self.rows.iter().all(|r| r.curves.is_empty()) {
            return Err(no_data(NAME, "no curves"));
        }
        for c in self.rows.iter().flat_map(|r| &r.curves) {
            let n = c.epoch.len();
            for (what, b) in [
                ("train loss", &c.train_loss),
                ("train accuracy", &c.train_accuracy),
                ("test accuracy", &c.test_accuracy),
            ] {
                check_len(NAME, &format!("{} {what}", c.name), n, b.len())?;
            }
        }
        Ok(())
    }

    fn panels(&self) -> Vec<(Rect, LinePanel)> {
        let cells = cells(self.size(), self.rows.len(), 2);
        let mut out = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            let prefix = if self.rows.len() > 1 {
                format!("{}: ", row.label)
            } else {
                String::new()
            };
            let mut loss = Vec::new();
            let mut acc = Vec::new();
            for c in &row.curves {
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
                if let (Some((lo, hi)), Some(&x)) = (c.test_accuracy.final_interval, c.epoch.last())
                {
                    te.intervals = Some(vec![(x, lo, hi)]);
                }
                te.dash = Dash::Dashed;
                acc.push(tr);
                acc.push(te);
            }
            out.push((
                cells[2 * i],
                LinePanel {
                    title: format!("{prefix}training loss (MSE)"),
                    x_label: "Epoch".into(),
                    y_label: "Loss".into(),
                    lines: loss,
                    y_range: None,
                    x_range: None,
                    x_ticks: None,
                    legend: true,
                    chance: None,
                    marks: Vec::new(),
                },
            ));
            out.push((
                cells[2 * i + 1],
                LinePanel {
                    title: format!("{prefix}accuracy, train (solid) vs test (dashed)"),
                    x_label: "Epoch".into(),
                    y_label: "Accuracy".into(),
                    lines: acc,
                    y_range: None,
                    x_range: None,
                    x_ticks: None,
                    legend: true,
                    chance: Some(0.5),
                    marks: Vec::new(),
                },
            ));
        }
        if self.share_y {
            let n = self.rows.len();
            share_y(
                &mut out,
                &[
                    (0..n).map(|i| 2 * i).collect(),
                    (0..n).map(|i| 2 * i + 1).collect(),
                ],
            );
        }
        out
    }
}

impl Figure for FitFigure {
    fn size(&self) -> (u32, u32) {
        (1400, 44 + 560 * self.rows.len().max(1) as u32)
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
