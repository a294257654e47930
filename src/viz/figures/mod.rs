//! The study's figures as plain data. Fill a struct, then
//! `viz::render::render(&figure, Format::Png)` gives the file's bytes, and
//! `Figure::geometry` says what is drawn where (for tests of the data -> pixel mapping).

mod band;
mod compare;
mod depth;
mod fit;
mod heatmap;
mod optimizers;
mod repr_bars;
mod train_size;
mod tsne_paths;

pub use band::{mean_std, Band};
pub use compare::{CompareCurves, RunCurve};
pub use depth::{DepthFigure, DepthSeries};
pub use fit::{FitCurves, FitFigure, FitRow};
pub use heatmap::Heatmap;
pub use optimizers::{OptimizerCurves, OptimizerPanels};
pub use repr_bars::{BarSeries, GroupedBars};
pub use train_size::{SizeSeries, TrainSizeFigure};
pub use tsne_paths::{TsnePath, TsnePathsFigure};

pub use super::geom::{Frame, Rect, Shape, Ticks};
pub use super::palette::display_name;
pub use super::panel::PanelGeometry;

use super::geom::grid;
use super::panel::{draw_line_panel, draw_title, LinePanel, SUPTITLE_FONT};
use super::render::PlotError;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How axis ticks print a single number: "10", "0.95", "0.0001".
pub fn tick_text(v: f64) -> String {
    super::panel::tick(&v)
}

/// Height of a figure's title strip.
pub(crate) const SUPTITLE_H: f64 = 44.0;

/// The panel cells under a figure title: rows x cols of the area below the strip.
pub(crate) fn cells((w, h): (u32, u32), rows: usize, cols: usize) -> Vec<Rect> {
    grid(Rect::new(0.0, SUPTITLE_H, w as f64, h as f64), rows, cols)
}

/// The drawing area of `rect` (figure pixels) of `root`.
pub(crate) fn sub_area<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rect: &Rect,
) -> DrawingArea<DB, Shift> {
    root.clone().shrink(
        (rect.x0 as i32, rect.y0 as i32),
        (rect.width() as u32, rect.height() as u32),
    )
}

/// Draws the figure title and each (cell, panel); returns the panels' geometry.
pub(crate) fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[(Rect, LinePanel)],
) -> Result<Vec<PanelGeometry>, PlotError> {
    draw_title(root, title, SUPTITLE_FONT, SUPTITLE_H)?;
    panels
        .iter()
        .map(|(r, p)| draw_line_panel(&sub_area(root, r), p))
        .collect()
}

/// Gives every panel of each group the union of their y ranges (a shared y axis).
pub(crate) fn share_y(panels: &mut [(Rect, LinePanel)], groups: &[Vec<usize>]) {
    for g in groups {
        let (lo, hi) = g
            .iter()
            .map(|&i| panels[i].1.data_y_range())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (c, d)| {
                (a.min(c), b.max(d))
            });
        if lo.is_finite() && hi.is_finite() {
            for &i in g {
                panels[i].1.y_range = Some((lo, hi));
            }
        }
    }
}

/// Five-pointed star outline around (0, 0), in pixels (y down).
pub(crate) fn star(radius: f64) -> Vec<(i32, i32)> {
    (0..10)
        .map(|k| {
            let r = if k % 2 == 0 { radius } else { radius * 0.42 };
            let a = std::f64::consts::PI * (k as f64) / 5.0 - std::f64::consts::FRAC_PI_2;
            ((r * a.cos()).round() as i32, (r * a.sin()).round() as i32)
        })
        .collect()
}

/// Checks that a band has one value per x.
fn check_len(figure: &str, what: &str, want: usize, got: usize) -> Result<(), PlotError> {
    if want == got {
        Ok(())
    } else {
        Err(PlotError::BadData {
            figure: figure.to_string(),
            what: format!("{what} has {got} values for {want} x positions"),
        })
    }
}

fn no_data(figure: &str, what: &str) -> PlotError {
    PlotError::NoData {
        figure: figure.to_string(),
        what: what.to_string(),
    }
}
