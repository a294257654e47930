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
    // Produced by qa-pipe at commit 0c3eff3 (before keys were computed once per plan),
    // and unchanged since.
    let want = [
        ("data", "2570da60607a6a90dddec26305b231b0"),
        ("features", "7978dc60f83d15b0e0b0b0f144df0880"),
        ("model/adam/seed=1", "ddafc7198cc0058eb2b1e83a0b321c37"),
        ("model/adam/seed=2", "c5e8642d3bdfbf3d2709aa849bbb78af"),
        ("model", "52fbad2c2b8e9b20880a4efdde7e5e0a"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, k)| (n.to_string(), k.to_string()))
        .collect();
    assert_eq!(got, want);
}
