//! `run` again with nothing changed is recognized by stat alone (src/unchanged.rs): it must
//! print and record what a planned run prints and records, and must never be taken after
//! a change that planning would see, whatever the change does to mtimes.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{report_project, Project, Run};

/// Files written within the racy window are not recorded (ctime cannot be set back), so
/// each check first lets the last run's files age past it.
fn wait_out_racy_window() {
    std::thread::sleep(Duration::from_millis(2100));
}

fn unchanged(r: &Run) -> bool {
    r.stderr.contains("unchanged")
}

/// The lines of a run's stderr without what differs between two runs of the same state:
/// the wall time and run id of the summary, and the `-v` line of the shortcut itself.
fn comparable(stderr: &str) -> Vec<String> {
    let mut lines: Vec<String> = stderr
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("unchanged") && !l.trim_start().starts_with("running")
        })
        .map(|l| match l.find(" failed in ") {
            Some(at) => l[..at].to_string(),
            None => l.to_string(),
        })
        .collect();
    // The scheduler finishes cached stages in whatever order its workers take them.
    lines.sort();
    lines
}

/// Overwrites `rel` with `text` of the same length and puts its mtime back, as `cp -p`,
/// `rsync -a` or `tar x` would.
fn rewrite_keeping_mtime(p: &Project, rel: &str, text: &str) {
    let path = p.path(rel);
    let before = fs::metadata(&path).unwrap();
    assert_eq!(before.len() as usize, text.len(), "same size");
    fs::write(&path, text).unwrap();
    set_mtime(&path, before.modified().unwrap());
}

fn set_mtime(path: &Path, t: SystemTime) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(t).unwrap();
}

fn run_log(p: &Project) -> Vec<serde_json::Value> {
    p.read("artifacts/runs/log.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_run_with_nothing_changed_prints_and_records_what_a_planned_run_does() {
    let p = report_project();
    p.run(&["run", "pipelines/r.yaml"]).ok();
    wait_out_racy_window();
    let planned = p.run(&["run", "-v", "pipelines/r.yaml"]).ok();
    assert!(!unchanged(&planned), "{}", planned.stderr);
    let again = p.run(&["run", "-v", "pipelines/r.yaml"]).ok();
    assert!(unchanged(&again), "{}", again.stderr);
    assert_eq!(again.stdout, planned.stdout, "the report's path");
    assert!(planned.stdout.contains("report: "), "{}", planned.stdout);
    assert_eq!(comparable(&again.stderr), comparable(&planned.stderr));
    assert!(
        planned.stderr.contains("metrics"),
        "the train stage's headline metrics: {}",
        planned.stderr
    );
    // The run log holds the same record for both, but for the time, id and commit.
    let log = run_log(&p);
    assert_eq!(log.len(), 3);
    for field in [
        "pipeline",
        "name",
        "pipeline_hash",
        "vars",
        "ok",
        "stages",
        "metrics",
    ] {
        assert_eq!(log[1][field], log[2][field], "{field}");
    }
    assert!(log[2]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "cached"));
    // Quiet, it prints only the report's path, as a planned quiet run does.
    let quiet = p.run(&["run", "-q", "pipelines/r.yaml"]).ok();
    assert_eq!(quiet.stdout, planned.stdout);
    assert_eq!(quiet.stderr, "");
}

/// Each change planning would see, made so that only ctime (or a new file) shows it: the next
/// run must plan, and compute what the change made stale.
#[test]
fn a_change_that_planning_would_see_is_never_taken_for_an_unchanged_run() {
    let p = Project::new();
    let run = |args: &[&str]| p.run(&[&["run", "-v", "pipelines/p.yaml"], args].concat());
    // A run after one with other keys (`--var`) rewrites the `status` state, which is then
    // too fresh to record: the run after that records.
    let recorded = |before: &str| {
        let mut last = String::new();
        for _ in 0..2 {
            wait_out_racy_window();
            run(&[]).ok();
            let r = run(&[]).ok();
            if unchanged(&r) {
                return;
            }
            last = r.stderr;
        }
        panic!("the record holds before {before}: {last}");
    };
    let computes = |r: &Run, stage: &str| r.stderr.contains(&format!("done {stage} in"));

    // An input file edited with its size and mtime kept.
    p.run(&["run", "pipelines/p.yaml"]).ok();
    recorded("an input edit");
    let train = p.read("data/train.csv").replacen("Ankara", "ANKARA", 1);
    rewrite_keeping_mtime(&p, "data/train.csv", &train);
    let r = run(&[]).ok();
    assert!(!unchanged(&r) && computes(&r, "data"), "{}", r.stderr);

    // A preset the pipeline uses.
    recorded("a preset edit");
    let preset = p
        .read("stages/tfidf.yaml")
        .replace("  bias: true\n", "  bias: false");
    rewrite_keeping_mtime(&p, "stages/tfidf.yaml", &preset);
    let r = run(&[]).ok();
    assert!(!unchanged(&r) && computes(&r, "features"), "{}", r.stderr);

    // An artifact's table damaged in place.
    recorded("a damaged table");
    let table = p
        .artifact_dir("pipelines/p.yaml", "joint")
        .join("train.parquet");
    let mut bytes = fs::read(&table).unwrap();
    let mtime = fs::metadata(&table).unwrap().modified().unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&table, &bytes).unwrap();
    set_mtime(&table, mtime);
    let r = run(&[]).ok();
    assert!(!unchanged(&r) && computes(&r, "joint"), "{}", r.stderr);

    // An artifact removed (as `gc` would).
    recorded("a removed artifact");
    fs::remove_dir_all(p.artifact_dir("pipelines/p.yaml", "features")).unwrap();
    let r = run(&[]).ok();
    assert!(!unchanged(&r) && computes(&r, "features"), "{}", r.stderr);

    // The memo of verified tables removed: planned, every table hashed again.
    recorded("removing verified.memo");
    fs::remove_file(p.path("artifacts/state/verified.memo")).unwrap();
    let r = run(&[]).ok();
    assert!(
        !unchanged(&r) && r.stderr.contains("0 computed"),
        "{}",
        r.stderr
    );
    assert!(p.path("artifacts/state/verified.memo").is_file());

    // The pipeline edited without changing any key: planned, everything cached.
    recorded("a pipeline edit");
    let text = p.read("pipelines/p.yaml");
    p.write("pipelines/p.yaml", &format!("{text}# a comment\n"));
    let r = run(&[]).ok();
    assert!(
        !unchanged(&r) && r.stderr.contains("0 computed"),
        "{}",
        r.stderr
    );

    // Another command line: a variable, a --set.
    recorded("a --var");
    let r = run(&["--var", "mode=joint"]).ok();
    assert!(!unchanged(&r), "{}", r.stderr);
    recorded("a --set");
    let r = p
        .run(&[
            "run",
            "-v",
            "pipelines/p.yaml",
            "--set",
            "joint.max_features=5",
        ])
        .ok();
    assert!(!unchanged(&r) && computes(&r, "joint"), "{}", r.stderr);

    // A file added beside an input: conservatively planned.
    recorded("a file added beside an input");
    p.write("data/notes.txt", "new");
    let r = run(&[]).ok();
    assert!(!unchanged(&r), "{}", r.stderr);
}

/// Runs of part of the pipeline neither use nor replace the record; a run with a failed stage
/// removes it.
#[test]
fn only_a_whole_successful_run_is_recorded() {
    let p = Project::new();
    p.run(&["run", "pipelines/p.yaml"]).ok();
    wait_out_racy_window();
    p.run(&["run", "pipelines/p.yaml"]).ok();
    let record = p.path("artifacts/state/p.unchanged");
    assert!(record.is_file());
    // --only and --dry-run neither use nor replace it.
    let only = p
        .run(&["run", "-v", "pipelines/p.yaml", "--only", "data"])
        .ok();
    assert!(!unchanged(&only), "{}", only.stderr);
    let dry = p.run(&["run", "-v", "--dry-run", "pipelines/p.yaml"]).ok();
    assert!(!unchanged(&dry), "{}", dry.stderr);
    assert!(record.is_file());
    // A failing run removes it.
    p.write("data/test.csv", "soru,cevap\nbad,\n");
    let failed = p.run(&["run", "pipelines/p.yaml"]);
    assert_ne!(failed.code, 0, "{}", failed.stderr);
    assert!(!record.exists(), "{}", failed.stderr);
}
