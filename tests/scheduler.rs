//! The scheduler, driven through the real binary with timestamps on its progress lines:
//! a stage is done as soon as its own units and combine step are, whatever other stages'
//! units are running, and the critical path (the stages with the longest chain of
//! dependents) is served first.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use common::Project;

/// A training set large enough for each epoch to take measurable time: `n` questions
/// with a good and a bad answer each, drawn from a fixed word list (a small LCG, so the
/// data is the same on every machine).
fn qa_rows(n: usize, seed: u64) -> String {
    let mut s = seed;
    let mut word = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        format!("w{}", (s >> 33) % 300)
    };
    let mut out = String::from("soru,cevap,etiket\n");
    for _ in 0..n {
        let q: Vec<String> = (0..8).map(|_| word()).collect();
        for label in ["+1", "-1"] {
            let a: Vec<String> = (0..8).map(|_| word()).collect();
            out.push_str(&format!("{}?,{},{label}\n", q.join(" "), a.join(" ")));
        }
    }
    out
}

fn project(pipeline: &str) -> Project {
    let p = Project::new();
    p.write("data/train.csv", &qa_rows(100, 1));
    p.write("data/test.csv", &qa_rows(20, 2));
    p.write("pipelines/s.yaml", pipeline);
    p
}

/// `qa-pipe run -v` with each stderr line and the seconds since start when it arrived.
fn timed_run(p: &Project, args: &[&str]) -> Vec<(f64, String)> {
    let mut all = vec!["run", "-v"];
    all.extend_from_slice(args);
    let t0 = Instant::now();
    let mut child = p
        .cmd(&all)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map(|l| (t0.elapsed().as_secs_f64(), l.unwrap().trim().to_string()))
        .collect::<Vec<_>>();
    assert!(child.wait().unwrap().success(), "{lines:#?}");
    lines
}

fn first(lines: &[(f64, String)], prefix: &str) -> usize {
    lines
        .iter()
        .position(|(_, l)| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}: {lines:#?}"))
}

const FEATURES: &str = "\
stages:
  data:
    kind: ingest_csv
    params: {train: data/train.csv, test: data/test.csv}
  features:
    kind: tfidf
    inputs: [data]
";

/// Issue 15, item 11: stage `a`'s last unit finished while stages `c` and `d` still had
/// long units queued, and `a` was reported done only after them: the worker waiting for
/// `a`'s units had stolen one of their units (nested rayon work stealing). In a cold run of
/// report.yaml, `optimizers` was reported done at 30.8 s though its last unit finished at
/// 13.7 s.
#[test]
fn stage_is_done_when_its_own_units_are_not_after_other_stages_units() {
    let p = project(&format!(
        "{FEATURES}
  a:
    kind: train
    inputs: [features]
    params: {{optimizers: [sgd, adam], seeds: [1, 2, 3], epochs: 60}}
  c:
    kind: train
    inputs: [features]
    params: {{optimizers: [sgd], seeds: [4, 5], epochs: 1000}}
  d:
    kind: train
    inputs: [features]
    params: {{optimizers: [sgd], seeds: [6, 7], epochs: 1000}}
"
    ));
    let lines = timed_run(&p, &["-j", "2", "pipelines/s.yaml"]);
    let done_a = first(&lines, "done a in");
    let last_unit_a = lines
        .iter()
        .rposition(|(_, l)| l.starts_with("unit a ["))
        .unwrap();
    // How long one long unit of `c` or `d` computed (from its manifest).
    let long_unit = unit_durations(&p, &["c", "d"])
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    let gap = lines[done_a].0 - lines[last_unit_a].0;
    assert!(
        gap < long_unit / 2.0,
        "`a` was reported done {gap:.2} s after its last unit, waiting behind other \
         stages' units ({long_unit:.2} s each): {lines:#?}"
    );
    // Its recorded duration runs from its first unit's start to its combine's end, so it
    // is no longer than the time between its progress lines (plus pipe latency).
    let start_a = first(&lines, "running a");
    let wall = lines[done_a].0 - lines[start_a].0;
    let reported = seconds(&lines[done_a].1);
    assert!(
        reported <= wall + 0.5,
        "{reported} s vs {wall} s: {lines:#?}"
    );
}

/// The computing time recorded in the manifests of the units of `stages`.
fn unit_durations(p: &Project, stages: &[&str]) -> Vec<f64> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p.path("artifacts/objects")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path().join("manifest.json")).unwrap();
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        if m["unit"].is_string() && stages.contains(&m["stage"].as_str().unwrap()) {
            out.push(m["duration_s"].as_f64().unwrap());
        }
    }
    assert!(!out.is_empty());
    out
}

/// The duration in a `done STAGE in 1.2 s` / `in 340 ms` line, in seconds.
fn seconds(line: &str) -> f64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "in").unwrap();
    let v: f64 = words[at + 1].parse().unwrap();
    if words[at + 2] == "ms" {
        v / 1000.0
    } else {
        v
    }
}

/// With one worker, the units of the stage that others wait for go first: `y` feeds
/// `y_eval`, `x` feeds nothing, so `y`'s units run before `x`'s though `x` is written first.
#[test]
fn the_stage_with_the_longest_chain_of_dependents_goes_first() {
    let p = project(&format!(
        "{FEATURES}
  x:
    kind: train
    inputs: [features]
    params: {{optimizers: [sgd], seeds: [1, 2, 3], epochs: 5}}
  y:
    kind: train
    inputs: [features]
    params: {{optimizers: [sgd], seeds: [4, 5, 6], epochs: 5}}
  y_eval:
    kind: evaluate
    inputs: {{runs: [y]}}
"
    ));
    let lines = timed_run(&p, &["-j", "1", "pipelines/s.yaml"]);
    let last_y = lines
        .iter()
        .rposition(|(_, l)| l.starts_with("unit y ["))
        .unwrap();
    assert!(
        last_y < first(&lines, "unit x ["),
        "x's units ran before y's: {lines:#?}"
    );
}
