//! Colours: one fixed colour per optimizer (matplotlib's tab10, as the study's figures)
//! the viridis colour map for heatmaps (plotters' own), and the optimizers' display names.

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

/// viridis at `t` in [0, 1] (clamped): plotters' own colour map (matplotlib's viridis).
pub fn viridis(t: f64) -> RGBColor {
    use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    ViridisRGB.get_color(t as f32)
}

/// An optimizer's name as the study writes it (GD, SGD, Adam, AdaGrad, RMSProp); other
/// names as they are.
pub fn display_name(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "gd" => "GD".into(),
        "sgd" => "SGD".into(),
        "adam" => "Adam".into(),
        "adagrad" => "AdaGrad".into(),
        "rmsprop" => "RMSProp".into(),
        "momentum" => "Momentum".into(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_midpoint() {
        // plotters' table: its ends are matplotlib's (68, 1, 84) and (254, 232, 37).
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(254, 232, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(2.0), viridis(1.0));
    }

    #[test]
    fn optimizer_names_as_the_study_writes_them() {
        let names: Vec<String> = ["gd", "SGD", "adam", "adagrad", "rmsprop", "custom"]
            .iter()
            .map(|n| display_name(n))
            .collect();
        assert_eq!(names, ["GD", "SGD", "Adam", "AdaGrad", "RMSProp", "custom"]);
    }

    #[test]
    fn optimizers_keep_the_study_colours() {
        assert_eq!(optimizer_color("Adam"), RGBColor(44, 160, 44));
        assert_eq!(optimizer_color("custom"), optimizer_color("custom"));
    }
}
