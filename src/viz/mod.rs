//! Figures (plotters, embedded font) and the self-contained HTML report.

mod bitmap;
pub mod dag;
pub mod figures;
mod font;
pub mod geom;
pub mod palette;
mod panel;
pub mod render;
pub mod report;

pub use render::{render, Figure, Format, PlotError};
