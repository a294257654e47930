//! Grouped bars with whiskers (95% intervals over test questions when given, else +/-1
//! std over seeds): E5 vs TF-IDF final accuracy per optimizer; a dashed chance line. The
//! legend sits in a corner free of bars, whiskers and value labels, or right of the plot.

use super::super::geom::{legend_corner, legend_size, text_width, Frame, Rect, Shape, Ticks};
use super::super::palette::cycle;
use super::super::panel::{
    draw_legend, draw_title, Dash, PanelGeometry, Sample, TickedRange, GREY, TITLE_FONT,
};
use super::super::render::{draw_err, Figure, PlotError};
use super::{check_len, no_data, SUPTITLE_H};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    /// e.g. "TF-IDF", "E5 embeddings".
    pub label: String,
    /// One value per group.
    pub values: Vec<f64>,
    pub stds: Vec<f64>,
    /// 95% intervals (lo, hi) per group; drawn instead of the std whiskers when given.
    pub intervals: Option<Vec<(f64, f64)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupedBars {
    pub title: String,
    pub y_label: String,
    /// Group names along x (optimizers).
    pub groups: Vec<String>,
    pub series: Vec<BarSeries>,
    /// Defaults to [0, 1], the accuracy scale.
    pub y_range: Option<(f64, f64)>,
    /// A dashed line at this value (0.5: accuracy at chance).
    pub chance: Option<f64>,
}

const NAME: &str = "grouped bars";
const VALUE_FONT: f64 = 15.0;

/// One bar: its box in data units, whisker, and value.
struct Bar {
    series: usize,
    left: f64,
    right: f64,
    value: f64,
    whisker: Option<(f64, f64)>,
}

impl GroupedBars {
    fn check(&self) -> Result<(), PlotError> {
        if self.groups.is_empty() || self.series.is_empty() {
            return Err(no_data(NAME, "no groups or no series"));
        }
        for s in &self.series {
            check_len(
                NAME,
                &format!("{} values", s.label),
                self.groups.len(),
                s.values.len(),
            )?;
            check_len(
                NAME,
                &format!("{} stds", s.label),
                self.groups.len(),
                s.stds.len(),
            )?;
        }
        Ok(())
    }

    fn bars(&self) -> Vec<Bar> {
        let width = 0.8 / self.series.len() as f64;
        let mut out = Vec::new();
        for (si, s) in self.series.iter().enumerate() {
            for (g, (&v, &e)) in s.values.iter().zip(&s.stds).enumerate() {
                if !v.is_finite() {
                    continue;
                }
                let left = g as f64 - 0.4 + si as f64 * width;
                let (lo, hi) = match &s.intervals {
                    Some(iv) => iv.get(g).copied().unwrap_or((f64::NAN, f64::NAN)),
                    None => (v - e, v + e),
                };
                out.push(Bar {
                    series: si,
                    left: left + 0.01,
                    right: left + width - 0.01,
                    value: v,
                    whisker: (lo.is_finite() && hi.is_finite() && hi > lo).then_some((lo, hi)),
                });
            }
        }
        out
    }

    fn y_range(&self) -> (f64, f64) {
        let (y0, y1) = self.y_range.unwrap_or((0.0, 1.0));
        (y0, y0 + (y1 - y0) * 1.08)
    }

    fn labels(&self) -> Vec<String> {
        let mut l: Vec<String> = self.series.iter().map(|s| s.label.clone()).collect();
        if let Some(c) = self.chance {
            l.push(format!("chance ({c})"));
        }
        l
    }

    fn shapes(&self, f: &Frame) -> Vec<Shape> {
        let mut out = Vec::new();
        let y0 = self.y_range().0;
        for b in self.bars() {
            let (l, t) = f.px(b.left, b.value);
            let (r, bottom) = f.px(b.right, y0);
            out.push(Shape::Box(Rect::new(l, t, r, bottom)));
            let mid = (b.left + b.right) / 2.0;
            let top = match b.whisker {
                Some((lo, hi)) => {
                    out.push(f.line([(mid, lo), (mid, hi)]));
                    hi.max(b.value)
                }
                None => b.value,
            };
            // The value printed above the bar.
            let (cx, cy) = f.px(mid, top);
            let w = text_width(&format!("{:.3}", b.value), VALUE_FONT) / 2.0 + 2.0;
            out.push(Shape::Box(Rect::new(
                cx - w,
                cy - VALUE_FONT - 6.0,
                cx + w,
                cy,
            )));
        }
        out
    }

    /// The frame, legend box (and whether it is outside) and the data shapes.
    fn layout(&self) -> (Frame, Option<Rect>, bool, Vec<Shape>) {
        let (w, h) = self.size();
        let mut plot = Rect::new(
            14.0 + 70.0,
            SUPTITLE_H + 10.0,
            w as f64 - 14.0,
            h as f64 - 14.0 - 44.0,
        );
        let ng = self.groups.len() as f64;
        let x = (-0.5, ng - 0.5);
        let y = self.y_range();
        let mut frame = Frame { plot, x, y };
        let mut data = self.shapes(&frame);
        let size = legend_size(&self.labels());
        if let Some(r) = legend_corner(&plot, size, &data) {
            return (frame, Some(r), false, data);
        }
        plot.x1 = (plot.x1 - size.0 - 12.0).floor();
        frame = Frame { plot, x, y };
        data = self.shapes(&frame);
        let x0 = plot.x1 + 10.0;
        let r = Rect::new(x0, plot.y0, x0 + size.0, plot.y0 + size.1);
        (frame, Some(r), true, data)
    }
}

impl Figure for GroupedBars {
    fn size(&self) -> (u32, u32) {
        (1000, 690)
    }

    fn geometry(&self) -> Result<Vec<PanelGeometry>, PlotError> {
        self.check()?;
        let (frame, legend, outside, data) = self.layout();
        let (y0, y1) = frame.y;
        Ok(vec![PanelGeometry {
            title: self.title.clone(),
            frame,
            legend,
            legend_labels: self.labels(),
            legend_outside: outside,
            data,
            chance: self.chance.map(|c| (frame.px(0.0, c).1, c)),
            x_ticks: Ticks::fixed(
                (0..self.groups.len()).map(|g| g as f64).collect(),
                self.groups.clone(),
            ),
            y_ticks: Ticks::nice(y0, y1, 6),
        }])
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.check()?;
        let g = self.geometry()?.remove(0);
        draw_title(root, &self.title, TITLE_FONT + 2, SUPTITLE_H)?;
        let (w, _) = self.size();
        let plot = g.frame.plot;
        let ((x0, x1), (y0, y1)) = (g.frame.x, g.frame.y);
        let yt = g.y_ticks.clone();
        let fy = move |v: &f64| {
            yt.at
                .iter()
                .zip(&yt.text)
                .min_by(|a, b| (a.0 - v).abs().total_cmp(&(b.0 - v).abs()))
                .map(|(_, s)| s.clone())
                .unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(root)
            .margin_top(plot.y0 as u32)
            .margin_left(14)
            .margin_right((w as f64 - plot.x1) as u32)
            .margin_bottom(14)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(
                x0..x1,
                TickedRange {
                    lo: y0,
                    hi: y1,
                    ticks: g.y_ticks.at.clone(),
                },
            )
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(&self.y_label)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 14))
            .y_label_formatter(&fy)
            .light_line_style(BLACK.mix(0.0))
            .bold_line_style(BLACK.mix(0.15))
            .draw()
            .map_err(draw_err)?;
        let cap_w = 0.2 * 0.8 / self.series.len() as f64;
        for b in self.bars() {
            let color = cycle(b.series);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(b.left, y0), (b.right, b.value)],
                    color.filled(),
                )))
                .map_err(draw_err)?;
            let mid = (b.left + b.right) / 2.0;
            let top = match b.whisker {
                Some((lo, hi)) => {
                    let s = BLACK.stroke_width(2);
                    chart
                        .draw_series([
                            PathElement::new(vec![(mid, lo), (mid, hi)], s),
                            PathElement::new(vec![(mid - cap_w, lo), (mid + cap_w, lo)], s),
                            PathElement::new(vec![(mid - cap_w, hi), (mid + cap_w, hi)], s),
                        ])
                        .map_err(draw_err)?;
                    hi.max(b.value)
                }
                None => b.value,
            };
            let (cx, cy) = g.frame.px(mid, top);
            let style = ("sans-serif", VALUE_FONT as u32)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            root.draw(&Text::new(
                format!("{:.3}", b.value),
                (cx as i32, cy as i32 - 3),
                style,
            ))
            .map_err(draw_err)?;
        }
        if let Some(c) = self.chance {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, c), (x1, c)],
                    6,
                    5,
                    GREY.stroke_width(2),
                ))
                .map_err(draw_err)?;
        }
        // Group names under the axis, centred on each group (plotters would put its own
        // ticks at round numbers instead).
        for (i, name) in self.groups.iter().enumerate() {
            let (px, py) = g.frame.px(i as f64, y0);
            let style = ("sans-serif", 17)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(name.clone(), (px as i32, py as i32 + 10), style))
                .map_err(draw_err)?;
        }
        if let Some(rect) = &g.legend {
            let mut entries: Vec<(String, Sample)> = self
                .series
                .iter()
                .enumerate()
                .map(|(i, s)| (s.label.clone(), Sample::Fill(cycle(i))))
                .collect();
            if let Some(c) = self.chance {
                entries.push((format!("chance ({c})"), Sample::Line(GREY, Dash::Dashed)));
            }
            draw_legend(root, rect, &entries)?;
        }
        Ok(())
    }
}
