//! Turning a figure description into PNG or SVG bytes.

use super::bitmap::PngBackend;
use super::font;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Output encoding of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Svg => "image/svg+xml",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("figure {figure:?} has no data to draw: {what}")]
    NoData { figure: String, what: String },
    #[error("figure {figure:?}: {what}")]
    BadData { figure: String, what: String },
    #[error("drawing figure failed: {0}")]
    Draw(String),
    #[error("encoding PNG failed: {0}")]
    Encode(String),
}

/// Converts any plotters error into ours.
pub(crate) fn draw_err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// A figure: its pixel size, how to draw it on any plotters backend, and what it draws
/// where (computed without drawing; `draw` draws exactly that).
pub trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
    /// Each panel's plot frame, legend box and data shapes, in figure pixels.
    fn geometry(&self) -> Result<Vec<super::panel::PanelGeometry>, PlotError>;
}

/// Renders `fig` to the bytes of a PNG file or an SVG document.
pub fn render<F: Figure>(fig: &F, format: Format) -> Result<Vec<u8>, PlotError> {
    font::ensure_registered();
    let (w, h) = fig.size();
    match format {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(draw_err)?;
                fig.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            Ok(svg.into_bytes())
        }
        Format::Png => {
            let mut rgb = vec![255u8; w as usize * h as usize * 3];
            // Our PngBackend rather than plotters' own text drawing, on purpose: plotters
            // 0.3.7's ab_glyph path drops every glyph's left side bearing ("-10" reads
            // "-1 0"; bitmap.rs's test shows it). Keep it until a plotters release fixes that.
            {
                let root = PngBackend::new(BitMapBackend::with_buffer(&mut rgb, (w, h)))
                    .into_drawing_area();
                root.fill(&WHITE).map_err(draw_err)?;
                fig.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            encode_png(&rgb, w, h)
        }
    }
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, PlotError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, w, h, image::ColorType::Rgb8)
        .map_err(|e| PlotError::Encode(e.to_string()))?;
    Ok(out)
}
