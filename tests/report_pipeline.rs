//! The shipped study pipeline end to end, reduced to one seed and a few epochs so it fits
//! the test run: it completes with a report, a rerun computes nothing, and editing one param
//! reruns exactly the stages downstream of it. Needs the E5 model (scripts/setup-models.sh).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::{statuses, Project};

fn project() -> Project {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = repo.join("models");
    assert!(
        models.join("multilingual-e5-small/model.onnx").is_file(),
        "the E5 model is missing: run scripts/setup-models.sh first (scripts/test.sh does)"
    );
    let p = Project::new();
    for dir in ["pipelines", "stages", "data", "data/study-style"] {
        fs::create_dir_all(p.path(dir)).unwrap();
        for e in fs::read_dir(repo.join(dir)).unwrap().flatten() {
            if e.path().is_file() {
                fs::copy(e.path(), p.path(dir).join(e.file_name())).unwrap();
            }
        }
    }
    std::os::unix::fs::symlink(&models, p.path("models")).unwrap();
    p
}

const REDUCED: &[&str] = &[
    "pipelines/report.yaml",
    "--var",
    "seeds=[42]",
    "--var",
    "epochs=3",
    "--var",
    "perplexity=5",
];

#[test]
fn the_study_runs_end_to_end_and_reruns_only_what_an_edit_touches() {
    let p = project();
    let r = p.run(&[&["run"], REDUCED].concat()).ok();
    let report = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("no report path printed:\n{}\n{}", r.stdout, r.stderr));
    let html = fs::read_to_string(p.path(report)).unwrap();
    assert!(
        html.contains("data:image/png;base64,") || html.contains("<svg"),
        "no figures embedded"
    );
    // Namespace URIs (xmlns) are names, not fetches; nothing may be loaded from a URL.
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(
            !html.contains(attr),
            "the report must need no network: found {attr}"
        );
    }

    claims_open_the_report_and_agree_with_its_numbers(&html);
    // The report names the model (path and content hash), shows each evaluate stage's
    // precision/recall/F1/ROC AUC table, collapses params and draws every stage.
    let models = table_rows(&html, "Models used");
    assert!(
        models
            .iter()
            .any(|r| r[2] == "models/multilingual-e5-small" && r[4].len() == 64),
        "{models:?}"
    );
    for stage in ["eval_optimizers", "eval_grid"] {
        let rows = table_rows(
            &html,
            &format!("Stage `{stage}`: test-set metrics per configuration, mean ± std over seeds"),
        );
        assert!(!rows.is_empty(), "{stage}");
    }
    assert!(html.contains("<details class=\"params\"><summary>"));
    for s in [
        "data",
        "eval_fit",
        "eval_grid",
        "tsne_runs",
        "claims",
        "figures",
        "report",
    ] {
        assert!(
            html.contains(&format!("data-stage=\"{s}\"")),
            "DAG lacks {s}"
        );
    }
    // The pipeline's `description:` is the introduction under the title.
    let intro = html.find("This page is").expect("the description is shown");
    assert!(intro < html.find("<nav>").unwrap());

    let (code, v) = p.run_json(REDUCED);
    assert_eq!(code, 0);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");

    let mut edited = REDUCED.to_vec();
    edited[4] = "epochs=4";
    let (code, v) = p.run_json(&edited);
    assert_eq!(code, 0);
    let ran: BTreeSet<String> = statuses(&v)
        .into_iter()
        .filter(|(_, s)| s == "ran")
        .map(|(n, _)| n)
        .collect();
    let want: BTreeSet<String> = [
        "optimizers",
        "tsne_runs",
        "optimizers_tfidf",
        "eval_optimizers",
        "eval_representation",
        "eval_size",
        "eval_depth",
        "tsne",
        "claims",
        "figures",
        "report",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(ran, want, "{v}");
    assert!(
        statuses(&v)
            .iter()
            .all(|(n, s)| want.contains(n) || s == "cached"),
        "{v}"
    );
}

/// The cells of every row of the table captioned `caption`, tags stripped and entities
/// decoded.
fn table_rows(html: &str, caption: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<caption>{caption}</caption>"))
        .unwrap_or_else(|| panic!("no table `{caption}`"));
    let body = &html[start..];
    let body = &body[..body.find("</table>").unwrap()];
    let decode = |s: &str| {
        s.replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    body.split("<tr>")
        .skip(2) // before the header row, the header row
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = &cell[cell.find('>').unwrap() + 1..];
                    decode(&text[..text.find("</td>").unwrap()])
                })
                .collect()
        })
        .collect()
}

/// "0.600 [0.567, 0.635]" -> (0.600, 0.567, 0.635).
fn interval(s: &str) -> Option<(f64, f64, f64)> {
    let (est, rest) = s.split_once(" [")?;
    let (lo, hi) = rest.trim_end_matches(']').split_once(", ")?;
    Some((est.parse().ok()?, lo.parse().ok()?, hi.parse().ok()?))
}

fn claims_open_the_report_and_agree_with_its_numbers(html: &str) {
    let first = html.find("<h2>").expect("a section");
    assert!(
        html[first..].starts_with("<h2>What this run says about the study&#39;s claims</h2>"),
        "the report must open with the claims: {}",
        &html[first..first + 120]
    );
    let declared =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/report.yaml"))
            .unwrap()
            .matches("\n        - id: ")
            .count();
    let rows = table_rows(html, "The study&#39;s claims and this run&#39;s verdicts");
    assert_eq!(rows.len(), declared, "one row per declared claim");
    assert!(declared >= 20, "{declared} claims");
    for r in &rows {
        let [id, tr, en, measured, _p, verdict, numbers, rule] = r.as_slice() else {
            panic!("claim row of {} cells: {r:?}", r.len());
        };
        assert!(!tr.is_empty() && !en.is_empty(), "{id}: the study's words");
        assert!(
            ["supported", "contradicted", "inconclusive"].contains(&verdict.as_str()),
            "{id}: {verdict}"
        );
        let Some((est, lo, hi)) = interval(measured) else {
            assert_eq!(
                verdict, "inconclusive",
                "{id}: no interval ({measured}) decides nothing"
            );
            continue;
        };
        assert!(lo <= est + 1e-9 && est <= hi + 1e-9, "{id}: {measured}");
        let expect =
            if let Some(range) = rule.strip_prefix("supported if the 95% interval lies within [") {
                let (a, b) = range.split_once("]").unwrap().0.split_once(", ").unwrap();
                let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                // The verdict was decided on unrounded numbers; skip knife-edge cases.
                if [lo - a, lo - b, hi - a, hi - b]
                    .iter()
                    .any(|d| d.abs() < 0.0015)
                {
                    continue;
                }
                if lo >= a && hi <= b {
                    "supported"
                } else if hi < a || lo > b {
                    "contradicted"
                } else {
                    "inconclusive"
                }
            } else if rule.contains("paired difference lies above 0") {
                if lo.abs() < 0.0015 || hi.abs() < 0.0015 {
                    continue;
                }
                if lo > 0.0 {
                    "supported"
                } else if hi < 0.0 {
                    "contradicted"
                } else {
                    "inconclusive"
                }
            } else {
                continue;
            };
        assert_eq!(
            verdict, expect,
            "{id}: {measured} under `{rule}` ({numbers})"
        );
    }
    // A level claim's measured accuracy is the one the accuracy table shows.
    let adam = rows
        .iter()
        .find(|r| r[0] == "adam_accuracy")
        .expect("adam_accuracy");
    let acc = table_rows(
        html,
        "Test accuracy and pairwise accuracy with 95% intervals over test questions; train accuracy over seeds",
    );
    let shown = acc
        .iter()
        .find(|r| {
            r[0] == "E5, hidden 64 (the study&#39;s setting)"
                || r[0] == "E5, hidden 64 (the study's setting)"
        })
        .filter(|r| r[1] == "adam")
        .or_else(|| {
            acc.iter()
                .find(|r| r[0].starts_with("E5, hidden 64") && r[1] == "adam")
        })
        .expect("Adam's row in the accuracy table");
    assert_eq!(
        shown[2], adam[3],
        "adam_accuracy measures what the table shows"
    );
    // Per-defect accuracy is shown for the five defect types.
    for d in ["off_topic", "non_answer", "vague", "partial", "wrong_fact"] {
        assert!(
            html.contains(&format!("<th>{d} (n=")),
            "no per-defect column for {d}"
        );
    }
}
