//! The study's figures as plain data. Fill a struct, then
//! `viz::render::render(&figure, Format::Png)` gives the file's bytes.

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
pub use fit::{FitCurves, FitFigure};
pub use heatmap::Heatmap;
pub use optimizers::{OptimizerCurves, OptimizerPanels};
pub use repr_bars::{BarSeries, GroupedBars};
pub use train_size::{SizeSeries, TrainSizeFigure};
pub use tsne_paths::{TsnePath, TsnePathsFigure};

use super::panel::SUPTITLE_FONT;
use super::render::{draw_err, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;

/// How axis ticks print a number: "10", "0.95", "0.0001".
pub fn tick_text(v: f64) -> String {
    super::panel::tick(&v)
}

/// Draws a figure title across the top and splits the rest into a rows x cols grid.
fn titled_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: usize,
    cols: usize,
) -> Result<Vec<DrawingArea<DB, Shift>>, PlotError> {
    let body = root
        .margin(10, 0, 0, 0)
        .titled(title, ("sans-serif", SUPTITLE_FONT))
        .map_err(draw_err)?;
    Ok(body.split_evenly((rows, cols)))
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
