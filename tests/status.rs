//! `qa-pipe status` after edits, through the real binary.

mod common;
mod e5_support;

use common::Project;

const PIPELINE: &str = "\
stages:
  data:
    kind: ingest_csv
    params: {train: data/train.csv, test: data/test.csv}
  e5:
    use: e5
    inputs: [data]
  tfidf:
    use: tfidf
    inputs: [data]
  model:
    kind: train
    inputs: {features: e5}
    params: {optimizers: [sgd], seeds: [1], epochs: 2, hidden: 2}
";

/// Issue 15, item 4: after the README's one-line swap `e5: use: e5` -> `use: tfidf`, stage
/// `e5` now has the key of stage `tfidf` (same kind, params and input). `status` showed `e5`
/// as fresh without a word and blamed `model`'s staleness on "upstream stage `tfidf`" (the
/// key -> name lookup picked the other stage with that key). It must name `e5` and why.
#[test]
fn status_after_swapping_e5_for_tfidf_names_the_swapped_stage_and_its_kind_change() {
    let Some(model) = e5_support::e5_small() else {
        return;
    };
    let p = Project::new();
    let preset = std::fs::read_to_string(e5_support::root().join("stages/e5.yaml")).unwrap();
    p.write(
        "stages/e5.yaml",
        &preset.replace("models/multilingual-e5-small", &model.display().to_string()),
    );
    p.write("pipelines/p.yaml", PIPELINE);
    p.run(&["run", "pipelines/p.yaml"]).ok();
    p.write(
        "pipelines/p.yaml",
        &PIPELINE.replace("  e5:\n    use: e5", "  e5:\n    use: tfidf"),
    );
    let out = p.run(&["status", "pipelines/p.yaml"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            " fresh  data",
            " fresh  tfidf",
            " fresh  e5: kind changed from `e5` to `tfidf`; its new key (the key of stage \
             `tfidf`) is already in the store",
            " stale  model: upstream stage `e5` changed",
            "1 of 4 stages would run",
        ],
        "{out}"
    );
}
