//! Grouped bars with whiskers (95% intervals over test questions when given, else +/-1
//! std over seeds): E5 vs TF-IDF final accuracy per optimizer; a dashed chance line.

use super::super::palette::cycle;
use super::super::panel::{tick, TITLE_FONT};
use super::super::render::{draw_err, Figure, PlotError};
use super::{check_len, no_data};
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

impl Figure for GroupedBars {
    fn size(&self) -> (u32, u32) {
        (1000, 650)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
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
        let (y0, y1) = self.y_range.unwrap_or((0.0, 1.0));
        let ng = self.groups.len() as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", TITLE_FONT + 2))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..ng - 0.5, y0..y1 * 1.08)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(&self.y_label)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 14))
            .y_label_formatter(&tick)
            .light_line_style(BLACK.mix(0.06))
            .bold_line_style(BLACK.mix(0.15))
            .draw()
            .map_err(draw_err)?;
        let ns = self.series.len() as f64;
        let width = 0.8 / ns;
        for (si, s) in self.series.iter().enumerate() {
            let color = cycle(si);
            let left = |g: usize| g as f64 - 0.4 + si as f64 * width;
            chart
                .draw_series(
                    s.values
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(g, &v)| {
                            Rectangle::new(
                                [(left(g) + 0.01, y0), (left(g) + width - 0.01, v)],
                                color.filled(),
                            )
                        }),
                )
                .map_err(draw_err)?
                .label(&s.label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled())
                });
            for (g, (&v, &e)) in s.values.iter().zip(&s.stds).enumerate() {
                if !v.is_finite() {
                    continue;
                }
                let mid = left(g) + width / 2.0;
                let (lo, hi) = match &s.intervals {
                    Some(iv) => iv.get(g).copied().unwrap_or((f64::NAN, f64::NAN)),
                    None => (v - e, v + e),
                };
                if lo.is_finite() && hi.is_finite() && hi > lo {
                    let cap = width * 0.2;
                    let whisker = vec![
                        PathElement::new(vec![(mid, lo), (mid, hi)], BLACK.stroke_width(2)),
                        PathElement::new(
                            vec![(mid - cap, lo), (mid + cap, lo)],
                            BLACK.stroke_width(2),
                        ),
                        PathElement::new(
                            vec![(mid - cap, hi), (mid + cap, hi)],
                            BLACK.stroke_width(2),
                        ),
                    ];
                    chart.draw_series(whisker).map_err(draw_err)?;
                }
                let top = if hi.is_finite() { hi.max(v) } else { v };
                let style = ("sans-serif", 15)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{v:.3}"),
                        (mid, top + 0.01 * (y1 - y0)),
                        style,
                    )))
                    .map_err(draw_err)?;
            }
        }
        if let Some(c) = self.chance {
            let grey = RGBColor(120, 120, 120);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(-0.5, c), (ng - 0.5, c)],
                    6,
                    5,
                    grey.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(format!("chance ({c})"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], grey.stroke_width(2))
                });
        }
        // Group names under the axis, centred on each group (plotters would put its own
        // ticks at round numbers instead).
        let base = root.get_base_pixel();
        for (g, name) in self.groups.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(g as f64, y0));
            let style = ("sans-serif", 17)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(
                name.clone(),
                (px - base.0, py - base.1 + 10),
                style,
            ))
            .map_err(draw_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(draw_err)?;
        Ok(())
    }
}
