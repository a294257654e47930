//! Figure geometry as plain numbers, computed before anything is drawn: panel rectangles,
//! the data -> pixel mapping, tick positions and texts, and where a legend goes. Drawing
//! code reads these, so tests can check what a figure shows (a legend over no data point,
//! the chance line at 0.5) without decoding pixels.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use std::sync::OnceLock;

use super::font;

/// An axis-aligned rectangle in pixels, y down; `x1`, `y1` exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl Rect {
    pub fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Rect {
        Rect { x0, y0, x1, y1 }
    }

    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    pub fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.x0 && x <= self.x1 && y >= self.y0 && y <= self.y1
    }

    /// Grown by `d` on every side.
    pub fn inflate(&self, d: f64) -> Rect {
        Rect::new(self.x0 - d, self.y0 - d, self.x1 + d, self.y1 + d)
    }

    pub fn intersects(&self, o: &Rect) -> bool {
        self.x0 <= o.x1 && o.x0 <= self.x1 && self.y0 <= o.y1 && o.y0 <= self.y1
    }

    /// Whether the segment a-b touches the rectangle (Liang-Barsky clipping).
    pub fn hits_segment(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let mut t0: f64 = 0.0;
        let mut t1: f64 = 1.0;
        for (p, q) in [
            (-dx, a.0 - self.x0),
            (dx, self.x1 - a.0),
            (-dy, a.1 - self.y0),
            (dy, self.y1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return false;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
                if t0 > t1 {
                    return false;
                }
            }
        }
        true
    }

    /// Whether a drawn shape touches the rectangle.
    pub fn hits(&self, s: &Shape) -> bool {
        match s {
            Shape::Line(pts) => match pts.as_slice() {
                [] => false,
                [p] => self.contains(*p),
                _ => pts.windows(2).any(|w| self.hits_segment(w[0], w[1])),
            },
            Shape::Box(r) => self.intersects(r),
            Shape::Dot(p, r) => self.inflate(*r).contains(*p),
        }
    }
}

/// Something drawn from the data, in pixels: a polyline, a filled box (a bar), a marker.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Line(Vec<(f64, f64)>),
    Box(Rect),
    /// A marker at a point with its radius.
    Dot((f64, f64), f64),
}

/// The data -> pixel mapping of one plot area, as plotters computes it (the last pixel
/// row and column of the area are the range's ends).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub plot: Rect,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Frame {
    pub fn px(&self, x: f64, y: f64) -> (f64, f64) {
        let t = |v: f64, (lo, hi): (f64, f64)| {
            if hi > lo {
                (v - lo) / (hi - lo)
            } else {
                0.5
            }
        };
        let w = self.plot.width() - 1.0;
        let h = self.plot.height() - 1.0;
        (
            self.plot.x0 + t(x, self.x) * w,
            self.plot.y1 - 1.0 - t(y, self.y) * h,
        )
    }

    pub fn line(&self, pts: impl IntoIterator<Item = (f64, f64)>) -> Shape {
        Shape::Line(
            pts.into_iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(x, y)| self.px(x, y))
                .collect(),
        )
    }
}

/// Ticks of one axis: positions, and their texts, all with the same number of decimals.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    pub at: Vec<f64>,
    pub text: Vec<String>,
}

impl Ticks {
    /// Given positions with given texts (e.g. the measured training-set sizes).
    pub fn fixed(at: Vec<f64>, text: Vec<String>) -> Ticks {
        Ticks { at, text }
    }

    /// About `n` round ticks inside [lo, hi] (steps 1, 2, 2.5, 5 x 10^k).
    pub fn nice(lo: f64, hi: f64, n: usize) -> Ticks {
        if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
            return Ticks {
                at: vec![lo],
                text: vec![fmt_fixed(lo, 0)],
            };
        }
        let raw = (hi - lo) / n.max(2) as f64;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        let first = (lo / step).ceil();
        let mut at = Vec::new();
        let mut k = first;
        while k * step <= hi + step * 1e-9 {
            at.push(k * step);
            k += 1.0;
        }
        let d = decimals(&at);
        let text = at.iter().map(|&v| fmt_fixed(v, d)).collect();
        Ticks { at, text }
    }
}

/// The fewest decimals (at most 6) that print every value exactly: one count per axis.
pub fn decimals(values: &[f64]) -> usize {
    (0..=6)
        .find(|&d| {
            let s = 10f64.powi(d as i32);
            values
                .iter()
                .all(|v| ((v * s).round() - v * s).abs() < 1e-6 * s.max(1.0))
        })
        .unwrap_or(6)
}

/// `v` with `d` decimals, "-0" printed "0".
pub fn fmt_fixed(v: f64, d: usize) -> String {
    let s = format!("{:.*}", d, v);
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

fn face() -> &'static FontRef<'static> {
    static FACE: OnceLock<FontRef<'static>> = OnceLock::new();
    FACE.get_or_init(|| FontRef::try_from_slice(font::BYTES).expect("the embedded font parses"))
}

/// Width in pixels of `text` in the embedded font at `size` px (the PNG's exact width; an
/// SVG viewer with another sans-serif face differs a little, hence the legend's padding).
pub fn text_width(text: &str, size: f64) -> f64 {
    let f = face().as_scaled(PxScale::from(size as f32));
    let mut w = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    w as f64
}

pub const LEGEND_FONT: f64 = 14.0;
const LEGEND_ROW: f64 = 20.0;
const LEGEND_PAD: f64 = 8.0;
const LEGEND_SAMPLE: f64 = 26.0;
/// Space kept between a legend and the plot's edge, and around data it must not touch.
const LEGEND_GAP: f64 = 6.0;

/// Size of a legend box holding these labels.
pub fn legend_size(labels: &[String]) -> (f64, f64) {
    let text = labels
        .iter()
        .map(|l| text_width(l, LEGEND_FONT))
        .fold(0.0, f64::max);
    (
        // 10% slack: an SVG viewer may set the text in a slightly wider face.
        2.0 * LEGEND_PAD + LEGEND_SAMPLE + 8.0 + text * 1.1,
        2.0 * LEGEND_PAD + LEGEND_ROW * labels.len() as f64 - 4.0,
    )
}

/// The corners of `plot` where a legend of `size` may sit, best first when tied.
fn corners(plot: &Rect, (w, h): (f64, f64)) -> [Rect; 4] {
    let g = LEGEND_GAP;
    let (l, r, t, b) = (plot.x0 + g, plot.x1 - g - w, plot.y0 + g, plot.y1 - g - h);
    [
        Rect::new(r, t, r + w, t + h),
        Rect::new(l, t, l + w, t + h),
        Rect::new(r, b, r + w, b + h),
        Rect::new(l, b, l + w, b + h),
    ]
}

/// Where the legend goes: inside the plot in the first corner (upper right, upper left,
/// lower right, lower left) whose box, with a margin, touches no shape of `data`; `None`
/// when every corner would cover data (the caller then puts it outside the plot).
pub fn legend_corner(plot: &Rect, size: (f64, f64), data: &[Shape]) -> Option<Rect> {
    if size.0 + 2.0 * LEGEND_GAP > plot.width() || size.1 + 2.0 * LEGEND_GAP > plot.height() {
        return None;
    }
    corners(plot, size)
        .into_iter()
        .find(|c| !data.iter().any(|s| c.inflate(LEGEND_GAP).hits(s)))
}

/// Row `i`'s vertical centre in a legend box.
pub fn legend_row_y(legend: &Rect, i: usize) -> f64 {
    legend.y0 + LEGEND_PAD + LEGEND_ROW * i as f64 + (LEGEND_ROW - 4.0) / 2.0
}

/// Left edge of a legend's sample and of its text.
pub fn legend_columns(legend: &Rect) -> (f64, f64) {
    (
        legend.x0 + LEGEND_PAD,
        legend.x0 + LEGEND_PAD + LEGEND_SAMPLE + 8.0,
    )
}

/// `n` equal cells of `outer` in a rows x cols grid, row by row, as plotters'
/// `split_evenly` cuts them.
pub fn grid(outer: Rect, rows: usize, cols: usize) -> Vec<Rect> {
    let cut = |lo: f64, hi: f64, n: usize, i: usize| lo + ((hi - lo) * i as f64 / n as f64).floor();
    let mut out = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            out.push(Rect::new(
                cut(outer.x0, outer.x1, cols, c),
                cut(outer.y0, outer.y1, rows, r),
                cut(outer.x0, outer.x1, cols, c + 1),
                cut(outer.y0, outer.y1, rows, r + 1),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_share_one_decimal_count() {
        let t = Ticks::nice(0.42, 0.93, 6);
        assert_eq!(t.text, vec!["0.5", "0.6", "0.7", "0.8", "0.9"]);
        let t = Ticks::nice(0.0, 1.0, 4);
        assert_eq!(t.text, vec!["0.00", "0.25", "0.50", "0.75", "1.00"]);
        let t = Ticks::nice(0.0, 100.0, 5);
        assert_eq!(t.text, vec!["0", "20", "40", "60", "80", "100"]);
        assert_eq!(fmt_fixed(-0.0001, 2), "0.00");
    }

    #[test]
    fn segments_and_boxes() {
        let r = Rect::new(10.0, 10.0, 20.0, 20.0);
        assert!(r.hits_segment((0.0, 15.0), (30.0, 15.0)));
        assert!(!r.hits_segment((0.0, 0.0), (30.0, 5.0)));
        assert!(r.hits_segment((0.0, 0.0), (30.0, 30.0)));
        assert!(!r.hits(&Shape::Dot((25.0, 25.0), 3.0)));
        assert!(r.hits(&Shape::Dot((22.0, 15.0), 3.0)));
    }

    #[test]
    fn legend_avoids_data_or_gives_up() {
        let plot = Rect::new(0.0, 0.0, 400.0, 300.0);
        // A line along the top: the legend goes to a lower corner.
        let top = Shape::Line(vec![(0.0, 20.0), (400.0, 20.0)]);
        let r = legend_corner(&plot, (100.0, 50.0), std::slice::from_ref(&top)).unwrap();
        assert!(r.y0 > 200.0 && !r.inflate(6.0).hits(&top));
        // Lines through every corner: no place inside.
        let x = [
            Shape::Line(vec![(0.0, 0.0), (400.0, 300.0)]),
            Shape::Line(vec![(0.0, 300.0), (400.0, 0.0)]),
        ];
        assert!(legend_corner(&plot, (190.0, 140.0), &x).is_none());
    }
}
