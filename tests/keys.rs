//! Golden keys: the keys of a fixed pipeline on fixed data, pinned. Key material (kind,
//! version, canonical params with defaults, upstream keys, file contents) is what decides
//! what reruns and what is shared across pipelines; an unintended change to any of it (a
//! new default, a serde rename, a different JSON canonicalisation) fails here loudly.
//! An intended change (a kind's version bump) updates the value below, saying why.

mod common;

use common::Project;

const PIPELINE: &str = "\
stages:
  data:
    kind: ingest_csv
    params: {train: data/train.csv, test: data/test.csv}
  features:
    kind: tfidf
    inputs: [data]
    params: {mode: joint}
  model:
    kind: train
    inputs: [features]
    params: {optimizers: [adam], seeds: [1, 2], epochs: 3, hidden: 4}
";

#[test]
fn keys_of_a_fixed_pipeline_are_pinned() {
    let p = Project::new();
    p.write("pipelines/g.yaml", PIPELINE);
    let r = p.run(&["jobs", "pipelines/g.yaml", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let got: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let name = match j["unit"].as_str() {
                Some(u) => format!("{}/{u}", j["stage"].as_str().unwrap()),
                None => j["stage"].as_str().unwrap().to_string(),
            };
            (name, j["key"].as_str().unwrap().to_string())
        })
        .collect();
    // The keys qa-pipe at commit 0c3eff3 gave (data 2570da60..., features 7978dc60...,
    // model 52fbad2c...) were kept by the one-keyed-plan refactor bit for bit. Changed on
    // purpose since: ingest_csv version 3 with its new `defect_column` and `encoding` params
    // (the defect column, the linear reader) and tfidf version 2 (Turkish case folding),
    // which moves every key downstream of them.
    let want = [
        ("data", "349d8e5c9fc21fcb3e4ca655498dd0e3"),
        ("features", "c47d99bb62f292a14e49cd82a3158c72"),
        ("model/adam/seed=1", "2835d7934261c6ed286afb85f65ec757"),
        ("model/adam/seed=2", "d19d27c0bb753c45eefac4d0821b5b22"),
        ("model", "67ec97a4a3502a4063af61337b126916"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, k)| (n.to_string(), k.to_string()))
        .collect();
    assert_eq!(got, want);
}
