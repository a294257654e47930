//! One chart with axes: lines with optional +/-1 std bands, markers, error bars and
//! interval whiskers, a dashed chance line, a legend. The figures are grids of these.
//!
//! [`LinePanel::layout`] computes everything's place first (plot rectangle, data ->
//! pixel mapping, ticks, the legend's box); [`draw_line_panel`] draws exactly that, so the
//! geometry tests check is the geometry drawn.

use super::geom::{
    legend_columns, legend_corner, legend_row_y, legend_size, Frame, Rect, Shape, Ticks,
    LEGEND_FONT,
};
use super::render::{draw_err, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(crate) const TITLE_FONT: u32 = 20;
pub(crate) const SUPTITLE_FONT: u32 = 26;
const AXIS_FONT: u32 = 16;
const TICK_FONT: u32 = 13;
/// Height of a panel's title strip, and the space around its plot.
pub(crate) const TITLE_H: f64 = 30.0;
const MARGIN: f64 = 12.0;
const Y_LABELS: f64 = 72.0;
const X_LABELS: f64 = 48.0;
/// Half-width of whisker and error-bar caps, in pixels.
pub(crate) const CAP_PX: f64 = 5.0;
/// The chance line's grey.
pub(crate) const GREY: RGBColor = RGBColor(120, 120, 120);

type Points = Vec<(f64, f64)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dash {
    Solid,
    Dashed,
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub label: Option<String>,
    pub color: RGBColor,
    pub dash: Dash,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// Half-width of a shaded band around the line (e.g. one std over seeds).
    pub band: Option<Vec<f64>>,
    /// Half-length of vertical error bars at each point.
    pub error_bars: Option<Vec<f64>>,
    /// Whiskers (x, lo, hi): 95% intervals, not necessarily symmetric.
    pub intervals: Option<Vec<(f64, f64, f64)>>,
    pub markers: bool,
}

impl Line {
    pub fn new(label: Option<String>, color: RGBColor, x: Vec<f64>, y: Vec<f64>) -> Line {
        Line {
            label,
            color,
            dash: Dash::Solid,
            x,
            y,
            band: None,
            error_bars: None,
            intervals: None,
            markers: false,
        }
    }

    /// Points with finite coordinates (NaN marks a missing value).
    fn points(&self) -> Vec<(f64, f64)> {
        self.x
            .iter()
            .zip(&self.y)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(&x, &y)| (x, y))
            .collect()
    }

    fn spread(&self) -> Option<&Vec<f64>> {
        self.band.as_ref().or(self.error_bars.as_ref())
    }

    /// (x, lo, hi) of the error bars.
    fn bars(&self) -> Vec<(f64, f64, f64)> {
        let Some(err) = &self.error_bars else {
            return Vec::new();
        };
        self.x
            .iter()
            .zip(&self.y)
            .zip(err)
            .filter(|((x, y), e)| x.is_finite() && y.is_finite() && e.is_finite())
            .map(|((&x, &y), &e)| (x, y - e, y + e))
            .collect()
    }

    fn whiskers(&self) -> Vec<(f64, f64, f64)> {
        let mut w: Vec<(f64, f64, f64)> = self
            .intervals
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.0.is_finite() && v.1.is_finite() && v.2.is_finite())
            .collect();
        w.extend(self.bars());
        w
    }

    /// The band's upper and lower edges.
    fn band_edges(&self) -> Option<(Points, Points)> {
        let band = self.band.as_ref()?;
        let mut upper = Vec::new();
        let mut lower = Vec::new();
        for ((&x, &y), &s) in self.x.iter().zip(&self.y).zip(band) {
            if x.is_finite() && y.is_finite() && s.is_finite() {
                upper.push((x, y + s));
                lower.push((x, y - s));
            }
        }
        Some((upper, lower))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LinePanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
    pub y_range: Option<(f64, f64)>,
    pub x_range: Option<(f64, f64)>,
    /// Tick positions and texts for x (default: round numbers).
    pub x_ticks: Option<Ticks>,
    pub legend: bool,
    /// A dashed grey horizontal line at this y (accuracy at chance, 0.5), in the legend.
    pub chance: Option<f64>,
    /// Markers the caller draws on top (x, y, radius in pixels): kept clear of the legend.
    pub marks: Vec<(f64, f64, f64)>,
}

/// What a panel draws where, in pixels of the whole figure.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelGeometry {
    pub title: String,
    pub frame: Frame,
    /// The legend's box; inside the plot only where it covers no data.
    pub legend: Option<Rect>,
    pub legend_labels: Vec<String>,
    pub legend_outside: bool,
    /// Everything drawn from the data: lines, band edges, whiskers, markers.
    pub data: Vec<Shape>,
    /// Pixel row of the chance line, and its value.
    pub chance: Option<(f64, f64)>,
    pub x_ticks: Ticks,
    pub y_ticks: Ticks,
}

/// Tick text: integers without ".0", other values with at most 6 decimals and no
/// trailing zeros ("0.95", "1e-4" stays "0.0001"); for single values (heatmap axes).
pub(crate) fn tick(v: &f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// [lo, hi] widened by 5 % on each side, or around the value if the data are constant.
pub(crate) fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let d = (lo.abs() * 0.1).max(0.5);
        return (lo - d, hi + d);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// A float axis whose ticks are exactly the given values (plotters' `WithKeyPoints` has no
/// label formatter for floats).
#[derive(Debug, Clone)]
pub(crate) struct TickedRange {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
}

impl plotters::coord::ranged1d::Ranged for TickedRange {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        plotters::coord::types::RangedCoordf64::from(self.lo..self.hi).map(v, limit)
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// The text of the tick nearest `v` (plotters hands the formatter the tick's value).
fn tick_label(t: &Ticks, v: f64) -> String {
    t.at.iter()
        .zip(&t.text)
        .min_by(|a, b| (a.0 - v).abs().total_cmp(&(b.0 - v).abs()))
        .map(|(_, s)| s.clone())
        .unwrap_or_default()
}

impl LinePanel {
    /// The y range the data need (bands, whiskers and the chance line included), padded.
    pub fn data_y_range(&self) -> (f64, f64) {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for l in &self.lines {
            for (i, (x, y)) in l.x.iter().zip(&l.y).enumerate() {
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                let s = l
                    .spread()
                    .and_then(|b| b.get(i))
                    .copied()
                    .filter(|v| v.is_finite())
                    .unwrap_or(0.0);
                lo = lo.min(y - s);
                hi = hi.max(y + s);
            }
            for &(_, a, b) in l.intervals.iter().flatten() {
                if a.is_finite() && b.is_finite() {
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
            }
        }
        if let Some(c) = self.chance {
            lo = lo.min(c);
            hi = hi.max(c);
        }
        padded(lo, hi)
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut xlo, mut xhi) = (f64::INFINITY, f64::NEG_INFINITY);
        for l in &self.lines {
            for (x, _) in l.points() {
                xlo = xlo.min(x);
                xhi = xhi.max(x);
            }
        }
        let x = self.x_range.unwrap_or_else(|| {
            if xlo.is_finite() && xhi > xlo {
                // Lines start at the axis; a little room on the right for the last marker.
                (xlo, xhi + 0.02 * (xhi - xlo))
            } else {
                padded(xlo, xhi)
            }
        });
        (x, self.y_range.unwrap_or_else(|| self.data_y_range()))
    }

    fn legend_labels(&self) -> Vec<String> {
        if !self.legend {
            return Vec::new();
        }
        let mut labels: Vec<String> = self.lines.iter().filter_map(|l| l.label.clone()).collect();
        if let Some(c) = self.chance {
            labels.push(format!("chance ({c})"));
        }
        labels
    }

    fn shapes(&self, f: &Frame) -> Vec<Shape> {
        let cap = CAP_PX;
        let mut out = Vec::new();
        for l in &self.lines {
            out.push(f.line(l.points()));
            if let Some((up, lo)) = l.band_edges() {
                out.push(f.line(up));
                out.push(f.line(lo));
            }
            for (x, a, b) in l.whiskers() {
                let (px, pa) = f.px(x, a);
                let (_, pb) = f.px(x, b);
                out.push(Shape::Line(vec![(px, pa), (px, pb)]));
                out.push(Shape::Line(vec![(px - cap, pa), (px + cap, pa)]));
                out.push(Shape::Line(vec![(px - cap, pb), (px + cap, pb)]));
            }
            if l.markers {
                for (x, y) in l.points() {
                    out.push(Shape::Dot(f.px(x, y), 4.0));
                }
            }
        }
        for &(x, y, r) in &self.marks {
            out.push(Shape::Dot(f.px(x, y), r));
        }
        out
    }

    /// Where everything goes in `area` (pixels of the figure).
    pub fn layout(&self, area: Rect) -> PanelGeometry {
        let top = if self.title.is_empty() { 0.0 } else { TITLE_H };
        let (x, y) = self.ranges();
        let mut plot = Rect::new(
            area.x0 + MARGIN + Y_LABELS,
            area.y0 + top + MARGIN,
            area.x1 - MARGIN,
            area.y1 - MARGIN - X_LABELS,
        );
        let labels = self.legend_labels();
        let mut frame = Frame { plot, x, y };
        let mut data = self.shapes(&frame);
        let mut legend = None;
        let mut outside = false;
        if !labels.is_empty() {
            let size = legend_size(&labels);
            legend = legend_corner(&plot, size, &data);
            if legend.is_none() {
                // No corner is free of data: the legend goes right of the plot.
                outside = true;
                plot.x1 = (plot.x1 - size.0 - 12.0).floor();
                frame = Frame { plot, x, y };
                data = self.shapes(&frame);
                let x0 = plot.x1 + 10.0;
                legend = Some(Rect::new(x0, plot.y0, x0 + size.0, plot.y0 + size.1));
            }
        }
        let x_ticks = self
            .x_ticks
            .clone()
            .unwrap_or_else(|| Ticks::nice(x.0, x.1, 7));
        PanelGeometry {
            title: self.title.clone(),
            frame,
            legend,
            legend_labels: labels,
            legend_outside: outside,
            data,
            chance: self.chance.map(|c| (frame.px(x.0, c).1, c)),
            x_ticks,
            y_ticks: Ticks::nice(y.0, y.1, 6),
        }
    }
}

/// The area's rectangle in figure pixels.
pub(crate) fn area_rect<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Rect {
    let (bx, by) = area.get_base_pixel();
    let (w, h) = area.dim_in_pixel();
    Rect::new(
        bx as f64,
        by as f64,
        bx as f64 + w as f64,
        by as f64 + h as f64,
    )
}

/// A title centred in the strip at the top of `area`.
pub(crate) fn draw_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    size: u32,
    strip: f64,
) -> Result<(), PlotError> {
    let (w, _) = area.dim_in_pixel();
    let style = ("sans-serif", size)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(
        title.to_string(),
        ((w / 2) as i32, (strip / 2.0 + 4.0) as i32),
        style,
    ))
    .map_err(draw_err)
}

/// A legend entry's sample: a line (solid or dashed) or a filled box.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sample {
    Line(RGBColor, Dash),
    Fill(RGBColor),
}

/// Draws a legend box at `rect` (figure pixels) on `area`.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rect: &Rect,
    entries: &[(String, Sample)],
) -> Result<(), PlotError> {
    let (bx, by) = area.get_base_pixel();
    let p = |x: f64, y: f64| ((x - bx as f64) as i32, (y - by as f64) as i32);
    area.draw(&Rectangle::new(
        [p(rect.x0, rect.y0), p(rect.x1, rect.y1)],
        WHITE.mix(0.9).filled(),
    ))
    .map_err(draw_err)?;
    area.draw(&Rectangle::new(
        [p(rect.x0, rect.y0), p(rect.x1, rect.y1)],
        BLACK.mix(0.3),
    ))
    .map_err(draw_err)?;
    let (sx, tx) = legend_columns(rect);
    for (i, (label, sample)) in entries.iter().enumerate() {
        let y = legend_row_y(rect, i);
        match *sample {
            Sample::Line(c, Dash::Solid) => area
                .draw(&PathElement::new(
                    vec![p(sx, y), p(sx + 26.0, y)],
                    c.stroke_width(3),
                ))
                .map_err(draw_err)?,
            Sample::Line(c, Dash::Dashed) => {
                for (a, b) in [(0.0, 10.0), (16.0, 26.0)] {
                    area.draw(&PathElement::new(
                        vec![p(sx + a, y), p(sx + b, y)],
                        c.stroke_width(3),
                    ))
                    .map_err(draw_err)?;
                }
            }
            Sample::Fill(c) => area
                .draw(&Rectangle::new(
                    [p(sx + 4.0, y - 6.0), p(sx + 22.0, y + 6.0)],
                    c.filled(),
                ))
                .map_err(draw_err)?,
        }
        let style = ("sans-serif", LEGEND_FONT as u32)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(label.clone(), p(tx, y), style))
            .map_err(draw_err)?;
    }
    Ok(())
}

pub(crate) fn draw_line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &LinePanel,
) -> Result<PanelGeometry, PlotError> {
    let outer = area_rect(area);
    let g = panel.layout(outer);
    if !panel.title.is_empty() {
        draw_title(area, &panel.title, TITLE_FONT, TITLE_H)?;
    }
    let ((x0, x1), (y0, y1)) = (g.frame.x, g.frame.y);
    let plot = g.frame.plot;
    let mut chart = ChartBuilder::on(area)
        .margin_top((plot.y0 - outer.y0) as u32)
        .margin_left(MARGIN as u32)
        .margin_right((outer.x1 - plot.x1) as u32)
        .margin_bottom(MARGIN as u32)
        .x_label_area_size(X_LABELS as u32)
        .y_label_area_size(Y_LABELS as u32)
        .build_cartesian_2d(
            TickedRange {
                lo: x0,
                hi: x1,
                ticks: g.x_ticks.at.clone(),
            },
            TickedRange {
                lo: y0,
                hi: y1,
                ticks: g.y_ticks.at.clone(),
            },
        )
        .map_err(draw_err)?;
    let (rx, ry) = chart.plotting_area().get_pixel_range();
    debug_assert_eq!(
        (rx.start, rx.end, ry.start, ry.end),
        (
            plot.x0 as i32,
            plot.x1 as i32,
            plot.y0 as i32,
            plot.y1 as i32
        ),
        "the plot is where the layout put it"
    );
    let (xt, yt) = (g.x_ticks.clone(), g.y_ticks.clone());
    let fx = move |v: &f64| tick_label(&xt, *v);
    let fy = move |v: &f64| tick_label(&yt, *v);
    chart
        .configure_mesh()
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .axis_desc_style(("sans-serif", AXIS_FONT))
        .label_style(("sans-serif", TICK_FONT))
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .light_line_style(BLACK.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(draw_err)?;
    for l in &panel.lines {
        if let Some((mut upper, mut lower)) = l.band_edges() {
            lower.reverse();
            upper.extend(lower);
            if upper.len() >= 3 {
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        upper,
                        l.color.mix(0.18).filled(),
                    )))
                    .map_err(draw_err)?;
            }
        }
    }
    if let Some(c) = panel.chance {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, c), (x1, c)],
                6,
                5,
                GREY.stroke_width(1),
            ))
            .map_err(draw_err)?;
    }
    // A cap's half-width in data units.
    let cap = CAP_PX / (plot.width() - 1.0).max(1.0) * (x1 - x0);
    for l in &panel.lines {
        let pts = l.points();
        let style = l.color.stroke_width(2);
        match l.dash {
            Dash::Solid => chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(draw_err)?,
            Dash::Dashed => chart
                .draw_series(DashedLineSeries::new(pts.clone(), 9, 6, style))
                .map_err(draw_err)?,
        };
        if l.markers {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, l.color.filled())))
                .map_err(draw_err)?;
        }
        let width = if l.intervals.is_some() { 3 } else { 2 };
        for (x, lo, hi) in l.whiskers() {
            let s = l.color.stroke_width(width);
            chart
                .draw_series([
                    PathElement::new(vec![(x, lo), (x, hi)], s),
                    PathElement::new(vec![(x - cap, lo), (x + cap, lo)], s),
                    PathElement::new(vec![(x - cap, hi), (x + cap, hi)], s),
                ])
                .map_err(draw_err)?;
        }
    }
    if let Some(rect) = &g.legend {
        let mut entries: Vec<(String, Sample)> = panel
            .lines
            .iter()
            .filter_map(|l| l.label.clone().map(|t| (t, Sample::Line(l.color, l.dash))))
            .collect();
        if let Some(c) = panel.chance {
            entries.push((format!("chance ({c})"), Sample::Line(GREY, Dash::Dashed)));
        }
        draw_legend(area, rect, &entries)?;
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_text_is_short() {
        assert_eq!(tick(&10.0), "10");
        assert_eq!(tick(&0.95), "0.95");
        assert_eq!(tick(&0.0001), "0.0001");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(tick(&-2.5), "-2.5");
    }

    fn panel(lines: Vec<Line>) -> LinePanel {
        LinePanel {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            lines,
            y_range: None,
            x_range: None,
            x_ticks: None,
            legend: true,
            chance: Some(0.5),
            marks: Vec::new(),
        }
    }

    #[test]
    fn frame_maps_data_as_plotters_draws_it() {
        // The mapping the layout reports is the one plotters uses on the same area.
        let mut buf = vec![255u8; 600 * 400 * 3];
        let root = BitMapBackend::with_buffer(&mut buf, (600, 400)).into_drawing_area();
        let (left, right) = root.split_horizontally(250);
        let p = panel(vec![Line::new(
            Some("a".into()),
            BLACK,
            vec![0.0, 1.0, 2.0],
            vec![0.2, 0.9, 0.7],
        )]);
        let _ = left;
        let g = draw_line_panel(&right, &p).unwrap();
        let (x0, x1) = g.frame.x;
        let (y0, y1) = g.frame.y;
        let chart = ChartBuilder::on(&right)
            .margin_top((g.frame.plot.y0) as u32)
            .margin_left(MARGIN as u32)
            .margin_right((600.0 - g.frame.plot.x1) as u32)
            .margin_bottom(MARGIN as u32)
            .x_label_area_size(X_LABELS as u32)
            .y_label_area_size(Y_LABELS as u32)
            .build_cartesian_2d(x0..x1, y0..y1)
            .unwrap();
        for (x, y) in [(0.0, 0.2), (1.0, 0.9), (2.0, 0.7), (x0, y0), (x1, y1)] {
            let (px, py) = chart.backend_coord(&(x, y));
            let (gx, gy) = g.frame.px(x, y);
            assert!(
                (px as f64 - gx).abs() <= 1.0 && (py as f64 - gy).abs() <= 1.0,
                "({x}, {y}): plotters ({px}, {py}), layout ({gx}, {gy})"
            );
        }
    }

    #[test]
    fn legend_never_covers_data_even_when_every_corner_is_full() {
        // An X through the whole plot plus lines along top and bottom: nothing is free.
        let xs: Vec<f64> = (0..=20).map(f64::from).collect();
        let lines = vec![
            Line::new(
                Some("up".into()),
                BLACK,
                xs.clone(),
                xs.iter().map(|x| x / 20.0).collect(),
            ),
            Line::new(
                Some("down".into()),
                BLACK,
                xs.clone(),
                xs.iter().map(|x| 1.0 - x / 20.0).collect(),
            ),
            Line::new(Some("top".into()), BLACK, xs.clone(), vec![0.98; 21]),
            Line::new(Some("bottom".into()), BLACK, xs.clone(), vec![0.02; 21]),
        ];
        let g = panel(lines).layout(Rect::new(0.0, 0.0, 700.0, 500.0));
        let legend = g.legend.expect("a legend");
        assert!(g.legend_outside);
        assert!(legend.x0 > g.frame.plot.x1 && legend.x1 <= 700.0);
        assert!(g.data.iter().all(|s| !legend.hits(s)));
        // The chance line sits at y = 0.5 of the frame.
        let (py, c) = g.chance.unwrap();
        assert_eq!(c, 0.5);
        assert!((py - g.frame.px(0.0, 0.5).1).abs() < 1e-9);
    }
}
