//! The engine, driven through the real binary: caching, staleness, crashes, concurrency,
//! config errors, and the commands around them.

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use common::{status_of, statuses, Project};

#[test]
fn second_run_computes_nothing_and_leaves_artifacts_byte_identical() {
    let p = Project::new();
    let (code, v) = p.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0);
    assert!(statuses(&v).iter().all(|(_, s)| s == "ran"), "{v}");
    let before = p.objects();
    assert!(before.iter().any(|(f, _)| f.ends_with("train.parquet")));
    let (code, v) = p.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");
    assert_eq!(before, p.objects());
}

#[test]
fn changing_one_param_reruns_that_stage_and_its_dependents_only() {
    let p = Project::new();
    p.run(&["run", "pipelines/p.yaml"]).ok();
    p.write(
        "pipelines/p.yaml",
        &common::PIPELINE.replace("mode: joint", "mode: joint\n      max_features: 5"),
    );
    let status = p.run(&["status", "pipelines/p.yaml"]).ok();
    assert!(
        status
            .stdout
            .contains("stale  joint: param `max_features` changed from null to 5"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("fresh  features"),
        "{}",
        status.stdout
    );
    let (_, v) = p.run_json(&["pipelines/p.yaml"]);
    assert_eq!(
        statuses(&v),
        vec![
            ("data".into(), "cached".into()),
            ("features".into(), "cached".into()),
            ("joint".into(), "ran".into())
        ]
    );
}

#[test]
fn data_content_change_reruns_readers_but_touch_alone_does_not() {
    let p = Project::new();
    p.run(&["run", "pipelines/p.yaml"]).ok();
    let later = SystemTime::now() + Duration::from_secs(10);
    fs::File::options()
        .write(true)
        .open(p.path("data/test.csv"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (_, v) = p.run_json(&["pipelines/p.yaml"]);
    assert!(
        statuses(&v).iter().all(|(_, s)| s == "cached"),
        "touch made something stale: {v}"
    );

    p.write(
        "data/test.csv",
        &format!("{}Ay nedir?,Uydu.,+1\nAy nedir?,Yıldız.,-1\n", common::TEST),
    );
    let status = p.run(&["status", "pipelines/p.yaml"]).ok();
    assert!(
        status
            .stdout
            .contains("stale  data: input file data/test.csv changed"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("stale  features: upstream stage `data` changed"),
        "{}",
        status.stdout
    );
    let (_, v) = p.run_json(&["pipelines/p.yaml"]);
    assert!(statuses(&v).iter().all(|(_, s)| s == "ran"), "{v}");
}

#[test]
fn sigkill_mid_write_leaves_nothing_trusted_and_rerun_equals_clean_run() {
    let clean = Project::new();
    clean.run(&["run", "pipelines/p.yaml", "-j", "1"]).ok();

    let p = Project::new();
    let mut child = p
        .cmd(&["run", "pipelines/p.yaml", "-j", "1"])
        .env("QA_PIPE_TEST_PAUSE_MS", "20000")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first artifact's files are written but not yet published.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let tmp_has_files = fs::read_dir(p.path("artifacts/tmp"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|d| {
                fs::read_dir(d.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|f| f.file_name().to_string_lossy().ends_with(".parquet"))
            });
        if tmp_has_files {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        p.objects().is_empty(),
        "a half-written artifact was published"
    );

    let (code, v) = p.run_json(&["pipelines/p.yaml", "-j", "1"]);
    assert_eq!(code, 0);
    assert!(statuses(&v).iter().all(|(_, s)| s == "ran"), "{v}");
    let tables = |pr: &Project| {
        pr.objects()
            .into_iter()
            .filter(|(f, _)| f.ends_with(".parquet"))
            .collect::<Vec<_>>()
    };
    assert_eq!(tables(&p), tables(&clean));
    assert_eq!(
        fs::read_dir(p.path("artifacts/tmp")).unwrap().count(),
        0,
        "leftovers of the killed run remain"
    );
}

#[test]
fn corrupted_artifact_is_detected_and_recomputed() {
    let p = Project::new();
    p.run(&["run", "pipelines/p.yaml"]).ok();
    let file = p
        .artifact_dir("pipelines/p.yaml", "data")
        .join("train.parquet");
    let mut bytes = fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&file, bytes).unwrap();
    let status = p.run(&["status", "pipelines/p.yaml"]).ok();
    assert!(
        status
            .stdout
            .contains("stale  data: artifact corrupt (train.parquet checksum mismatch)"),
        "{}",
        status.stdout
    );
    let (_, v) = p.run_json(&["pipelines/p.yaml"]);
    assert_eq!(status_of(&v, "data"), "ran");
    assert_eq!(status_of(&v, "features"), "cached");
    let (_, v) = p.run_json(&["pipelines/p.yaml"]);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");
}

/// Issue 15.14: the runs start at the same moment on an empty store (this test used to
/// finish one run before starting the others, so they only ever found it cached).
#[test]
fn concurrent_runs_on_an_empty_store_leave_a_correct_cache() {
    let p = Project::new();
    let children: Vec<_> = (0..3)
        .map(|_| {
            p.cmd(&["run", "pipelines/p.yaml"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut computed = 0;
    for c in children {
        let r: common::Run = c.wait_with_output().unwrap().into();
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        computed += r.stderr.contains("3 computed") as usize;
    }
    // The store lock lets one of them compute and the others reuse its artifacts.
    assert_eq!(computed, 1, "exactly one run computed the stages");
    let (_, v) = p.run_json(&["pipelines/p.yaml"]);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");
    let status = p.run(&["status", "pipelines/p.yaml"]).ok();
    assert!(
        status.stdout.contains("0 of 3 stages would run"),
        "{}",
        status.stdout
    );
    let clean = Project::new();
    clean.run(&["run", "-q", "pipelines/p.yaml"]).ok();
    let tables = |pr: &Project| -> Vec<(String, String)> {
        pr.objects()
            .into_iter()
            .filter(|(f, _)| f.ends_with(".parquet"))
            .collect()
    };
    assert_eq!(tables(&p), tables(&clean));
}

#[test]
fn a_failed_stage_stops_only_its_dependents() {
    let p = Project::new();
    p.write("data/bad.csv", "soru,cevap,etiket\nA?,b,7\n");
    p.write(
        "pipelines/f.yaml",
        "stages:\n  good:\n    kind: ingest_csv\n    params: {train: data/train.csv, test: data/test.csv}\n  bad:\n    kind: ingest_csv\n    params: {train: data/bad.csv, test: data/test.csv}\n  bad_features:\n    kind: tfidf\n    inputs: [bad]\n  good_features:\n    kind: tfidf\n    inputs: [good]\n",
    );
    let (code, v) = p.run_json(&["pipelines/f.yaml"]);
    assert_eq!(code, 1);
    assert_eq!(status_of(&v, "good"), "ran");
    assert_eq!(status_of(&v, "good_features"), "ran");
    assert_eq!(status_of(&v, "bad"), "failed");
    assert_eq!(status_of(&v, "bad_features"), "skipped");
    let bad = v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "bad")
        .unwrap();
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("data/bad.csv: no usable rows"),
        "{bad}"
    );
}

#[test]
fn only_and_force_and_dry_run() {
    let p = Project::new();
    let (_, v) = p.run_json(&["pipelines/p.yaml", "--only", "features"]);
    assert_eq!(
        statuses(&v),
        vec![
            ("data".into(), "ran".into()),
            ("features".into(), "ran".into()),
            ("joint".into(), "not_selected".into())
        ]
    );
    let (_, v) = p.run_json(&["pipelines/p.yaml", "--dry-run"]);
    assert_eq!(status_of(&v, "joint"), "would_run");
    assert_eq!(status_of(&v, "data"), "cached");
    let (_, v) = p.run_json(&["pipelines/p.yaml", "--force", "data"]);
    assert!(
        statuses(&v).iter().all(|(_, s)| s == "ran"),
        "force reruns the stage and its dependents: {v}"
    );
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let a = Project::new();
    let b = Project::new();
    a.run(&["run", "pipelines/p.yaml", "-j", "1"]).ok();
    b.run(&["run", "pipelines/p.yaml", "-j", "2"]).ok();
    let tables = |pr: &Project| {
        pr.objects()
            .into_iter()
            .filter(|(f, _)| f.ends_with(".parquet"))
            .collect::<Vec<_>>()
    };
    assert_eq!(tables(&a), tables(&b));
}

#[test]
fn identical_stages_share_one_artifact_across_pipelines() {
    let p = Project::new();
    p.write("pipelines/q.yaml", "stages:\n  d:\n    kind: ingest_csv\n    params: {train: data/train.csv, test: data/test.csv}\n");
    p.run(&["run", "pipelines/p.yaml"]).ok();
    let (_, v) = p.run_json(&["pipelines/q.yaml"]);
    assert_eq!(status_of(&v, "d"), "cached");
}

#[test]
fn artifacts_open_in_a_standard_parquet_reader() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let p = Project::new();
    p.run(&["run", "pipelines/p.yaml"]).ok();
    let dir = p.artifact_dir("pipelines/p.yaml", "data");
    let r = SerializedFileReader::new(fs::File::open(dir.join("train.parquet")).unwrap()).unwrap();
    let meta = r.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 6);
    let cols: Vec<String> = meta
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| format!("{}:{:?}", c.name(), c.physical_type()))
        .collect();
    assert_eq!(
        cols,
        vec![
            "line:INT64",
            "question:BYTE_ARRAY",
            "answer:BYTE_ARRAY",
            "label:INT32",
            "group:INT32",
            "defect:BYTE_ARRAY"
        ]
    );
    let first = r
        .get_row_iter(None)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_string();
    assert!(
        first.contains("question: \"Türkiye'nin başkenti neresidir?\""),
        "{first}"
    );
}

#[test]
fn show_dag_and_gc() {
    let p = Project::new();
    p.run(&["run", "pipelines/p.yaml"]).ok();
    let show = p
        .run(&[
            "show",
            "features",
            "-p",
            "pipelines/p.yaml",
            "--table",
            "vocab",
            "--head",
            "3",
        ])
        .ok();
    assert!(show.stdout.contains("features / vocab:"), "{}", show.stdout);
    assert!(show.stdout.contains("| part"), "{}", show.stdout);

    let dot = p
        .run(&["dag", "pipelines/p.yaml", "--format", "dot"])
        .ok()
        .stdout;
    assert!(
        dot.contains("\"data\" -> \"features\" [label=\"data\"]"),
        "{dot}"
    );
    let mermaid = p
        .run(&["dag", "pipelines/p.yaml", "--format", "mermaid"])
        .ok()
        .stdout;
    assert!(
        mermaid.starts_with("flowchart LR") && mermaid.contains("s0 -->|data| s2"),
        "{mermaid}"
    );
    let text = p.run(&["dag", "pipelines/p.yaml"]).ok().stdout;
    assert_eq!(text.lines().next(), Some("data (ingest_csv)"));

    let nothing = p.run(&["gc"]).ok();
    assert!(
        nothing.stdout.starts_with("0 artifacts unreferenced"),
        "{}",
        nothing.stdout
    );
    p.write(
        "pipelines/p.yaml",
        &common::PIPELINE.replace(
            "  joint:\n    kind: tfidf\n    inputs: {data: data}\n    params:\n      mode: joint\n",
            "",
        ),
    );
    // The run above is in the log and keeps its artifacts by default; only the pipelines'.
    let dry = p.run(&["gc", "--dry-run", "--keep-runs", "0"]).ok();
    assert!(
        dry.stdout
            .starts_with("1 artifacts unreferenced, would free"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        p.objects()
            .iter()
            .filter(|(f, _)| f.ends_with("manifest.json"))
            .count(),
        3
    );
    let gc = p.run(&["gc", "--keep-runs", "0"]).ok();
    assert!(
        gc.stdout.starts_with("1 artifacts unreferenced, freed"),
        "{}",
        gc.stdout
    );
    assert_eq!(
        p.objects()
            .iter()
            .filter(|(f, _)| f.ends_with("manifest.json"))
            .count(),
        2
    );
    let (_, v) = p.run_json(&["pipelines/p.yaml"]);
    assert!(
        statuses(&v).iter().all(|(_, s)| s == "cached"),
        "gc removed a live artifact: {v}"
    );
}

#[test]
fn ingest_reports_bad_rows_and_leakage() {
    let p = Project::new();
    p.write(
        "data/test.csv",
        &format!(
            "{}Suyun formülü nedir?,H2O,+1\nX?,\"a\",maybe\n",
            common::TEST
        ),
    );
    let r = p.run(&["run", "pipelines/p.yaml", "--only", "data"]).ok();
    assert!(
        r.stderr
            .contains("data/test.csv:5: row rejected: label `maybe` is not +1, 1 or -1"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("data/test.csv:4: test question also in train (data/train.csv:4)"),
        "{}",
        r.stderr
    );
    let rej = p
        .run(&[
            "show",
            "data",
            "-p",
            "pipelines/p.yaml",
            "--table",
            "rejects",
        ])
        .ok();
    assert!(rej.stdout.contains("rejects: 1 rows"), "{}", rej.stdout);
}

/// Config errors: each points at file:line:column with a caret, says what to do, exits 2.
fn config_error(pipeline: &str, files: &[(&str, &str)]) -> String {
    let p = Project::new();
    for (f, t) in files {
        p.write(f, t);
    }
    p.write("pipelines/e.yaml", pipeline);
    let r = p.run(&["run", "pipelines/e.yaml"]);
    assert_eq!(r.code, 2, "stdout:{}\nstderr:{}", r.stdout, r.stderr);
    assert!(p.objects().is_empty());
    r.stderr
}

const DATA: &str = "  data:\n    kind: ingest_csv\n    params:\n      train: data/train.csv\n      test: data/test.csv\n";

#[test]
fn error_yaml_syntax() {
    let e = config_error("stages:\n  a: [1, 2\n", &[]);
    assert!(e.contains("YAML syntax error"), "{e}");
    assert!(
        e.contains("--> pipelines/e.yaml:3:1") || e.contains("--> pipelines/e.yaml:2:"),
        "{e}"
    );
}

#[test]
fn error_unknown_kind_suggests_nearest() {
    let e = config_error(
        &format!("stages:\n{DATA}  f:\n    kind: tfidff\n    inputs: [data]\n"),
        &[],
    );
    assert!(e.contains("unknown stage kind `tfidff`"), "{e}");
    assert!(e.contains("--> pipelines/e.yaml:8:11"), "{e}");
    assert!(
        e.contains("8 |     kind: tfidff\n  |           ^^^^^^"),
        "{e}"
    );
    assert!(e.contains("did you mean `tfidf`?"), "{e}");
}

#[test]
fn error_unknown_param_points_at_its_name() {
    let e = config_error(&format!("stages:\n{DATA}  f:\n    kind: tfidf\n    inputs: [data]\n    params:\n      max_featres: 3\n"), &[]);
    assert!(
        e.contains("unknown param `max_featres` for stage `f` (kind `tfidf`)"),
        "{e}"
    );
    assert!(e.contains("--> pipelines/e.yaml:11:7"), "{e}");
    assert!(e.contains("did you mean `max_features`?"), "{e}");
}

/// Regression (issue 13): every figure type shared one options struct, so `rows:` (a
/// heatmap option) on an `optimizers` figure was accepted and ignored.
#[test]
fn error_figure_option_of_another_figure_type_points_at_it() {
    let e = config_error(
        &format!(
            "stages:\n{DATA}  p:\n    kind: plot\n    inputs: {{curves: data}}\n    params:\n      figures:\n        - name: o\n          type: optimizers\n          from: curves\n          rows: hidden\n"
        ),
        &[],
    );
    assert!(
        e.contains("unknown param `rows` for stage `p` (kind `plot`)"),
        "{e}"
    );
    assert!(e.contains("--> pipelines/e.yaml:15:11"), "{e}");
    assert!(
        e.contains("known params: name, from, title, optimizers, index, table"),
        "{e}"
    );
}

#[test]
fn error_mistyped_param_points_at_its_value() {
    let e = config_error(&format!("stages:\n{DATA}  f:\n    kind: tfidf\n    inputs: [data]\n    params:\n      max_features: lots\n"), &[]);
    assert!(
        e.contains("invalid value for param `max_features` of stage `f`"),
        "{e}"
    );
    assert!(e.contains("--> pipelines/e.yaml:11:21"), "{e}");
}

#[test]
fn error_missing_param() {
    let e = config_error(
        "stages:\n  data:\n    kind: ingest_csv\n    params:\n      train: data/train.csv\n",
        &[],
    );
    assert!(
        e.contains("missing param `test` for stage `data` (kind `ingest_csv`)"),
        "{e}"
    );
    assert!(e.contains("--> pipelines/e.yaml:5:7"), "{e}");
}

#[test]
fn error_unknown_stage_reference() {
    let e = config_error(
        &format!("stages:\n{DATA}  f:\n    kind: tfidf\n    inputs: [dta]\n"),
        &[],
    );
    assert!(e.contains("stage `f` reads unknown stage `dta`"), "{e}");
    assert!(e.contains("--> pipelines/e.yaml:9:14"), "{e}");
    assert!(e.contains("did you mean `data`?"), "{e}");
}

#[test]
fn error_cycle_names_its_stages() {
    let e = config_error(&format!("stages:\n{DATA}  a:\n    kind: tfidf\n    inputs: [b]\n  b:\n    kind: tfidf\n    inputs: [a]\n"), &[]);
    assert!(e.contains("the stages form a cycle: a -> b -> a"), "{e}");
    assert!(e.contains("--> pipelines/e.yaml:7:3"), "{e}");
}

#[test]
fn error_duplicate_stage_names() {
    let e = config_error(&format!("stages:\n{DATA}{DATA}"), &[]);
    assert!(
        e.contains("`data` is defined twice (first defined at line 2)"),
        "{e}"
    );
    assert!(e.contains("--> pipelines/e.yaml:7:3"), "{e}");
}

#[test]
fn error_missing_preset_file() {
    let e = config_error(
        &format!("stages:\n{DATA}  f:\n    use: tfdf\n    inputs: [data]\n"),
        &[],
    );
    assert!(e.contains("preset `tfdf` not found"), "{e}");
    assert!(e.contains("--> pipelines/e.yaml:8:10"), "{e}");
    assert!(e.contains("did you mean `tfidf`?"), "{e}");
}

#[test]
fn error_missing_data_file() {
    let e = config_error("stages:\n  data:\n    kind: ingest_csv\n    params:\n      train: data/nope.csv\n      test: data/test.csv\n", &[]);
    assert!(
        e.contains("stage `data`: file `data/nope.csv` does not exist"),
        "{e}"
    );
    assert!(e.contains("--> pipelines/e.yaml:5:14"), "{e}");
}

#[test]
fn error_in_a_preset_points_into_the_preset() {
    let e = config_error(
        &format!("stages:\n{DATA}  f:\n    use: broken\n    inputs: [data]\n"),
        &[(
            "stages/broken.yaml",
            "kind: tfidf\nparams:\n  mode: sideways\n",
        )],
    );
    assert!(e.contains("unknown mode `sideways`"), "{e}");
    assert!(
        e.contains("--> stages/broken.yaml:3:9") || e.contains("broken.yaml:3:9"),
        "{e}"
    );
}

/// Issue 15.10: a param given over a preset was validated with the whole run config and
/// reported at the preset's optimizer list; it belongs at the pipeline's own value.
#[test]
fn error_in_a_param_over_a_preset_points_at_the_pipelines_param() {
    let preset = (
        "stages/train-study.yaml",
        "kind: train\nparams:\n  hidden: 4\n  optimizers: [gd, sgd]\n  epochs: 2\n  batch_size: 32\n",
    );
    let e = config_error(
        &format!(
            "stages:\n{DATA}  f:\n    kind: tfidf\n    inputs: [data]\n  t:\n    use: train-study\n    inputs: [f]\n    params:\n      batch_size: 0\n"
        ),
        &[preset],
    );
    assert!(e.contains("batch_size must be at least 1"), "{e}");
    assert!(e.contains("--> pipelines/e.yaml:14:19"), "{e}");
    assert!(!e.contains("train-study.yaml"), "{e}");
}

/// Issue 15.10: `epochs: 0` was accepted (train and sweep) and trained nothing.
#[test]
fn error_zero_epochs_is_rejected_in_train_and_sweep() {
    let stages = format!("stages:\n{DATA}  f:\n    kind: tfidf\n    inputs: [data]\n");
    let e = config_error(
        &format!("{stages}  t:\n    kind: train\n    inputs: [f]\n    params:\n      epochs: 0\n"),
        &[],
    );
    assert!(e.contains("epochs must be at least 1"), "{e}");
    assert!(e.contains("--> pipelines/e.yaml:14:15"), "{e}");
    let e = config_error(
        &format!("{stages}  s:\n    kind: sweep\n    inputs: [f]\n    params:\n      base: {{hidden: [4], epochs: 0}}\n      grid: {{lr: [0.1, 0.01]}}\n"),
        &[],
    );
    assert!(e.contains("epochs must be at least 1"), "{e}");
    assert!(e.contains("--> pipelines/e.yaml:14:35"), "{e}");
    let e = config_error(
        &format!("{stages}  s:\n    kind: sweep\n    inputs: [f]\n    params:\n      base: {{hidden: [4]}}\n      grid: {{epochs: [3, 0]}}\n"),
        &[],
    );
    assert!(e.contains("epochs must be at least 1"), "{e}");
    assert!(e.contains("--> pipelines/e.yaml:15:"), "{e}");
}

#[test]
fn error_unknown_variable() {
    let e = config_error(&format!("vars:\n  seeds: [1]\nstages:\n{DATA}  f:\n    kind: tfidf\n    inputs: [data]\n    params:\n      max_features: ${{seed}}\n"), &[]);
    assert!(e.contains("unknown variable `seed`"), "{e}");
    assert!(e.contains("did you mean `seeds`?"), "{e}");
}

#[test]
fn variables_substitute_and_override() {
    let p = Project::new();
    let (code, v) = p.run_json(&["pipelines/p.yaml", "--var", "mode=joint"]);
    assert_eq!(code, 0);
    // With mode=joint the two tfidf stages are identical and share a key.
    let keys: Vec<&str> = v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys[1], keys[2]);
}
