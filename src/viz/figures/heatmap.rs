//! The hyper-parameter grid as a heatmap (viridis), each cell's value written in it,
//! with a colour bar; the first row is drawn at the top, as matplotlib's `imshow`. Cells
//! can carry a mark (saturated, diverged runs), written under the value with a red border.

use super::super::palette::viridis;
use super::super::panel::{tick, TITLE_FONT};
use super::super::render::{draw_err, Figure, PlotError};
use super::no_data;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub title: String,
    /// Axis names, e.g. "Learning rate" and "Hidden size".
    pub x_label: String,
    pub y_label: String,
    /// Column and row tick texts.
    pub x_ticks: Vec<String>,
    pub y_ticks: Vec<String>,
    /// values[row][column]; NaN draws a grey "n/a" cell.
    pub values: Vec<Vec<f64>>,
    /// Colour scale limits (values outside are clamped).
    pub value_range: (f64, f64),
    pub value_label: String,
    /// A note under a cell's value (e.g. "saturated 5/5", "diverged 1/5"), marks[row][col];
    /// empty for none. Marked cells get a red border.
    pub marks: Vec<Vec<String>>,
}

const NAME: &str = "heatmap";

impl Heatmap {
    fn check(&self) -> Result<(), PlotError> {
        if self.values.is_empty() || self.x_ticks.is_empty() {
            return Err(no_data(NAME, "no cells"));
        }
        if self.values.len() != self.y_ticks.len()
            || self.values.iter().any(|r| r.len() != self.x_ticks.len())
        {
            return Err(PlotError::BadData {
                figure: NAME.into(),
                what: format!(
                    "values must be {} rows x {} columns, like the tick lists",
                    self.y_ticks.len(),
                    self.x_ticks.len()
                ),
            });
        }
        Ok(())
    }

    fn unit(&self, v: f64) -> f64 {
        let (lo, hi) = self.value_range;
        if hi > lo {
            (v - lo) / (hi - lo)
        } else {
            0.5
        }
    }
}

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        (1000, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.check()?;
        let (w, _) = root.dim_in_pixel();
        let (main, bar) = root.split_horizontally(w - 150);
        let nr = self.values.len();
        let nc = self.x_ticks.len();
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, ("sans-serif", TITLE_FONT))
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(80)
            // 0..=n-1: plotters' integer ranges include their end.
            .build_cartesian_2d(
                (0..nc as i32 - 1).into_segmented(),
                (0..nr as i32 - 1).into_segmented(),
            )
            .map_err(draw_err)?;
        let xt = self.x_ticks.clone();
        let yt = self.y_ticks.clone();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .axis_desc_style(("sans-serif", 17))
            .label_style(("sans-serif", 15))
            .x_labels(nc)
            .y_labels(nr)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => xt.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            // Row 0 is at the top: segment k shows row nr - 1 - k.
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(k) if (*k as usize) < nr => yt[nr - 1 - *k as usize].clone(),
                _ => String::new(),
            })
            .draw()
            .map_err(draw_err)?;
        // The far edge of the last cell is the axis end, `Last`.
        let edge = |i: usize, n: usize| {
            if i >= n {
                SegmentValue::Last
            } else {
                SegmentValue::Exact(i as i32)
            }
        };
        for (r, row) in self.values.iter().enumerate() {
            let k = nr - 1 - r;
            for (c, &v) in row.iter().enumerate() {
                let fill = if v.is_finite() {
                    viridis(self.unit(v))
                } else {
                    RGBColor(200, 200, 200)
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [
                            (edge(c, nc), edge(k, nr)),
                            (edge(c + 1, nc), edge(k + 1, nr)),
                        ],
                        fill.filled(),
                    )))
                    .map_err(draw_err)?;
                // Light text on the dark end of viridis, dark text on the light end.
                let ink = if !v.is_finite() || self.unit(v) >= 0.6 {
                    BLACK
                } else {
                    WHITE
                };
                let text = if v.is_finite() {
                    format!("{v:.2}")
                } else {
                    "n/a".to_string()
                };
                let style = ("sans-serif", 22)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart
                    .draw_series(std::iter::once(Text::new(
                        text,
                        (
                            SegmentValue::CenterOf(c as i32),
                            SegmentValue::CenterOf(k as i32),
                        ),
                        style,
                    )))
                    .map_err(draw_err)?;
                let mark = self
                    .marks
                    .get(r)
                    .and_then(|m| m.get(c))
                    .filter(|m| !m.is_empty());
                if let Some(mark) = mark {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [
                                (edge(c, nc), edge(k, nr)),
                                (edge(c + 1, nc), edge(k + 1, nr)),
                            ],
                            RGBColor(214, 39, 40).stroke_width(4),
                        )))
                        .map_err(draw_err)?;
                    let style = ("sans-serif", 16)
                        .into_font()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Top));
                    // Just under the value: a quarter of the cell lower.
                    let (px, py) = chart.backend_coord(&(
                        SegmentValue::CenterOf(c as i32),
                        SegmentValue::CenterOf(k as i32),
                    ));
                    let base = main.get_base_pixel();
                    main.draw(&Text::new(
                        mark.clone(),
                        (px - base.0, py - base.1 + 16),
                        style,
                    ))
                    .map_err(draw_err)?;
                }
            }
        }
        // Colour bar.
        let (lo, hi) = self.value_range;
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        };
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(60)
            .margin_bottom(64)
            .margin_left(6)
            .margin_right(10)
            .y_label_area_size(0)
            .set_label_area_size(LabelAreaPosition::Right, 80)
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(draw_err)?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(&self.value_label)
            .axis_desc_style(("sans-serif", 15))
            .label_style(("sans-serif", 13))
            .y_labels(6)
            .y_label_formatter(&tick)
            .draw()
            .map_err(draw_err)?;
        let steps = 100;
        cb.draw_series((0..steps).map(|i| {
            let a = lo + (hi - lo) * i as f64 / steps as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis((i as f64 + 0.5) / steps as f64).filled(),
            )
        }))
        .map_err(draw_err)?;
        Ok(())
    }
}
