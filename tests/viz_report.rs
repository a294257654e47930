//! The HTML report is self-contained (figures as data: URIs, no network references),
//! holds the run's numbers, and opens in headless Chromium with every image decoded.
//!
//! The browser test needs Debian's `chromium` (or QA_PIPE_CHROMIUM=/path/to/browser);
//! without one it prints why and skips, unless QA_PIPE_REQUIRE_CHROMIUM=1 (CI), where
//! a missing browser fails. QA_PIPE_SCREENSHOT_DIR keeps the screenshot.

use base64::Engine;
use qa_pipe::viz::figures::{Band, BarSeries, GroupedBars, OptimizerCurves, OptimizerPanels};
use qa_pipe::viz::report::*;
use qa_pipe::viz::{render, Format};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A DAG shaped like pipelines/report.yaml's: a source, features, a dozen training
/// stages, their evaluate stages, claims, figures, the report; edges that skip ranks.
fn study_shaped_dag(node: impl Fn(&str, &str) -> DagNode) -> Dag {
    let trains: Vec<String> = (0..12).map(|i| format!("train_stage_{i}")).collect();
    let evals: Vec<String> = (0..6).map(|i| format!("eval_stage_{i}")).collect();
    let mut nodes = vec![node("data", "ingest_csv"), node("features", "e5")];
    nodes.extend(trains.iter().map(|t| node(t, "train")));
    nodes.extend(evals.iter().map(|e| node(e, "evaluate")));
    nodes.extend([
        node("claims", "claims"),
        node("figures", "plot"),
        node("report", "report"),
    ]);
    let mut edges: Vec<(String, String)> = vec![("data".into(), "features".into())];
    for (i, t) in trains.iter().enumerate() {
        edges.push(("features".into(), t.clone()));
        edges.push((t.clone(), evals[i / 2].clone()));
        edges.push((t.clone(), "figures".into()));
    }
    for e in &evals {
        edges.push(("data".into(), e.clone()));
        edges.push((e.clone(), "claims".into()));
        edges.push((e.clone(), "report".into()));
    }
    edges.push(("claims".into(), "report".into()));
    edges.push(("figures".into(), "report".into()));
    Dag { nodes, edges }
}

fn sample_report() -> Report {
    let curves = |name: &str, rate: f64| OptimizerCurves {
        name: name.into(),
        label: name.to_uppercase(),
        epoch: (0..50).map(f64::from).collect(),
        time_s: (0..50).map(|e| e as f64 * 0.01).collect(),
        loss: Band::exact((0..50).map(|e| (-rate * e as f64).exp()).collect()),
        accuracy: Band::exact(
            (0..50)
                .map(|e| 1.0 - 0.5 * (-rate * e as f64).exp())
                .collect(),
        ),
    };
    let panels = OptimizerPanels {
        title: "Optimizers".into(),
        curves: vec![curves("gd", 0.02), curves("adam", 0.2)],
    };
    let bars = GroupedBars {
        title: "E5 vs TF-IDF".into(),
        y_label: "Accuracy".into(),
        groups: vec!["GD".into(), "ADAM".into()],
        series: vec![BarSeries {
            label: "TF-IDF".into(),
            values: vec![0.6, 0.7],
            stds: vec![0.01, 0.02],
            intervals: None,
        }],
        y_range: None,
        chance: Some(0.5),
    };
    let node = |n: &str, k: &str| DagNode {
        name: n.into(),
        kind: k.into(),
    };
    Report {
        title: "qa-pipe run: study".into(),
        intro: Some("Numbers below are means over 5 seeds.".into()),
        sections: vec![Section {
            title: "Optimizers".into(),
            text: Some("GD, SGD and Adam.".into()),
            figures: vec![
                EmbeddedFigure {
                    caption: "2x2 panels (PNG)".into(),
                    format: Format::Png,
                    bytes: render(&panels, Format::Png).unwrap(),
                },
                EmbeddedFigure {
                    caption: "Representations (SVG)".into(),
                    format: Format::Svg,
                    bytes: render(&bars, Format::Svg).unwrap(),
                },
            ],
            tables: vec![
                Table {
                    caption:
                        "Stage `eval`: test-set metrics per configuration, mean ± std over seeds"
                            .into(),
                    columns: [
                        "Trained by",
                        "Configuration",
                        "Seeds",
                        "Accuracy",
                        "Precision",
                        "Recall",
                        "F1",
                        "ROC AUC",
                    ]
                    .map(String::from)
                    .to_vec(),
                    rows: vec![vec![
                        "E5".into(),
                        "Adam".into(),
                        "5".into(),
                        fmt_mean_std(0.85, 0.01, 3),
                        fmt_mean_std(0.84, 0.02, 3),
                        fmt_mean_std(0.87, 0.02, 3),
                        fmt_mean_std(0.855, 0.015, 3),
                        fmt_mean_std(0.93, 0.01, 3),
                    ]],
                },
                Table {
                    caption: "Final metrics".into(),
                    columns: vec![
                        "Optimizer".into(),
                        "Test accuracy".into(),
                        "Train MSE".into(),
                    ],
                    rows: vec![
                        vec![
                            "adam".into(),
                            fmt_mean_std(0.8523, 0.0191, 3),
                            fmt_mean_std(0.01234, 0.0011, 4),
                        ],
                        vec![
                            "gd".into(),
                            fmt_mean_std(0.6187, 0.0402, 3),
                            fmt_mean_std(0.2431, 0.0122, 4),
                        ],
                    ],
                },
            ],
        }],
        dag: study_shaped_dag(node),
        stages: vec![
            StageInfo {
                name: "train".into(),
                kind: "train".into(),
                key: "b3f1c2d4e5a6".into(),
                params: "{\"epochs\": 100, \"seeds\": [42, 10, 2024, 7, 99]}".into(),
                duration_s: Some(3.25),
                cached: Some(false),
            },
            StageInfo {
                name: "report".into(),
                kind: "report".into(),
                key: "c0ffee".into(),
                params: "{\"title\": \"x\"}".into(),
                duration_s: Some(0.0042),
                cached: Some(false),
            },
        ],
    }
}

#[test]
fn report_is_self_contained_and_holds_the_numbers() {
    let r = sample_report();
    let html = render_html(&r);
    // Every figure is embedded and decodes back to the exact bytes.
    let figures = &r.sections[0].figures;
    for f in figures {
        let prefix = format!("src=\"data:{};base64,", f.format.mime());
        let start = html.find(&prefix).unwrap_or_else(|| panic!("no {prefix}")) + prefix.len();
        let end = start + html[start..].find('"').unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&html[start..end])
            .unwrap();
        assert_eq!(bytes, f.bytes);
    }
    // Nothing to fetch: no external src/href, stylesheet links or CSS imports.
    for bad in [
        "src=\"http",
        "href=\"http",
        "<link",
        "@import",
        "url(http",
        "src=\"//",
    ] {
        assert!(!html.contains(bad), "report references the network: {bad}");
    }
    for number in [
        "0.852 ± 0.019",
        "0.619 ± 0.040",
        "0.0123 ± 0.0011",
        "3.25 s",
        "4.2 ms",
        "b3f1c2d4e5a6",
        "&quot;epochs&quot;: 100",
    ] {
        assert!(html.contains(number), "report lacks {number}");
    }
    assert!(html.contains("aria-label=\"pipeline DAG\""), "DAG drawn");
    assert_eq!(
        html.matches("marker-end=\"url(#arrow)\"").count(),
        r.dag.edges.len(),
        "one arrow per edge"
    );
    assert_eq!(
        html.matches("<g class=\"stage\"").count(),
        r.dag.nodes.len()
    );
    assert!(html.contains("<details class=\"params\"><summary>params (1 lines)</summary>"));
}

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("QA_PIPE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn report_opens_in_headless_chromium_with_every_image_loaded() {
    let Some(browser) = chromium() else {
        if std::env::var("QA_PIPE_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("QA_PIPE_REQUIRE_CHROMIUM=1 but no chromium found: apt-get install chromium");
        }
        eprintln!(
            "SKIPPED: no chromium on PATH (apt-get install chromium, or set QA_PIPE_CHROMIUM)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let report = sample_report();
    std::fs::write(&page, render_html(&report)).unwrap();
    let url = format!("file://{}", page.display());

    let out = headless(&browser, &dir.path().join("profile-dom"))
        .arg("--window-size=1400,2400")
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let n = report.sections[0].figures.len();
    assert!(
        dom.contains(&format!("data-images-loaded=\"{n}/{n}\"")),
        "not every image loaded; chromium said: {}\nstderr: {}",
        dom.lines()
            .find(|l| l.contains("<body"))
            .unwrap_or("(no body)"),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("0.852 ± 0.019"),
        "table numbers in the rendered DOM"
    );
    // The DAG fits the 1400 px page and shows every stage; params are collapsed; the
    // evaluate table (precision, recall, F1, ROC AUC) is there.
    let body = dom.lines().find(|l| l.contains("<body")).unwrap_or("");
    assert!(body.contains("data-dag-fits=\"yes\""), "{body}");
    assert!(
        body.contains(&format!("data-dag-stages=\"{}\"", report.dag.nodes.len())),
        "{body}"
    );
    assert!(body.contains("data-params-open=\"0\""), "{body}");
    assert!(dom.contains("<th>ROC AUC</th>") && dom.contains("<th>Precision</th>"));

    let shot_dir = std::env::var("QA_PIPE_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dir.path().to_path_buf());
    std::fs::create_dir_all(&shot_dir).unwrap();
    let shot = shot_dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = headless(&browser, &dir.path().join("profile-shot"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1400,2400")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        shot.is_file(),
        "no screenshot; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot)
        .expect("screenshot is an image")
        .to_rgb8();
    assert_eq!(img.dimensions(), (1400, 2400));
    let dark = img
        .pixels()
        .filter(|p| p[0] < 100 && p[1] < 100 && p[2] < 100)
        .count();
    let coloured = img
        .pixels()
        .filter(|p| p[0].abs_diff(p[1]) > 60 || p[1].abs_diff(p[2]) > 60)
        .count();
    assert!(dark > 2000, "screenshot shows text ({dark} dark pixels)");
    assert!(
        coloured > 5000,
        "screenshot shows the figures ({coloured} coloured pixels)"
    );
}
