//! The hyper-parameter grid as a heatmap (viridis), each cell's value (3 decimals) and its
//! spread over seeds written in it, with a colour bar whose scale is fitted to the data
//! (its ends are the smallest and largest cell, printed above it); the first row is drawn
//! at the top, as matplotlib's `imshow`. Cells can carry a mark (saturated, diverged runs),
//! written under the value with a red border.

use super::super::geom::{fmt_fixed, Frame, Rect, Shape, Ticks};
use super::super::palette::viridis;
use super::super::panel::{draw_title, PanelGeometry, TITLE_FONT};
use super::super::render::{draw_err, Figure, PlotError};
use super::{no_data, SUPTITLE_H};
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
    /// The spread of each cell (std over seeds), written under the value; empty for none.
    pub spread: Vec<Vec<f64>>,
    /// Colour scale limits; `None` fits the scale to the data (smallest to largest cell).
    pub value_range: Option<(f64, f64)>,
    pub value_label: String,
    /// A note under a cell's value (e.g. "saturated 5/5", "diverged 1/5"), marks[row][col];
    /// empty for none. Marked cells get a red border.
    pub marks: Vec<Vec<String>>,
}

const NAME: &str = "heatmap";
const BAR_W: f64 = 190.0;
const RED: RGBColor = RGBColor(214, 39, 40);

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

    /// The colour scale's ends: `value_range`, or the smallest and largest finite cell.
    pub fn color_range(&self) -> (f64, f64) {
        if let Some(r) = self.value_range {
            return r;
        }
        let (lo, hi) = self
            .values
            .iter()
            .flatten()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if lo.is_finite() {
            (lo, hi)
        } else {
            (0.0, 1.0)
        }
    }

    fn unit(&self, v: f64) -> f64 {
        let (lo, hi) = self.color_range();
        if hi > lo {
            (v - lo) / (hi - lo)
        } else {
            0.5
        }
    }

    /// The fill of cell (row, col).
    pub fn cell_color(&self, r: usize, c: usize) -> RGBColor {
        match self.values.get(r).and_then(|row| row.get(c)) {
            Some(v) if v.is_finite() => viridis(self.unit(*v)),
            _ => RGBColor(200, 200, 200),
        }
    }

    /// The cell's text: value, spread, mark, one per line.
    pub fn cell_text(&self, r: usize, c: usize) -> Vec<String> {
        let v = self.values[r][c];
        if !v.is_finite() {
            return vec!["n/a".into()];
        }
        let mut out = vec![format!("{v:.3}")];
        if let Some(s) = self.spread.get(r).and_then(|row| row.get(c)) {
            if s.is_finite() {
                out.push(format!("± {s:.3}"));
            }
        }
        if let Some(m) = self.marks.get(r).and_then(|row| row.get(c)) {
            if !m.is_empty() {
                out.push(m.clone());
            }
        }
        out
    }

    fn grid_rect(&self) -> Rect {
        let (w, h) = self.size();
        Rect::new(
            14.0 + 90.0,
            SUPTITLE_H + 10.0,
            w as f64 - BAR_W - 14.0,
            h as f64 - 14.0 - 56.0,
        )
    }

    /// The colour bar's box.
    pub fn bar_rect(&self) -> Rect {
        let g = self.grid_rect();
        let x0 = self.size().0 as f64 - BAR_W + 30.0;
        Rect::new(x0, g.y0 + 60.0, x0 + 30.0, g.y1)
    }

    /// Cell (row, col)'s box: row 0 at the top.
    pub fn cell_rect(&self, r: usize, c: usize) -> Rect {
        let g = self.grid_rect();
        let (nr, nc) = (self.values.len() as f64, self.x_ticks.len() as f64);
        let (cw, ch) = (g.width() / nc, g.height() / nr);
        Rect::new(
            g.x0 + c as f64 * cw,
            g.y0 + r as f64 * ch,
            g.x0 + (c + 1) as f64 * cw,
            g.y0 + (r + 1) as f64 * ch,
        )
    }
}

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        (1100, 760)
    }

    fn geometry(&self) -> Result<Vec<PanelGeometry>, PlotError> {
        self.check()?;
        let (lo, hi) = self.color_range();
        let mut data = Vec::new();
        for r in 0..self.values.len() {
            for c in 0..self.x_ticks.len() {
                data.push(Shape::Box(self.cell_rect(r, c)));
            }
        }
        Ok(vec![PanelGeometry {
            title: self.title.clone(),
            frame: Frame {
                plot: self.grid_rect(),
                x: (0.0, self.x_ticks.len() as f64),
                y: (0.0, self.values.len() as f64),
            },
            legend: Some(self.bar_rect()),
            legend_labels: vec![self.value_label.clone()],
            legend_outside: true,
            data,
            chance: None,
            x_ticks: Ticks::fixed(
                (0..self.x_ticks.len()).map(|i| i as f64 + 0.5).collect(),
                self.x_ticks.clone(),
            ),
            y_ticks: Ticks::nice(lo, hi, 5),
        }])
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.check()?;
        draw_title(root, &self.title, TITLE_FONT + 2, SUPTITLE_H)?;
        let (w, h) = self.size();
        let g = self.grid_rect();
        let nr = self.values.len();
        let nc = self.x_ticks.len();
        let mut chart = ChartBuilder::on(root)
            .margin_top(g.y0 as u32)
            .margin_left(14)
            .margin_right((w as f64 - g.x1) as u32)
            .margin_bottom(14)
            .x_label_area_size(56)
            .y_label_area_size(90)
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
        let px = |x: f64, y: f64| (x as i32, y as i32);
        for r in 0..nr {
            for c in 0..nc {
                let cell = self.cell_rect(r, c);
                let v = self.values[r][c];
                root.draw(&Rectangle::new(
                    [px(cell.x0, cell.y0), px(cell.x1, cell.y1)],
                    self.cell_color(r, c).filled(),
                ))
                .map_err(draw_err)?;
                let marked = self
                    .marks
                    .get(r)
                    .and_then(|m| m.get(c))
                    .is_some_and(|m| !m.is_empty());
                if marked {
                    root.draw(&Rectangle::new(
                        [
                            px(cell.x0 + 2.0, cell.y0 + 2.0),
                            px(cell.x1 - 2.0, cell.y1 - 2.0),
                        ],
                        RED.stroke_width(4),
                    ))
                    .map_err(draw_err)?;
                }
                // Light text on the dark end of viridis, dark text on the light end.
                let ink = if !v.is_finite() || self.unit(v) >= 0.6 {
                    BLACK
                } else {
                    WHITE
                };
                let lines = self.cell_text(r, c);
                let sizes: Vec<u32> = (0..lines.len())
                    .map(|i| if i == 0 { 22 } else { 15 })
                    .collect();
                let total: f64 = sizes.iter().map(|&s| s as f64 + 4.0).sum();
                let mut y = (cell.y0 + cell.y1) / 2.0 - total / 2.0;
                for (text, size) in lines.iter().zip(&sizes) {
                    let style = ("sans-serif", *size)
                        .into_font()
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Top));
                    root.draw(&Text::new(
                        text.clone(),
                        px((cell.x0 + cell.x1) / 2.0, y),
                        style,
                    ))
                    .map_err(draw_err)?;
                    y += *size as f64 + 4.0;
                }
            }
        }
        // Colour bar: the data's range, its ends printed above it.
        let (lo, hi) = self.color_range();
        let bar = self.bar_rect();
        let steps = 100;
        for i in 0..steps {
            let y0 = bar.y1 - bar.height() * (i + 1) as f64 / steps as f64;
            let y1 = bar.y1 - bar.height() * i as f64 / steps as f64;
            root.draw(&Rectangle::new(
                [px(bar.x0, y0.floor()), px(bar.x1, y1.ceil())],
                viridis((i as f64 + 0.5) / steps as f64).filled(),
            ))
            .map_err(draw_err)?;
        }
        root.draw(&Rectangle::new(
            [px(bar.x0, bar.y0), px(bar.x1, bar.y1)],
            BLACK.mix(0.4),
        ))
        .map_err(draw_err)?;
        let left = |size: u32| {
            ("sans-serif", size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center))
        };
        for (i, text) in [
            self.value_label.clone(),
            format!("range {} – {}", fmt_fixed(lo, 3), fmt_fixed(hi, 3)),
        ]
        .into_iter()
        .enumerate()
        {
            root.draw(&Text::new(
                text,
                px(bar.x0 - 20.0, bar.y0 - 44.0 + 20.0 * i as f64),
                left(14),
            ))
            .map_err(draw_err)?;
        }
        let ticks = Ticks::nice(lo, hi, 5);
        let ends = [(lo, fmt_fixed(lo, 3)), (hi, fmt_fixed(hi, 3))];
        let inner = ticks
            .at
            .iter()
            .zip(&ticks.text)
            .filter(|(v, _)| {
                (**v - lo).abs() > 0.08 * (hi - lo) && (hi - **v).abs() > 0.08 * (hi - lo)
            })
            .map(|(v, _)| (*v, fmt_fixed(*v, 3)));
        for (v, t) in ends.into_iter().chain(inner) {
            let y = if hi > lo {
                bar.y1 - (v - lo) / (hi - lo) * bar.height()
            } else {
                (bar.y0 + bar.y1) / 2.0
            };
            root.draw(&PathElement::new(
                vec![px(bar.x1, y), px(bar.x1 + 5.0, y)],
                BLACK.stroke_width(1),
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new(t, px(bar.x1 + 8.0, y), left(13)))
                .map_err(draw_err)?;
        }
        let _ = h;
        Ok(())
    }
}
