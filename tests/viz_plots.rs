//! Every figure renders to a PNG of its stated size with visible, varied content and
//! rendered text, and to an SVG carrying its titles, labels and legends. Set
//! QA_PIPE_FIGURE_DIR to keep the files for a look.

use qa_pipe::viz::figures::*;
use qa_pipe::viz::palette::{optimizer_color, viridis};
use qa_pipe::viz::{render, Figure, Format, PlotError};

fn keep(name: &str, format: Format, bytes: &[u8]) {
    if let Ok(dir) = std::env::var("QA_PIPE_FIGURE_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/{name}.{}", format.extension()), bytes).unwrap();
    }
}

/// Decodes the PNG, checks its size, and that it is neither blank nor noise: some
/// pixels are ink, most are background, and the top strip holds the title's glyphs.
fn check_png<F: Figure>(name: &str, fig: &F) -> image::RgbImage {
    let bytes = render(fig, Format::Png).unwrap_or_else(|e| panic!("{name}: {e}"));
    keep(name, Format::Png, &bytes);
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}: PNG signature");
    let img = image::load_from_memory(&bytes).expect("decodes").to_rgb8();
    assert_eq!(img.dimensions(), fig.size(), "{name}: size");
    let n = img.pixels().len() as f64;
    let lum: Vec<f64> = img
        .pixels()
        .map(|p| (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0)
        .collect();
    let mean = lum.iter().sum::<f64>() / n;
    let var = lum.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let ink = lum.iter().filter(|&&v| v < 200.0).count() as f64 / n;
    assert!(var > 100.0, "{name}: pixel variance {var}");
    assert!(ink > 0.01 && ink < 0.85, "{name}: ink fraction {ink}");
    // Text: dark anti-aliased glyph pixels in the top 40 rows (the title).
    let (w, _) = img.dimensions();
    let title_ink = (0..40)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = img.get_pixel(x, y);
            p[0] < 90 && p[1] < 90 && p[2] < 90
        })
        .count();
    assert!(title_ink > 60, "{name}: title text pixels {title_ink}");
    img
}

fn check_svg<F: Figure>(name: &str, fig: &F, must_contain: &[&str]) -> String {
    let bytes = render(fig, Format::Svg).unwrap_or_else(|e| panic!("{name}: {e}"));
    keep(name, Format::Svg, &bytes);
    let svg = String::from_utf8(bytes).expect("UTF-8");
    let (w, h) = fig.size();
    assert!(svg.trim_start().starts_with("<svg"), "{name}: SVG root");
    assert!(
        svg.contains(&format!("width=\"{w}\"")) && svg.contains(&format!("height=\"{h}\"")),
        "{name}: SVG size"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{name}: SVG closed");
    for s in must_contain {
        assert!(svg.contains(s), "{name}: SVG lacks {s:?}");
    }
    svg
}

fn curve(n: usize, f: impl Fn(f64, f64) -> f64) -> Band {
    let runs: Vec<Vec<f64>> = (0..5)
        .map(|s| (0..n).map(|e| f(e as f64, s as f64)).collect())
        .collect();
    Band::from_runs(&runs)
}

fn optimizer_panels() -> OptimizerPanels {
    let specs = [
        ("gd", "GD (lr=0.01, full batch)", 0.01),
        ("sgd", "SGD (lr=0.1, batch 32)", 0.08),
        ("adam", "Adam (lr=0.001, batch 32)", 0.2),
    ];
    OptimizerPanels {
        title: "2-layer MLP (hidden 64): GD vs SGD vs Adam".into(),
        curves: specs
            .iter()
            .map(|&(name, label, rate)| OptimizerCurves {
                name: name.into(),
                label: label.into(),
                epoch: (0..100).map(f64::from).collect(),
                time_s: (0..100).map(|e| e as f64 * rate * 0.1).collect(),
                loss: curve(100, |e, s| {
                    1.0 * (-rate * e).exp() + 0.02 * ((e + s) * 0.9).sin()
                }),
                accuracy: curve(100, |e, s| {
                    0.5 + 0.45 * (1.0 - (-rate * e).exp()) + 0.02 * ((e * 1.3 + s).cos())
                }),
            })
            .collect(),
    }
}

#[test]
fn optimizer_panels_render() {
    let fig = optimizer_panels();
    let img = check_png("optimizers", &fig);
    // The three optimizer colours are drawn as lines.
    for opt in ["gd", "sgd", "adam"] {
        let c = optimizer_color(opt);
        let hits = img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count();
        assert!(hits > 200, "{opt} line pixels: {hits}");
    }
    check_svg(
        "optimizers",
        &fig,
        &[
            "Epoch vs Training Loss (MSE)",
            "Time (s) vs Test Accuracy",
            "Adam (lr=0.001, batch 32)",
            "Epoch",
            "Accuracy",
            "2-layer MLP",
        ],
    );
}

#[test]
fn mismatched_or_missing_data_is_a_clear_error() {
    let mut fig = optimizer_panels();
    fig.curves[1].time_s.pop();
    match render(&fig, Format::Png) {
        Err(PlotError::BadData { what, .. }) => {
            assert!(what.contains("sgd time has 99 values for 100"), "{what}")
        }
        other => panic!("expected BadData, got {other:?}"),
    }
    fig.curves.clear();
    assert!(matches!(
        render(&fig, Format::Svg),
        Err(PlotError::NoData { .. })
    ));
}

#[test]
fn train_size_renders() {
    let fig = TrainSizeFigure {
        title: "Training-set size vs accuracy".into(),
        x_label: "Training set size (%)".into(),
        series: ["gd", "sgd", "adam"]
            .iter()
            .enumerate()
            .map(|(i, &o)| SizeSeries {
                name: o.into(),
                label: o.to_uppercase(),
                sizes: vec![25.0, 50.0, 75.0, 100.0],
                accuracy: vec![
                    0.55 + 0.05 * i as f64,
                    0.6 + 0.1 * i as f64,
                    0.62 + 0.1 * i as f64,
                    0.6 + 0.12 * i as f64,
                ],
                accuracy_std: vec![0.05, 0.04, 0.03, 0.02],
                intervals: (i == 2)
                    .then(|| vec![(0.6, 0.7), (0.65, 0.78), (0.7, 0.8), (0.66, 0.78)]),
                runs: vec![5; 4],
            })
            .collect(),
        x_ticks: Some(Ticks::fixed(
            vec![25.0, 50.0, 75.0, 100.0],
            [
                "25% (60 rows)",
                "50% (120 rows)",
                "75% (180 rows)",
                "100% (240 rows)",
            ]
            .map(String::from)
            .to_vec(),
        )),
    };
    check_png("train_size", &fig);
    check_svg(
        "train_size",
        &fig,
        &[
            "Training set size (%)",
            "Final test accuracy",
            "ADAM",
            "75% (180 rows)",
        ],
    );
}

#[test]
fn heatmap_renders_values_with_first_row_on_top() {
    let fig = Heatmap {
        title: "Hidden size vs learning rate (Adam, test accuracy)".into(),
        x_label: "Learning rate".into(),
        y_label: "Hidden size".into(),
        x_ticks: vec!["0.1".into(), "0.01".into()],
        y_ticks: vec!["32".into(), "64".into()],
        values: vec![vec![0.0, 0.0], vec![1.0, 1.0]],
        spread: Vec::new(),
        value_range: None,
        value_label: "Test accuracy".into(),
        marks: Vec::new(),
    };
    let img = check_png("heatmap_rows", &fig);
    let centroid_y = |rgb: [u8; 3]| {
        let ys: Vec<u32> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0 == rgb)
            .map(|(_, y, _)| y)
            .collect();
        assert!(
            ys.len() > 10_000,
            "cell colour {rgb:?} covers {} pixels",
            ys.len()
        );
        ys.iter().map(|&y| y as f64).sum::<f64>() / ys.len() as f64
    };
    let low = viridis(0.0);
    let high = viridis(1.0);
    assert!(
        centroid_y([low.0, low.1, low.2]) < centroid_y([high.0, high.1, high.2]),
        "row 0 drawn on top"
    );

    let grid = Heatmap {
        x_ticks: vec!["0.1".into(), "0.01".into(), "0.001".into(), "0.0001".into()],
        y_ticks: vec!["32".into(), "64".into(), "128".into()],
        values: vec![
            vec![0.61, 0.85, 0.83, 0.55],
            vec![0.58, 0.86, 0.84, 0.57],
            vec![0.52, 0.8, 0.85, f64::NAN],
        ],
        ..fig
    };
    check_png("heatmap", &grid);
    check_svg(
        "heatmap",
        &grid,
        &[
            "0.860",
            "0.610",
            "n/a",
            "range 0.520 – 0.860",
            "0.0001",
            "128",
            "Learning rate",
            "Hidden size",
            "Test accuracy",
        ],
    );
}

fn tsne_figure() -> TsnePathsFigure {
    let mut paths = Vec::new();
    for (k, opt) in ["gd", "sgd", "adam"].iter().enumerate() {
        for seed in 0..3 {
            let points = (0..60)
                .map(|t| {
                    let t = t as f64 / 6.0;
                    let wiggle = if *opt == "sgd" {
                        0.8 * (t * 7.0).sin()
                    } else {
                        0.0
                    };
                    [
                        10.0 * k as f64 + t * (1.0 + seed as f64 * 0.3) + wiggle,
                        5.0 * seed as f64 + t.sqrt() * 4.0,
                    ]
                })
                .collect();
            paths.push(TsnePath {
                optimizer: opt.to_string(),
                run: seed.to_string(),
                points,
            });
        }
    }
    TsnePathsFigure {
        title: "t-SNE of weight trajectories".into(),
        paths,
    }
}

#[test]
fn tsne_paths_render_with_markers_in_optimizer_colours() {
    let fig = tsne_figure();
    assert_eq!(
        fig.size(),
        (1240, 1204),
        "3 optimizers + the overlay: a 2 x 2 grid"
    );
    let img = check_png("tsne_paths", &fig);
    for opt in ["gd", "sgd", "adam"] {
        let c = optimizer_color(opt);
        let hits = img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count();
        // Filled stars and end dots, in this panel and in the overlay.
        assert!(hits > 300, "{opt}: {hits} marker pixels");
    }
    check_svg(
        "tsne_paths",
        &fig,
        &[
            "star = start, dot = end",
            "Adam",
            "All optimizers",
            "t-SNE 1",
            "t-SNE 2",
        ],
    );
}

#[test]
fn grouped_bars_render() {
    let fig = GroupedBars {
        title: "E5 vs TF-IDF: final test accuracy".into(),
        y_label: "Final test accuracy (mean ± std)".into(),
        groups: vec!["GD".into(), "SGD".into(), "ADAM".into()],
        series: vec![
            BarSeries {
                label: "TF-IDF".into(),
                values: vec![0.55, 0.62, 0.7],
                stds: vec![0.03, 0.05, 0.02],
                intervals: Some(vec![(0.5, 0.6), (0.55, 0.69), (0.64, 0.76)]),
            },
            BarSeries {
                label: "E5 embeddings".into(),
                values: vec![0.62, 0.8, 0.85],
                stds: vec![0.02, 0.04, 0.01],
                intervals: None,
            },
        ],
        y_range: None,
        chance: Some(0.5),
    };
    check_png("repr_compare", &fig);
    check_svg(
        "repr_compare",
        &fig,
        &[
            "TF-IDF",
            "E5 embeddings",
            "SGD",
            "0.850",
            "0.550",
            "chance (0.5)",
        ],
    );
}

#[test]
fn heatmap_marks_saturated_cells() {
    let fig = Heatmap {
        title: "grid".into(),
        x_label: "Learning rate".into(),
        y_label: "Hidden size".into(),
        x_ticks: vec!["0.1".into(), "0.01".into()],
        y_ticks: vec!["32".into()],
        values: vec![vec![0.5, 0.6]],
        spread: vec![vec![0.01, 0.02]],
        value_range: None,
        value_label: "Test accuracy".into(),
        marks: vec![vec!["saturated: 5 runs".into(), String::new()]],
    };
    let img = check_png("heatmap_marks", &fig);
    // The red border of the marked cell (palette red, 214/39/40) is drawn.
    let red = img.pixels().filter(|p| p.0 == [214, 39, 40]).count();
    assert!(red > 500, "{red} red pixels");
    check_svg("heatmap_marks", &fig, &["saturated: 5 runs", "± 0.020"]);
}

#[test]
fn fit_figure_renders() {
    let n = 300;
    let fig = FitFigure {
        title: "Overfitting: hidden 1024, 50 training rows".into(),
        share_y: true,
        rows: vec![FitRow {
            label: "overfit".into(),
            curves: ["gd", "sgd", "adam"]
                .iter()
                .enumerate()
                .map(|(i, &o)| FitCurves {
                    name: o.into(),
                    label: o.to_uppercase(),
                    epoch: (0..n).map(|e| e as f64).collect(),
                    train_loss: curve(n, |e, _| (-(0.01 + 0.01 * i as f64) * e).exp()),
                    train_accuracy: curve(n, |e, _| {
                        1.0 - 0.5 * (-(0.02 + 0.01 * i as f64) * e).exp()
                    }),
                    test_accuracy: curve(n, |e, s| {
                        0.8 - 0.3 * (-(0.02 + 0.01 * i as f64) * e).exp() + 0.01 * s
                    }),
                })
                .collect(),
        }],
    };
    check_png("overfit", &fig);
    check_svg(
        "overfit",
        &fig,
        &[
            "accuracy, train (solid) vs test (dashed)",
            "ADAM train",
            "ADAM test",
            "training loss (MSE)",
        ],
    );
}

#[test]
fn depth_figure_renders() {
    let mut series = Vec::new();
    for (m, model) in [
        "one layer",
        "MLP [2049, 64, 1]",
        "MLP [2049, 128, 64, 32, 1]",
    ]
    .iter()
    .enumerate()
    {
        for opt in ["gd", "sgd", "adam"] {
            series.push(DepthSeries {
                model: model.to_string(),
                optimizer: opt.into(),
                epoch: (0..100).map(f64::from).collect(),
                train_loss: curve(100, |e, _| (-(0.01 * (m + 1) as f64) * e).exp()),
                test_accuracy: curve(100, |e, s| {
                    0.5 + 0.1 * m as f64 * (1.0 - (-0.05 * e).exp()) + 0.01 * s
                }),
            });
        }
    }
    let fig = DepthFigure {
        title: "Depth: one layer vs 2-layer vs deep MLP".into(),
        series,
        share_y: true,
    };
    assert_eq!(fig.size(), (1680, 1004));
    check_png("depth", &fig);
    check_svg(
        "depth",
        &fig,
        &[
            "Adam: test accuracy",
            "GD: training loss",
            "MLP [2049, 128, 64, 32, 1]",
        ],
    );
}
