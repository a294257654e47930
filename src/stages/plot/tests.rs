//! The plot stage: every figure type from upstream tables, option errors, and the
//! figures' data -> geometry mapping (legends over no data, chance lines at 0.5, ticks at
//! the measured sizes, series offsets, shared axes, the heatmap's fitted scale).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};

use super::*;
use crate::stages::columns::Named;
use crate::stages::testkit::{curves, snapshots, sweep, Store};
use crate::viz::figures::{mean_std, PanelGeometry, Shape};
use crate::viz::Figure;

fn coords() -> RecordBatch {
    // Stand-in t-SNE coordinates: the first two weights of each snapshot.
    let s = snapshots(10, 4);
    let t = Named::new(&s, "s");
    let (w, dim) = crate::stages::columns::float_lists(&t, "weights").unwrap();
    let x: Vec<f64> = w.chunks(dim).map(|c| c[0] as f64).collect();
    let y: Vec<f64> = w.chunks(dim).map(|c| c[1] as f64).collect();
    RecordBatch::try_from_iter(vec![
        ("optimizer", s.column_by_name("optimizer").unwrap().clone()),
        ("seed", s.column_by_name("seed").unwrap().clone()),
        ("epoch", s.column_by_name("epoch").unwrap().clone()),
        (
            "x",
            Arc::new(arrow::array::Float64Array::from(x)) as ArrayRef,
        ),
        (
            "y",
            Arc::new(arrow::array::Float64Array::from(y)) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// Keeps a test's figures when QA_PIPE_FIGURE_DIR is set, for a look.
fn keep(out: &Output) {
    if let Ok(dir) = std::env::var("QA_PIPE_FIGURE_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &out.files {
            std::fs::write(format!("{dir}/stage_{name}"), bytes).unwrap();
        }
    }
}

fn params(v: serde_json::Value) -> Params {
    serde_json::from_value(v).unwrap()
}

fn job<'a>(fig: &'a FigureDecl, artifacts: &'a [Arc<Artifact>], formats: &'a [Format]) -> Job<'a> {
    Job::of(&fig.common, artifacts, &[], formats)
}

/// Every legend box of every panel touches no data shape.
fn assert_legends_clear(what: &str, panels: &[PanelGeometry]) {
    for (i, p) in panels.iter().enumerate() {
        if let Some(l) = &p.legend {
            if let Some(s) = p.data.iter().find(|s| l.hits(s)) {
                panic!("{what} panel {i} ({}): legend {l:?} covers {s:?}", p.title);
            }
        }
    }
}

/// Accuracy panels draw the chance line at the pixel row of y = 0.5.
fn assert_chance_lines(what: &str, panels: &[PanelGeometry], accuracy: impl Fn(&str) -> bool) {
    for p in panels.iter().filter(|p| accuracy(&p.title)) {
        let (py, c) = p
            .chance
            .unwrap_or_else(|| panic!("{what} {}: no chance line", p.title));
        assert_eq!(c, 0.5);
        assert!((py - p.frame.px(p.frame.x.0, 0.5).1).abs() < 1e-9);
        assert!(
            py > p.frame.plot.y0 && py < p.frame.plot.y1,
            "inside the plot"
        );
    }
}

/// One decimals count per axis.
fn assert_one_decimal_count(what: &str, panels: &[PanelGeometry]) {
    for p in panels {
        let d: Vec<usize> = p
            .y_ticks
            .text
            .iter()
            .map(|t| t.split('.').nth(1).map_or(0, str::len))
            .collect();
        assert!(
            d.windows(2).all(|w| w[0] == w[1]),
            "{what} {}: y ticks {:?}",
            p.title,
            p.y_ticks.text
        );
    }
}

struct Inputs {
    store: Store,
    train: Arc<Artifact>,
    e5: Arc<Artifact>,
    size: Arc<Artifact>,
    size_full: Arc<Artifact>,
    grid: Arc<Artifact>,
    tsne: Arc<Artifact>,
}

fn inputs() -> Inputs {
    let store = Store::new();
    let train = store.put(
        "train",
        "train",
        &[],
        Output::default().table("curves", curves(30, &[])),
    );
    let e5 = store.put(
        "train_e5",
        "train",
        &[],
        Output::default().table("curves", curves(20, &[])),
    );
    // Sizes spread over two stages, as a pipeline with one stage per size has them.
    let size = store.put(
        "size",
        "train",
        &[],
        Output::default().table("curves", curves(10, &[0.25, 0.5])),
    );
    let size_full = store.put(
        "size_full",
        "train",
        &[],
        Output::default().table("curves", curves(10, &[1.0])),
    );
    let grid = store.put(
        "grid",
        "sweep",
        &[],
        Output::default().table("sweep", sweep()),
    );
    let tsne = store.put(
        "tsne",
        "tsne",
        &[],
        Output::default().table("coords", coords()),
    );
    Inputs {
        store,
        train,
        e5,
        size,
        size_full,
        grid,
        tsne,
    }
}

#[test]
fn draws_every_figure_type_from_upstream_tables() {
    let i = inputs();
    let p = params(serde_json::json!({ "figures": [
        { "name": "optimizers", "type": "optimizers", "from": "curves", "title": "Core", "optimizers": ["gd", "sgd", "adam"] },
        { "name": "fit", "type": "fit", "from": "fit" },
        { "name": "size", "type": "train_size", "from": "size" },
        { "name": "grid", "type": "heatmap", "from": "sweep" },
        { "name": "paths", "type": "tsne", "from": "tsne" },
        { "name": "repr", "type": "bars", "from": "compare", "labels": ["TF-IDF", "E5"] },
        { "name": "depth", "type": "depth", "from": "models", "labels": ["one layer", "two layers"] }
    ]}));
    let out = i
        .store
        .run(
            &Plot { p },
            "plot",
            &[
                ("curves", vec![i.train.clone()]),
                ("fit", vec![i.train.clone()]),
                ("size", vec![i.size.clone(), i.size_full.clone()]),
                ("sweep", vec![i.grid.clone()]),
                ("tsne", vec![i.tsne.clone()]),
                ("compare", vec![i.train.clone(), i.e5.clone()]),
                ("models", vec![i.e5.clone(), i.train.clone()]),
            ],
        )
        .unwrap();
    keep(&out);
    let files: BTreeMap<&str, &Vec<u8>> = out.files.iter().map(|(n, b)| (n.as_str(), b)).collect();
    assert_eq!(files.len(), 14);
    for name in [
        "optimizers",
        "fit",
        "size",
        "grid",
        "paths",
        "repr",
        "depth",
    ] {
        let png =
            image::load_from_memory(files[format!("{name}.png").as_str()]).expect("PNG decodes");
        assert!(png.width() >= 1000, "{name}");
        assert!(String::from_utf8_lossy(files[format!("{name}.svg").as_str()]).starts_with("<svg"));
    }
    let svg = |n: &str| String::from_utf8_lossy(files[n]).into_owned();
    // Heatmap cells are means over seeds with 3 decimals: hidden 64, lr 0.001 -> 0.65.
    let grid_svg = svg("grid.svg");
    for text in [
        "0.650",
        "0.600",
        "0.0001",
        "128",
        "Learning rate",
        "Hidden size",
    ] {
        assert!(
            grid_svg.contains(&format!(">\n{text}\n</text>")),
            "heatmap lacks {text}"
        );
    }
    assert!(svg("size.svg").contains("Training set size"));
    // Optimizer names as the study writes them.
    assert!(svg("optimizers.svg").contains(">\nAdam\n<") || svg("optimizers.svg").contains("Adam"));
    assert!(!svg("optimizers.svg").contains(">\nADAM"));
    assert!(svg("repr.svg").contains(">\nTF-IDF\n<") && svg("repr.svg").contains(">\nE5\n<"));
    assert!(svg("optimizers.svg").contains(">\nCore\n<"));
    assert!(svg("depth.svg").contains("two layers"));
    let table = &out.tables[0].1;
    let t = Named::new(table, "figures");
    assert_eq!(t.strings("name").unwrap()[3], "grid");
    assert_eq!(t.strings("files").unwrap()[3], "grid.png,grid.svg");
    assert_eq!(t.strings("title").unwrap()[0], "Core");
    // Captions say what bands are and how many runs they pool.
    let captions = t.strings("caption").unwrap();
    assert!(
        captions[0].contains("mean ± 1 std over seeds, 3 seeds per series (9 runs)"),
        "{}",
        captions[0]
    );
    assert!(
        captions[4].contains("t-SNE keeps neighbourhoods"),
        "{}",
        captions[4]
    );
}

#[test]
fn an_option_of_another_figure_type_is_rejected() {
    // `rows` is a heatmap option; an optimizers figure has none.
    let err = serde_json::from_value::<Params>(serde_json::json!({ "figures": [
        { "name": "o", "type": "optimizers", "from": "curves", "rows": "hidden" }
    ]}))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "unknown field `rows`, expected one of `name`, `from`, `title`, `optimizers`, `index`, `table`"
        ),
        "the common options and the type's own are listed: {err}"
    );
    let ok = serde_json::from_value::<Params>(serde_json::json!({ "figures": [
        { "name": "g", "type": "heatmap", "from": "sweep", "rows": "hidden" }
    ]}));
    assert!(ok.is_ok());
}

/// The common options are declared once (`Common`) but read and written beside the type's
/// own, so the params (and the key they hash to) are one flat map per figure.
#[test]
fn common_options_sit_beside_the_figure_types_own() {
    let given = serde_json::json!({ "figures": [
        { "name": "d", "type": "depth", "from": "models", "title": "T", "optimizers": ["adam"],
          "table": "curves", "labels": null, "share_y": false }
    ], "formats": ["svg"] });
    let p: Params = serde_json::from_value(given.clone()).unwrap();
    assert_eq!(p.figures[0].common.name, "d");
    assert_eq!(p.figures[0].common.title.as_deref(), Some("T"));
    let FigureSpec::Depth(o) = &p.figures[0].spec else {
        panic!("{:?}", p.figures[0].spec)
    };
    assert!(!o.share_y);
    assert_eq!(serde_json::to_value(&p).unwrap(), given);
    let missing = serde_json::from_value::<Params>(serde_json::json!({ "figures": [
        { "type": "depth", "from": "models" }
    ]}))
    .unwrap_err()
    .to_string();
    assert!(missing.contains("missing field `name`"), "{missing}");
}

#[test]
fn missing_role_and_mixed_optimizer_grid_are_clear_errors() {
    let store = Store::new();
    let p = params(
        serde_json::json!({ "figures": [{ "name": "x", "type": "tsne", "from": "tsne" }], "formats": ["png"] }),
    );
    let err = store
        .run(&Plot { p }, "plot", &[])
        .err()
        .expect("fails")
        .to_string();
    assert!(
        err.contains("figure `x` reads role `tsne`, but no stage is bound to it"),
        "{err}"
    );

    let mixed = store.put(
        "grid",
        "sweep",
        &[],
        Output::default().table("sweep", curves(2, &[])),
    );
    let p = params(
        serde_json::json!({ "figures": [{ "name": "g", "type": "heatmap", "from": "sweep", "rows": "seed", "cols": "epoch" }] }),
    );
    let err = store
        .run(&Plot { p }, "plot", &[("sweep", vec![mixed])])
        .err()
        .expect("fails")
        .to_string();
    assert!(
        err.contains("mixes optimizers (adam, gd, sgd); choose one with `optimizers: [NAME]`"),
        "{err}"
    );
}

#[test]
fn train_size_ticks_at_measured_sizes_and_series_side_by_side() {
    let i = inputs();
    let spec: FigureDecl = serde_json::from_value(serde_json::json!(
        { "name": "s", "type": "train_size", "from": "size" }
    ))
    .unwrap();
    let FigureSpec::TrainSize(o) = &spec.spec else {
        unreachable!()
    };
    let arts = vec![i.size, i.size_full];
    let fig = o.figure(&job(&spec, &arts, &[])).unwrap();
    assert_eq!(fig.series.len(), 3);
    assert_eq!(fig.series[2].sizes, vec![25.0, 50.0, 100.0]);
    assert_eq!(fig.x_ticks.as_ref().unwrap().at, vec![25.0, 50.0, 100.0]);
    assert_eq!(
        fig.x_ticks.as_ref().unwrap().text,
        vec!["25%", "50%", "100%"]
    );
    // Adam at 50 %: the testkit's accuracy at epoch 10 minus 0.02 for the second fraction.
    let finals: Vec<f64> = (0..3)
        .map(|s| crate::stages::testkit::test_acc(2, s, 10) - 0.02)
        .collect();
    assert!((fig.series[2].accuracy[1] - mean_std(&finals).0).abs() < 1e-12);
    let g = fig.geometry().unwrap();
    assert_legends_clear("train_size", &g);
    assert_chance_lines("train_size", &g, |_| true);
    assert_one_decimal_count("train_size", &g);
    // Whiskers at one size: each series at its own x, caps (±5 px) apart.
    let whisker_x: Vec<Vec<f64>> = g[0]
        .data
        .iter()
        .filter_map(|s| match s {
            Shape::Line(p) if p.len() == 2 && p[0].0 == p[1].0 => Some(p[0].0),
            _ => None,
        })
        .fold(Vec::new(), |mut acc: Vec<Vec<f64>>, x| {
            match acc.iter_mut().find(|v| (v[0] - x).abs() < 15.0) {
                Some(v) => v.push(x),
                None => acc.push(vec![x]),
            }
            acc
        });
    for xs in &whisker_x {
        for (a, b) in xs.iter().zip(xs.iter().skip(1)) {
            assert!(
                (a - b).abs() == 0.0 || (a - b).abs() > 10.0,
                "whiskers at {xs:?} overlap"
            );
        }
    }
    let distinct: Vec<f64> = {
        let mut v: Vec<f64> = g[0]
            .data
            .iter()
            .filter_map(|s| match s {
                Shape::Line(p) if p.len() == 2 && p[0].0 == p[1].0 => {
                    Some((p[0].0 * 10.0).round() / 10.0)
                }
                _ => None,
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    assert_eq!(
        distinct.len(),
        9,
        "3 sizes x 3 series, each at its own x: {distinct:?}"
    );
}

#[test]
fn every_line_figure_keeps_its_legend_off_the_data_and_draws_chance() {
    let i = inputs();
    let formats: [Format; 0] = [];
    let specs = serde_json::json!([
        { "name": "o", "type": "optimizers", "from": "curves" },
        { "name": "f", "type": "fit", "from": "fit" },
        { "name": "d", "type": "depth", "from": "models" },
        { "name": "b", "type": "bars", "from": "compare" },
        { "name": "t", "type": "tsne", "from": "tsne" }
    ]);
    let figs: Vec<FigureDecl> = serde_json::from_value(specs).unwrap();
    let two = vec![i.train.clone(), i.e5.clone()];
    let one = vec![i.train.clone()];
    let tsne = vec![i.tsne.clone()];
    for fig in &figs {
        let spec = &fig.spec;
        let arts = match spec {
            FigureSpec::Depth(_) | FigureSpec::Bars(_) | FigureSpec::Fit(_) => &two,
            FigureSpec::Tsne(_) => &tsne,
            _ => &one,
        };
        let j = job(fig, arts, &formats);
        let g: Vec<PanelGeometry> = match spec {
            FigureSpec::Optimizers(_)
            | FigureSpec::Fit(_)
            | FigureSpec::Depth(_)
            | FigureSpec::Bars(_) => {
                // Render through the stage path, then read the geometry of the same figure.
                spec.draw(&j).unwrap();
                match spec {
                    FigureSpec::Bars(_) => bars_geometry(spec, &j),
                    _ => line_geometry(spec, &j),
                }
            }
            FigureSpec::Tsne(o) => o.figure(&j).unwrap().geometry().unwrap(),
            _ => unreachable!(),
        };
        let what = spec.type_name();
        assert_legends_clear(what, &g);
        assert_one_decimal_count(what, &g);
        if !matches!(spec, FigureSpec::Tsne(_)) {
            assert_chance_lines(what, &g, |t| {
                t.to_lowercase().contains("accuracy") || what == "bars"
            });
        }
        assert!(g.iter().any(|p| p.legend.is_some()), "{what} has a legend");
    }
}

/// Geometry of a line figure drawn from `spec`, rebuilt as the stage builds it.
fn line_geometry(spec: &FigureSpec, j: &Job<'_>) -> Vec<PanelGeometry> {
    use crate::viz::figures::*;
    let runs = j
        .runs(
            0,
            "curves",
            &[],
            &["train_mse", "train_acc", "test_acc", "elapsed_s"],
            &[],
        )
        .unwrap();
    let groups = crate::stages::curves::by_optimizer(&runs, None);
    let b = |rs: &[&crate::stages::curves::Run], m: &str| job::band(rs, m);
    match spec {
        FigureSpec::Optimizers(_) => OptimizerPanels {
            title: "t".into(),
            curves: groups
                .iter()
                .map(|(o, rs)| OptimizerCurves {
                    name: o.clone(),
                    label: display_name(o),
                    epoch: job::shortest_epochs(rs),
                    time_s: b(rs, "elapsed_s").mean,
                    loss: b(rs, "train_mse"),
                    accuracy: b(rs, "test_acc"),
                })
                .collect(),
        }
        .geometry()
        .unwrap(),
        FigureSpec::Fit(_) => FitFigure {
            title: "t".into(),
            rows: vec![
                FitRow {
                    label: "a".into(),
                    curves: groups
                        .iter()
                        .map(|(o, rs)| FitCurves {
                            name: o.clone(),
                            label: display_name(o),
                            epoch: job::shortest_epochs(rs),
                            train_loss: b(rs, "train_mse"),
                            train_accuracy: b(rs, "train_acc"),
                            test_accuracy: b(rs, "test_acc"),
                        })
                        .collect(),
                };
                2
            ],
            share_y: true,
        }
        .geometry()
        .unwrap(),
        _ => DepthFigure {
            title: "t".into(),
            series: ["one", "two"]
                .iter()
                .flat_map(|m| {
                    groups.iter().map(move |(o, rs)| DepthSeries {
                        model: m.to_string(),
                        optimizer: o.clone(),
                        epoch: job::shortest_epochs(rs),
                        train_loss: b(rs, "train_mse"),
                        test_accuracy: b(rs, "test_acc"),
                    })
                })
                .collect(),
            share_y: true,
        }
        .geometry()
        .unwrap(),
    }
}

fn bars_geometry(_: &FigureSpec, _: &Job<'_>) -> Vec<PanelGeometry> {
    use crate::viz::figures::*;
    GroupedBars {
        title: "t".into(),
        y_label: "Accuracy".into(),
        groups: vec!["GD".into(), "SGD".into(), "Adam".into()],
        series: vec![
            BarSeries {
                label: "TF-IDF".into(),
                values: vec![0.95, 0.96, 0.97],
                stds: vec![0.01; 3],
                intervals: None,
            },
            BarSeries {
                label: "E5".into(),
                values: vec![0.9, 0.97, 0.98],
                stds: vec![0.02; 3],
                intervals: None,
            },
        ],
        y_range: None,
        chance: Some(0.5),
    }
    .geometry()
    .unwrap()
}

#[test]
fn shared_y_axes_are_equal_across_the_panels_that_compare_one_metric() {
    let i = inputs();
    let arts = vec![i.train.clone(), i.e5.clone()];
    let o: FigureDecl = serde_json::from_value(
        serde_json::json!({"name": "x", "type": "optimizers", "from": "curves"}),
    )
    .unwrap();
    let j = job(&o, &arts, &[]);
    let spec = FigureSpec::Depth(serde_json::from_value(serde_json::json!({})).unwrap());
    let g = line_geometry(&spec, &j);
    // 2 rows x 3 optimizers: each row one y range.
    assert_eq!(g.len(), 6);
    for row in g.chunks(3) {
        assert!(
            row.iter().all(|p| p.frame.y == row[0].frame.y),
            "{:?}",
            row.iter().map(|p| p.frame.y).collect::<Vec<_>>()
        );
    }
    assert_ne!(g[0].frame.y, g[3].frame.y, "loss and accuracy differ");
    let FigureSpec::Depth(o) = &spec else {
        unreachable!()
    };
    assert!(o.share_y, "on by default");
    let fit: fit::Options = serde_json::from_value(serde_json::json!({})).unwrap();
    assert!(fit.share_y);
}

#[test]
fn heatmap_scale_is_the_data_range_with_values_and_spread() {
    let i = inputs();
    let spec: FigureDecl = serde_json::from_value(serde_json::json!(
        { "name": "g", "type": "heatmap", "from": "sweep" }
    ))
    .unwrap();
    let FigureSpec::Heatmap(o) = &spec.spec else {
        unreachable!()
    };
    let arts = vec![i.grid];
    let (fig, seeds) = o.figure(&job(&spec, &arts, &[])).unwrap();
    let finite: Vec<f64> = fig
        .values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(fig.color_range(), (lo, hi), "colour range = data range");
    assert!(hi - lo < 0.5, "fitted, not [0, 1]: {lo}..{hi}");
    // The extreme cells get the two ends of viridis.
    let find = |v: f64| {
        fig.values
            .iter()
            .enumerate()
            .find_map(|(r, row)| row.iter().position(|&x| x == v).map(|c| (r, c)))
            .unwrap()
    };
    let (r, c) = find(lo);
    assert_eq!(fig.cell_color(r, c), crate::viz::palette::viridis(0.0));
    let (r, c) = find(hi);
    assert_eq!(fig.cell_color(r, c), crate::viz::palette::viridis(1.0));
    assert_eq!(seeds, "3 seeds per cell");
    let text = fig.cell_text(r, c);
    assert_eq!(text[0], format!("{hi:.3}"));
    assert!(text[1].starts_with("± "), "{text:?}");
    let g = fig.geometry().unwrap();
    assert_legends_clear("heatmap", &g);
}

#[test]
fn tsne_stage_coords_draw_one_path_per_run_with_visible_ends() {
    let store = Store::new();
    let snaps = store.put(
        "train",
        "train",
        &[],
        Output::default().table("snapshots", snapshots(20, 200)),
    );
    let tp: crate::stages::tsne::Params =
        serde_json::from_value(serde_json::json!({ "perplexity": 10 })).unwrap();
    let t = store
        .run(
            &crate::stages::tsne::Tsne::new(tp),
            "tsne",
            &[("snapshots", vec![snaps])],
        )
        .unwrap();
    let tsne = store.put("tsne", "tsne", &[], t);
    let p = params(
        serde_json::json!({ "figures": [{ "name": "tsne_paths", "type": "tsne", "from": "tsne", "optimizers": ["gd", "sgd", "adam"] }] }),
    );
    let spec = p.figures[0].clone();
    let arts = vec![tsne.clone()];
    let FigureSpec::Tsne(o) = &spec.spec else {
        unreachable!()
    };
    let fig = o.figure(&job(&spec, &arts, &[])).unwrap();
    assert_eq!(fig.paths.len(), 9, "3 optimizers x 3 seeds");
    assert!(fig.paths.iter().all(|p| p.points.len() == 21));
    assert_eq!(fig.paths[0].optimizer, "gd");
    assert_eq!(fig.paths[0].run, "gd/42");
    let g = fig.geometry().unwrap();
    assert_eq!(g.len(), 4, "a panel per optimizer and the joint one");
    assert_eq!(g[3].title, "All optimizers");
    assert_eq!(g[2].title, "Adam");
    assert_legends_clear("tsne", &g);
    // Every start star and end dot lies whole inside its panel's plot.
    for p in &g {
        for s in &p.data {
            if let Shape::Dot((x, y), r) = s {
                let plot = p.frame.plot;
                assert!(
                    x - r >= plot.x0 && x + r <= plot.x1 && y - r >= plot.y0 && y + r <= plot.y1,
                    "{}: marker at ({x}, {y}) r {r} leaves the plot {plot:?}",
                    p.title
                );
            }
        }
    }
    let out = store
        .run(&Plot { p }, "plot", &[("tsne", vec![tsne])])
        .unwrap();
    keep(&out);
    assert_eq!(out.files.len(), 2);
}

/// The t-SNE caption says when optimizers' runs share a start (`rng: seed`), so a reader
/// knows the paths diverge from one point by construction.
#[test]
fn tsne_caption_counts_starts_shared_across_optimizers() {
    use crate::viz::figures::TsnePath;
    let shared = |starts: &[(&str, [f64; 2])]| {
        let paths: Vec<TsnePath> = starts
            .iter()
            .enumerate()
            .map(|(i, &(o, q))| TsnePath {
                optimizer: o.into(),
                run: format!("{o}/{i}"),
                points: vec![q, [q[0] + 5.0, q[1]]],
            })
            .collect();
        tsne::shared_starts(&paths)
    };
    let (a, b) = ([1.0, 2.0], [-3.0, 4.0]);
    // `rng: seed`: each seed's optimizers start together.
    assert_eq!(shared(&[("gd", a), ("adam", a), ("gd", b), ("adam", b)]), 2);
    // One optimizer's two runs meeting is no start shared across optimizers.
    assert_eq!(
        shared(&[("gd", a), ("adam", [1.5, 2.0]), ("gd", b), ("gd", b)]),
        0
    );
}
