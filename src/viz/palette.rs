//! Colours: one fixed colour per optimizer (matplotlib's tab10, as the study's figures)
//! and the viridis colour map for heatmaps.

use plotters::style::RGBColor;

const TAB10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The study's optimizer colours (GD blue, SGD orange, Adam green, AdaGrad red, RMSProp
/// purple); any other name gets a stable tab10 colour from its text.
pub fn optimizer_color(name: &str) -> RGBColor {
    match name.to_ascii_lowercase().as_str() {
        "gd" => TAB10[0],
        "sgd" => TAB10[1],
        "adam" => TAB10[2],
        "adagrad" => TAB10[3],
        "rmsprop" => TAB10[4],
        other => {
            let h = other
                .bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            TAB10[5 + h % 5]
        }
    }
}

/// The i-th colour of the qualitative cycle, for series that are not optimizers.
pub fn cycle(i: usize) -> RGBColor {
    TAB10[i % TAB10.len()]
}

/// viridis sampled at 0, 0.1, ..., 1 (matplotlib), linearly interpolated between.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (68, 1, 84),
    (72, 36, 117),
    (65, 68, 135),
    (53, 95, 141),
    (42, 120, 142),
    (33, 145, 140),
    (34, 168, 132),
    (68, 191, 112),
    (122, 209, 81),
    (189, 223, 38),
    (253, 231, 37),
];

/// viridis at `t` in [0, 1] (clamped).
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_midpoint() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
        assert_eq!(viridis(0.05), RGBColor(70, 19, 101));
    }

    #[test]
    fn optimizers_keep_the_study_colours() {
        assert_eq!(optimizer_color("Adam"), RGBColor(44, 160, 44));
        assert_eq!(optimizer_color("custom"), optimizer_color("custom"));
    }
}
