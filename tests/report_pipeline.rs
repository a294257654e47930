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
        "optimizers_tfidf",
        "eval_optimizers",
        "eval_representation",
        "eval_size",
        "eval_depth",
        "tsne",
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
