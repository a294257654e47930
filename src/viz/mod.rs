//! Figures (plotters, embedded font) and the self-contained HTML report.

mod bitmap;
pub mod figures;
mod font;
pub mod palette;
mod panel;
pub mod render;
pub mod report;

pub use render::{render, Figure, Format, PlotError};
