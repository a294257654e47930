//! Training-set size against final test accuracy, one line per optimizer with
//! +/-1 std error bars over seeds, or 95% intervals over test questions when given; the
//! chance line at 0.5. Ticks sit at the measured sizes; each series is shifted by its own
//! small x offset so whiskers at one size stand side by side.

use super::super::palette::optimizer_color;
use super::super::panel::{draw_line_panel, Line, LinePanel, PanelGeometry};
use super::super::render::{Figure, PlotError};
use super::{check_len, no_data, Rect, Ticks};
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
    /// How many runs each point pools (for captions).
    pub runs: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainSizeFigure {
    pub title: String,
    pub x_label: String,
    pub series: Vec<SizeSeries>,
    /// Ticks at the measured sizes, e.g. "25%" over "(60 rows)"; default: round numbers.
    pub x_ticks: Option<Ticks>,
}

/// Share of the x axis between neighbouring series at one size.
const DODGE: f64 = 0.022;

const NAME: &str = "training-set size";

impl TrainSizeFigure {
    fn check(&self) -> Result<(), PlotError> {
        if self.series.iter().all(|s| s.sizes.is_empty()) {
            return Err(no_data(NAME, "no training-set sizes"));
        }
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
        }
        Ok(())
    }

    fn panel(&self) -> LinePanel {
        let xs = self.series.iter().flat_map(|s| s.sizes.iter().copied());
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let pad = if hi > lo { 0.08 * (hi - lo) } else { 1.0 };
        let span = hi - lo + 2.0 * pad;
        let n = self.series.len() as f64;
        let mut lines = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let shift = (i as f64 - (n - 1.0) / 2.0) * DODGE * span;
            let x: Vec<f64> = s.sizes.iter().map(|v| v + shift).collect();
            let mut l = Line::new(
                Some(s.label.clone()),
                optimizer_color(&s.name),
                x.clone(),
                s.accuracy.clone(),
            );
            l.markers = true;
            match &s.intervals {
                Some(iv) => {
                    l.intervals = Some(
                        x.iter()
                            .zip(iv)
                            .map(|(&x, &(lo, hi))| (x, lo, hi))
                            .collect(),
                    )
                }
                None => l.error_bars = Some(s.accuracy_std.clone()),
            }
            lines.push(l);
        }
        LinePanel {
            title: String::new(),
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
            x_ticks: self.x_ticks.clone(),
            legend: true,
            chance: Some(0.5),
            marks: Vec::new(),
        }
    }

    fn cell(&self) -> Rect {
        let (w, h) = self.size();
        Rect::new(0.0, super::SUPTITLE_H, w as f64, h as f64)
    }
}

impl Figure for TrainSizeFigure {
    fn size(&self) -> (u32, u32) {
        (1100, 744)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        self.check()?;
        super::super::panel::draw_title(
            root,
            &self.title,
            super::super::panel::TITLE_FONT + 4,
            super::SUPTITLE_H,
        )?;
        draw_line_panel(&super::sub_area(root, &self.cell()), &self.panel())?;
        Ok(())
    }

    fn geometry(&self) -> Result<Vec<PanelGeometry>, PlotError> {
        self.check()?;
        Ok(vec![self.panel().layout(self.cell())])
    }
}
