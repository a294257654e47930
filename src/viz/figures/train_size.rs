//! Training-set size against final test accuracy, one line per optimizer with
//! +/-1 std error bars over seeds, or 95% intervals over test questions when given; the
//! chance line at 0.5.

use super::super::palette::optimizer_color;
use super::super::panel::{draw_line_panel, Line, LinePanel};
use super::super::render::{Figure, PlotError};
use super::{check_len, no_data};
use plotters::coord::Shift;
use plotters::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct SizeSeries {
    pub name: String,
    pub label: String,
    /// Training-set sizes (rows or percent, as `x_label` says).
    pub sizes: Vec<f64>,
    pub accuracy: Vec<f64>,
    pub accuracy_std: Vec<f64>,
    /// 95% intervals over test questions per size (from `evaluate`); drawn instead of the
    /// std whiskers when given.
    pub intervals: Option<Vec<(f64, f64)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainSizeFigure {
    pub title: String,
    pub x_label: String,
    pub series: Vec<SizeSeries>,
}

const NAME: &str = "training-set size";

impl Figure for TrainSizeFigure {
    fn size(&self) -> (u32, u32) {
        (1000, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        if self.series.iter().all(|s| s.sizes.is_empty()) {
            return Err(no_data(NAME, "no training-set sizes"));
        }
        let mut lines = Vec::new();
        for s in &self.series {
            check_len(
                NAME,
                &format!("{} accuracy", s.name),
                s.sizes.len(),
                s.accuracy.len(),
            )?;
            check_len(
                NAME,
                &format!("{} accuracy std", s.name),
                s.sizes.len(),
                s.accuracy_std.len(),
            )?;
            let mut l = Line::new(
                Some(s.label.clone()),
                optimizer_color(&s.name),
                s.sizes.clone(),
                s.accuracy.clone(),
            );
            l.markers = true;
            match &s.intervals {
                Some(iv) => {
                    l.intervals = Some(
                        s.sizes
                            .iter()
                            .zip(iv)
                            .map(|(&x, &(lo, hi))| (x, lo, hi))
                            .collect(),
                    )
                }
                None => l.error_bars = Some(s.accuracy_std.clone()),
            }
            lines.push(l);
        }
        let xs = self.series.iter().flat_map(|s| s.sizes.iter().copied());
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let pad = if hi > lo { 0.06 * (hi - lo) } else { 1.0 };
        let panel = LinePanel {
            title: self.title.clone(),
            x_label: self.x_label.clone(),
            y_label: if self.series.iter().all(|s| s.intervals.is_some()) {
                "Final test accuracy (95% interval over test questions)"
            } else {
                "Final test accuracy (mean ± std over seeds)"
            }
            .to_string(),
            lines,
            y_range: None,
            x_range: Some((lo - pad, hi + pad)),
            legend: Some(SeriesLabelPosition::LowerRight),
            chance: Some(0.5),
        };
        draw_line_panel(root, &panel)
    }
}
