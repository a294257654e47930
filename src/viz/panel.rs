//! One chart with axes: lines with optional +/-1 std bands, markers, error bars and
//! interval whiskers, a dashed chance line, a legend. The figures are grids of these.

use super::render::{draw_err, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;

pub(crate) const TITLE_FONT: u32 = 20;
pub(crate) const SUPTITLE_FONT: u32 = 26;
const AXIS_FONT: u32 = 16;
const TICK_FONT: u32 = 13;
const LEGEND_FONT: u32 = 14;

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
}

#[derive(Debug, Clone)]
pub(crate) struct LinePanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
    pub y_range: Option<(f64, f64)>,
    pub x_range: Option<(f64, f64)>,
    pub legend: Option<SeriesLabelPosition>,
    /// A dashed grey horizontal line at this y (accuracy at chance, 0.5), in the legend.
    pub chance: Option<f64>,
}

/// Tick text: integers without ".0", other values with at most 6 decimals and no
/// trailing zeros ("0.95", "1e-4" stays "0.0001").
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

impl LinePanel {
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut xlo, mut xhi, mut ylo, mut yhi) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
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
                xlo = xlo.min(*x);
                xhi = xhi.max(*x);
                ylo = ylo.min(y - s);
                yhi = yhi.max(y + s);
            }
            for &(_, lo, hi) in l.intervals.iter().flatten() {
                if lo.is_finite() && hi.is_finite() {
                    ylo = ylo.min(lo);
                    yhi = yhi.max(hi);
                }
            }
        }
        if let Some(c) = self.chance {
            ylo = ylo.min(c);
            yhi = yhi.max(c);
        }
        let x = self.x_range.unwrap_or_else(|| {
            let (a, b) = padded(xlo, xhi);
            if xlo.is_finite() && xhi > xlo {
                // Lines start at the axis; a little room on the right for the last marker.
                (xlo, xhi + 0.02 * (xhi - xlo))
            } else {
                (a, b)
            }
        });
        let y = self.y_range.unwrap_or_else(|| padded(ylo, yhi));
        (x, y)
    }
}

pub(crate) fn draw_line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &LinePanel,
) -> Result<(), PlotError> {
    let ((x0, x1), (y0, y1)) = panel.ranges();
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", TITLE_FONT))
        .margin(12)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .axis_desc_style(("sans-serif", AXIS_FONT))
        .label_style(("sans-serif", TICK_FONT))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .light_line_style(BLACK.mix(0.06))
        .bold_line_style(BLACK.mix(0.15))
        .draw()
        .map_err(draw_err)?;
    for l in &panel.lines {
        if let Some(band) = &l.band {
            let mut upper = Vec::new();
            let mut lower = Vec::new();
            for ((&x, &y), &s) in l.x.iter().zip(&l.y).zip(band) {
                if x.is_finite() && y.is_finite() && s.is_finite() {
                    upper.push((x, y + s));
                    lower.push((x, y - s));
                }
            }
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
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, c), (x1, c)],
                6,
                5,
                grey.stroke_width(1),
            ))
            .map_err(draw_err)?
            .label(format!("chance ({c})"))
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (9, 0)], grey.stroke_width(2))
                    + PathElement::new(vec![(15, 0), (24, 0)], grey.stroke_width(2))
            });
    }
    for l in &panel.lines {
        let pts = l.points();
        let style = l.color.stroke_width(2);
        let anno = match l.dash {
            Dash::Solid => chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(draw_err)?,
            Dash::Dashed => chart
                .draw_series(DashedLineSeries::new(pts.clone(), 9, 6, style))
                .map_err(draw_err)?,
        };
        if let Some(label) = &l.label {
            let color = l.color;
            let dash = l.dash;
            anno.label(label).legend(move |(x, y)| {
                // A dashed legend sample is two strokes with a gap.
                let (a, b) = match dash {
                    Dash::Solid => (24, 24),
                    Dash::Dashed => (9, 15),
                };
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (a, 0)], color.stroke_width(3))
                    + PathElement::new(vec![(b, 0), (24, 0)], color.stroke_width(3))
            });
        }
        if l.markers {
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, l.color.filled())))
                .map_err(draw_err)?;
        }
        if let Some(err) = &l.error_bars {
            let bars: Vec<_> =
                l.x.iter()
                    .zip(&l.y)
                    .zip(err)
                    .filter(|((x, y), e)| x.is_finite() && y.is_finite() && e.is_finite())
                    .map(|((&x, &y), &e)| (x, y, e))
                    .collect();
            chart
                .draw_series(bars.iter().map(|&(x, y, e)| {
                    PathElement::new(vec![(x, y - e), (x, y + e)], l.color.stroke_width(2))
                }))
                .map_err(draw_err)?;
            let cap = 0.008 * (x1 - x0);
            for &(x, y, e) in &bars {
                for yy in [y - e, y + e] {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x - cap, yy), (x + cap, yy)],
                            l.color.stroke_width(2),
                        )))
                        .map_err(draw_err)?;
                }
            }
        }
    }
    for l in &panel.lines {
        let Some(ivs) = &l.intervals else { continue };
        let cap = 0.01 * (x1 - x0);
        for &(x, lo, hi) in ivs.iter().filter(|v| v.1.is_finite() && v.2.is_finite()) {
            let style = l.color.stroke_width(3);
            chart
                .draw_series([
                    PathElement::new(vec![(x, lo), (x, hi)], style),
                    PathElement::new(vec![(x - cap, lo), (x + cap, lo)], style),
                    PathElement::new(vec![(x - cap, hi), (x + cap, hi)], style),
                ])
                .map_err(draw_err)?;
        }
    }
    if let Some(pos) = panel.legend.clone() {
        if panel.chance.is_some() || panel.lines.iter().any(|l| l.label.is_some()) {
            chart
                .configure_series_labels()
                .position(pos)
                .label_font(("sans-serif", LEGEND_FONT))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()
                .map_err(draw_err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tick;

    #[test]
    fn tick_text_is_short() {
        assert_eq!(tick(&10.0), "10");
        assert_eq!(tick(&0.95), "0.95");
        assert_eq!(tick(&0.0001), "0.0001");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(tick(&-2.5), "-2.5");
    }
}
