//! Optimizer paths through weight space after t-SNE: one panel per optimizer plus one
//! with all of them, a star where a run starts and a dot where it ends.

use super::super::palette::optimizer_color;
use super::super::panel::{padded, tick, TITLE_FONT};
use super::super::render::{draw_err, Figure, PlotError};
use super::{no_data, titled_grid};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One run's trajectory in the 2-D embedding, in snapshot order.
#[derive(Debug, Clone, PartialEq)]
pub struct TsnePath {
    pub optimizer: String,
    /// Which run (seed) this is.
    pub run: String,
    pub points: Vec<[f64; 2]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TsnePathsFigure {
    pub title: String,
    pub paths: Vec<TsnePath>,
}

const NAME: &str = "t-SNE paths";

/// Five-pointed star outline around (0, 0), in pixels (y down).
fn star(radius: f64) -> Vec<(i32, i32)> {
    (0..10)
        .map(|k| {
            let r = if k % 2 == 0 { radius } else { radius * 0.42 };
            let a = std::f64::consts::PI * (k as f64) / 5.0 - std::f64::consts::FRAC_PI_2;
            ((r * a.cos()).round() as i32, (r * a.sin()).round() as i32)
        })
        .collect()
}

impl TsnePathsFigure {
    fn optimizers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.paths {
            if !out.contains(&p.optimizer) {
                out.push(p.optimizer.clone());
            }
        }
        out
    }

    fn grid(&self) -> (usize, usize) {
        let panels = self.optimizers().len() + 1;
        match panels {
            0..=3 => (1, panels),
            4 => (2, 2),
            _ => (panels.div_ceil(3), 3),
        }
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        only: Option<&str>,
        ranges: ((f64, f64), (f64, f64)),
    ) -> Result<(), PlotError> {
        let ((x0, x1), (y0, y1)) = ranges;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", TITLE_FONT))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("t-SNE 1")
            .y_desc("t-SNE 2")
            .axis_desc_style(("sans-serif", 15))
            .label_style(("sans-serif", 12))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .light_line_style(BLACK.mix(0.05))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(draw_err)?;
        let mut labelled: Vec<String> = Vec::new();
        for p in self
            .paths
            .iter()
            .filter(|p| only.is_none_or(|o| o == p.optimizer))
        {
            if p.points.is_empty() {
                continue;
            }
            let color = optimizer_color(&p.optimizer);
            let pts: Vec<(f64, f64)> = p.points.iter().map(|q| (q[0], q[1])).collect();
            let anno = chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(draw_err)?;
            if only.is_none() && !labelled.contains(&p.optimizer) {
                labelled.push(p.optimizer.clone());
                anno.label(p.optimizer.to_uppercase())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                    });
            }
            let start = pts[0];
            let end = pts[pts.len() - 1];
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(start)
                        + Polygon::new(star(11.0), color.filled())
                        + PathElement::new(
                            {
                                let mut s = star(11.0);
                                s.push(s[0]);
                                s
                            },
                            BLACK.stroke_width(1),
                        ),
                ))
                .map_err(draw_err)?;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(end)
                        + Circle::new((0, 0), 5, color.filled())
                        + Circle::new((0, 0), 5, BLACK.stroke_width(1)),
                ))
                .map_err(draw_err)?;
        }
        if only.is_none() && !labelled.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .label_font(("sans-serif", 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(draw_err)?;
        }
        Ok(())
    }
}

impl Figure for TsnePathsFigure {
    fn size(&self) -> (u32, u32) {
        let (r, c) = self.grid();
        (c as u32 * 620, r as u32 * 580 + 50)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.paths.iter().all(|p| p.points.is_empty()) {
            return Err(no_data(NAME, "no trajectory points"));
        }
        let (mut xlo, mut xhi, mut ylo, mut yhi) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for q in self.paths.iter().flat_map(|p| &p.points) {
            if q[0].is_finite() && q[1].is_finite() {
                xlo = xlo.min(q[0]);
                xhi = xhi.max(q[0]);
                ylo = ylo.min(q[1]);
                yhi = yhi.max(q[1]);
            }
        }
        // Shared axes, so paths are comparable across panels.
        let ranges = (padded(xlo, xhi), padded(ylo, yhi));
        let title = format!("{} (star = start, dot = end)", self.title);
        let (rows, cols) = self.grid();
        let areas = titled_grid(root, &title, rows, cols)?;
        let opts = self.optimizers();
        for (area, opt) in areas.iter().zip(&opts) {
            self.draw_panel(area, &opt.to_uppercase(), Some(opt), ranges)?;
        }
        self.draw_panel(&areas[opts.len()], "All optimizers", None, ranges)?;
        Ok(())
    }
}
