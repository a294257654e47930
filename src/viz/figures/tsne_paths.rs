//! Optimizer paths through weight space after t-SNE: one panel per optimizer plus one
//! with all of them, on shared axes; a star where a run starts and a dot where it ends,
//! drawn after every path so no line hides them.

use super::super::palette::{display_name, optimizer_color};
use super::super::panel::{draw_line_panel, padded, Line, LinePanel, PanelGeometry};
use super::super::render::{draw_err, Figure, PlotError};
use super::{cells, draw_title, no_data, star, sub_area, Rect, SUPTITLE_H};
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
/// Radius of the start star and the end dot, in pixels.
pub const STAR_R: f64 = 11.0;
pub const DOT_R: f64 = 6.0;

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

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
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
        // 8% room so a star at the edge is whole.
        let pad = |lo: f64, hi: f64| {
            let (a, b) = padded(lo, hi);
            let extra = 0.03 * (b - a);
            (a - extra, b + extra)
        };
        (pad(xlo, xhi), pad(ylo, yhi))
    }

    /// Panels: one per optimizer, then "All optimizers" (the only one with a legend).
    fn panels(&self) -> Vec<(Rect, LinePanel, Option<String>)> {
        let (rows, cols) = self.grid();
        let cells = cells(self.size(), rows, cols);
        let (xr, yr) = self.ranges();
        let mut only: Vec<Option<String>> = self.optimizers().into_iter().map(Some).collect();
        only.push(None);
        only.into_iter()
            .zip(cells)
            .map(|(o, cell)| {
                let mut labelled: Vec<String> = Vec::new();
                let mut lines = Vec::new();
                let mut marks = Vec::new();
                for p in self
                    .paths
                    .iter()
                    .filter(|p| o.as_ref().is_none_or(|o| o == &p.optimizer))
                {
                    let (Some(first), Some(last)) = (p.points.first(), p.points.last()) else {
                        continue;
                    };
                    let label = (o.is_none() && !labelled.contains(&p.optimizer)).then(|| {
                        labelled.push(p.optimizer.clone());
                        display_name(&p.optimizer)
                    });
                    lines.push(Line::new(
                        label,
                        optimizer_color(&p.optimizer),
                        p.points.iter().map(|q| q[0]).collect(),
                        p.points.iter().map(|q| q[1]).collect(),
                    ));
                    marks.push((first[0], first[1], STAR_R));
                    marks.push((last[0], last[1], DOT_R));
                }
                let title = match &o {
                    Some(o) => display_name(o),
                    None => "All optimizers".to_string(),
                };
                let panel = LinePanel {
                    title,
                    x_label: "t-SNE 1".into(),
                    y_label: "t-SNE 2".into(),
                    lines,
                    y_range: Some(yr),
                    x_range: Some(xr),
                    x_ticks: None,
                    legend: o.is_none(),
                    chance: None,
                    marks,
                };
                (cell, panel, o)
            })
            .collect()
    }
}

impl Figure for TsnePathsFigure {
    fn size(&self) -> (u32, u32) {
        let (r, c) = self.grid();
        (c as u32 * 620, r as u32 * 580 + SUPTITLE_H as u32)
    }

    fn geometry(&self) -> Result<Vec<PanelGeometry>, PlotError> {
        if self.paths.iter().all(|p| p.points.is_empty()) {
            return Err(no_data(NAME, "no trajectory points"));
        }
        Ok(self.panels().iter().map(|(r, p, _)| p.layout(*r)).collect())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.paths.iter().all(|p| p.points.is_empty()) {
            return Err(no_data(NAME, "no trajectory points"));
        }
        let title = format!("{} (star = start, dot = end)", self.title);
        draw_title(root, &title, super::super::panel::SUPTITLE_FONT, SUPTITLE_H)?;
        for (cell, panel, only) in self.panels() {
            let area = sub_area(root, &cell);
            let g = draw_line_panel(&area, &panel)?;
            let (bx, by) = area.get_base_pixel();
            let at = |x: f64, y: f64| {
                let (px, py) = g.frame.px(x, y);
                (
                    (px - bx as f64).round() as i32,
                    (py - by as f64).round() as i32,
                )
            };
            // Markers after every line, ends first so a start on top of an end shows.
            let paths = self
                .paths
                .iter()
                .filter(|p| only.as_ref().is_none_or(|o| o == &p.optimizer));
            for p in paths.clone() {
                let Some(q) = p.points.last() else { continue };
                let c = optimizer_color(&p.optimizer);
                area.draw(
                    &(EmptyElement::at(at(q[0], q[1]))
                        + Circle::new((0, 0), DOT_R as i32, c.filled())
                        + Circle::new((0, 0), DOT_R as i32, BLACK.stroke_width(1))),
                )
                .map_err(draw_err)?;
            }
            for p in paths {
                let Some(q) = p.points.first() else { continue };
                let c = optimizer_color(&p.optimizer);
                let mut outline = star(STAR_R);
                outline.push(outline[0]);
                area.draw(
                    &(EmptyElement::at(at(q[0], q[1]))
                        + Polygon::new(star(STAR_R), c.filled())
                        + PathElement::new(outline, BLACK.stroke_width(1))),
                )
                .map_err(draw_err)?;
            }
        }
        Ok(())
    }
}
