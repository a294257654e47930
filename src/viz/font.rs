//! The font every figure uses, carried in the binary so PNG text renders on machines
//! without fontconfig or system fonts (DejaVu Sans; licence in assets/fonts/).

use std::sync::Once;

/// Family name figures ask for; plotters' default `sans-serif` resolves to it.
pub const FAMILY: &str = "sans-serif";

/// The TrueType file itself.
pub(crate) static BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers the embedded font with plotters' ab_glyph text renderer (idempotent).
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        // Bold and italic requests fall back to the regular face.
        if plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, BYTES)
            .is_err()
        {
            unreachable!("the embedded DejaVuSans.ttf is a valid TrueType font");
        }
    });
}
