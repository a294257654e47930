//! The PNG backend: plotters' bitmap backend with our own text rasteriser.
//!
//! plotters 0.3.7's ab_glyph text path places every glyph at the pen position without its
//! left side bearing, so a narrow glyph such as "1" sits against its left neighbour and
//! leaves a gap on its right ("-10" reads "-1 0"). Here glyphs are positioned by ab_glyph
//! itself; layout (sizes, anchors, baseline, rotation) matches plotters', so label areas
//! computed by plotters still fit.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::prelude::BitMapBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

use super::font;

fn face() -> &'static FontRef<'static> {
    static FACE: OnceLock<FontRef<'static>> = OnceLock::new();
    FACE.get_or_init(|| FontRef::try_from_slice(font::BYTES).expect("the embedded font parses"))
}

/// A bitmap backend drawing text with correct glyph bearings.
pub(crate) struct PngBackend<'a> {
    inner: BitMapBackend<'a>,
}

impl<'a> PngBackend<'a> {
    pub fn new(inner: BitMapBackend<'a>) -> Self {
        PngBackend { inner }
    }
}

type Err<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl<'a> DrawingBackend for PngBackend<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), Err<'a>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), Err<'a>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Err<'a>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Err<'a>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Err<'a>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Err<'a>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), Err<'a>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), Err<'a>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        // Same layout box, anchor offsets and rotation as plotters' default draw_text.
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let size = style.size() as f32;
        let font = face().as_scaled(PxScale::from(size));
        let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
        let mut pen = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                pen += font.kern(p, id);
            }
            prev = Some(id);
            // Baseline at half the size below the box top, as plotters places it.
            let glyph = id.with_scale_and_position(size, point(pen, 0.0));
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                let (x0, y0) = (
                    b.min.x.floor() as i32,
                    (size / 2.0 + b.min.y).floor() as i32,
                );
                outline.draw(|gx, gy, cov| pixels.push((x0 + gx as i32, y0 + gy as i32, cov)));
            }
            pen += font.h_advance(id);
        }
        for (x, y, cov) in pixels {
            let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 && cov > 0.0 {
                let c = BackendColor {
                    alpha: color.alpha * cov.min(1.0) as f64,
                    rgb: color.rgb,
                };
                self.inner.draw_pixel((x, y), c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;
    use plotters::style::text_anchor::Pos;

    /// Leftmost inked column of "1" drawn at x = 20 with size 60.
    fn leftmost_ink(ours: bool) -> u32 {
        font::ensure_registered();
        let (w, h) = (200u32, 100u32);
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        {
            let style = ("sans-serif", 60)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Top));
            let text = Text::new("1", (20, 10), style);
            if ours {
                let root = PngBackend::new(BitMapBackend::with_buffer(&mut rgb, (w, h)))
                    .into_drawing_area();
                root.draw(&text).unwrap();
                root.present().unwrap();
            } else {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                root.draw(&text).unwrap();
                root.present().unwrap();
            }
        }
        (0..w)
            .find(|&x| (0..h).any(|y| rgb[((y * w + x) * 3) as usize] < 128))
            .expect("some ink")
    }

    #[test]
    fn glyphs_keep_their_left_side_bearing() {
        let font = face().as_scaled(PxScale::from(60.0));
        let bearing = font.h_side_bearing(font.glyph_id('1'));
        assert!(
            bearing > 5.0,
            "'1' has a wide left bearing in DejaVu Sans ({bearing})"
        );
        let ours = leftmost_ink(true) as f32 - 20.0;
        assert!(
            (ours - bearing).abs() <= 1.5,
            "ink starts {ours} px in, bearing {bearing}"
        );
        // plotters' own path starts the ink at the pen position: the bug this file fixes.
        let theirs = leftmost_ink(false) as f32 - 20.0;
        assert!(
            theirs < bearing - 3.0,
            "plotters now keeps bearings ({theirs}); this backend may be unnecessary"
        );
    }
}
