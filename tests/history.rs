//! Issue 11, experiment history: every `run` appends a record to the run log, `runs` and
//! `diff` compare runs, `report --compare` overlays two runs' curves, `--set` overrides a
//! param (errors located), and `gc` keeps what the pipelines, the last runs and the pins
//! reference, deciding under the store lock. All through the real binary, on a pipeline
//! small enough to run in about a second.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Project, Run};
use serde_json::Value;

/// data -> features -> train (two units per seed) -> eval -> report.
const PIPELINE: &str = "\
vars:
  seeds: [1]
  epochs: 2
stages:
  data:
    kind: ingest_csv
    params: {train: data/train.csv, test: data/test.csv}
  features:
    kind: tfidf
    inputs: [data]
  train:
    kind: train
    inputs: [features]
    params:
      hidden: 4
      optimizers: [sgd, adam]
      seeds: ${seeds}
      epochs: ${epochs}
      batch_size: 2
  eval:
    kind: evaluate
    inputs: {runs: [train], data: data}
    params: {resamples: 200, permutations: 99}
  report:
    kind: report
    inputs: {metrics: [train]}
";

fn project() -> Project {
    let p = Project::new();
    // The shared fixture's pipeline is another pipeline under pipelines/ with its own keys;
    // these tests are about this one.
    fs::remove_file(p.path("pipelines/p.yaml")).unwrap();
    p.write("pipelines/h.yaml", PIPELINE);
    // Three test questions, so evaluate's bootstrap over questions has an interval.
    p.write(
        "data/test.csv",
        &format!("{}Suyun kaynama noktası?,100 derece,+1\nSuyun kaynama noktası?,50 derece,-1\nBir yıl kaç ay?,12,+1\nBir yıl kaç ay?,7,-1\n", common::TEST),
    );
    p
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("bad json ({e}):\n{}\n{}", r.stdout, r.stderr))
}

/// Every stage key of a `run --json` document.
fn stage_keys(v: &Value) -> Vec<String> {
    v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_string())
        .collect()
}

fn objects(p: &Project) -> BTreeSet<String> {
    fs::read_dir(p.path("artifacts/objects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn key_of(v: &Value, stage: &str) -> String {
    v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .unwrap_or_else(|| panic!("no stage {stage}"))["key"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Issue 11's reproduction: `run --var 'seeds=[3]' & sleep 3; gc` deleted the 59 artifacts
/// that run made, its report included, while it was still running, since gc kept only
/// what the pipelines reference with their default variables (and decided before taking
/// the lock). Now gc waits for the run's lock, and the run's record in the log keeps its
/// artifacts.
#[test]
fn r11_gc_during_a_run_with_var_keeps_that_runs_artifacts() {
    let p = project();
    // Each published artifact pauses the run, so gc starts while it is in progress.
    let child = p
        .cmd(&["run", "--json", "pipelines/h.yaml", "--var", "seeds=[3]"])
        .env("QA_PIPE_TEST_PAUSE_MS", "150")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(p.path("artifacts/.lock.owner")).is_ok_and(|o| o.contains(&pid)) {
        assert!(Instant::now() < deadline, "the run never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let gc = p.run(&["gc"]).ok();
    let run: Run = child.wait_with_output().unwrap().into();
    let run = run.ok();
    let v = json(&run);
    let have = objects(&p);
    let lost: Vec<String> = stage_keys(&v)
        .into_iter()
        .filter(|k| !have.contains(k))
        .collect();
    assert!(
        lost.is_empty(),
        "gc removed {} of the run's artifacts ({lost:?}); gc said: {}",
        lost.len(),
        gc.stdout
    );
    let report = p.path(&format!(
        "artifacts/objects/{}/report.html",
        key_of(&v, "report")
    ));
    assert!(report.is_file(), "the run's report is gone");
    // And the run is still fully cached.
    let (code, again) = p.run_json(&["pipelines/h.yaml", "--var", "seeds=[3]"]);
    assert_eq!(code, 0);
    assert!(
        common::statuses(&again).iter().all(|(_, s)| s == "cached"),
        "{again}"
    );
}

#[test]
fn a_pinned_run_survives_gc_with_keep_runs_0_and_unpinned_it_does_not() {
    let p = project();
    let first = json(
        &p.run(&["run", "--json", "pipelines/h.yaml", "--var", "epochs=3"])
            .ok(),
    );
    let id = first["run"].as_str().unwrap().to_string();
    p.run(&["run", "-q", "pipelines/h.yaml"]).ok();
    let pinned = p.run(&["pin", &id[..5], "--name", "baseline"]).ok();
    assert_eq!(pinned.stdout.trim(), format!("pinned run {id} as baseline"));
    let runs = p.run(&["runs"]).ok().stdout;
    assert!(runs.contains(&format!("{id} (baseline)")), "{runs}");

    p.run(&["gc", "--keep-runs", "0"]).ok();
    let have = objects(&p);
    for k in stage_keys(&first) {
        assert!(have.contains(&k), "gc removed the pinned run's {k}");
    }
    // The pin's name names the run.
    let d = json(&p.run(&["diff", "baseline", "last", "--json"]).ok());
    assert_eq!(d["a"], id.as_str());

    p.run(&["unpin", "baseline"]).ok();
    let gc = p.run(&["gc", "--keep-runs", "0"]).ok();
    // Its two training units, train, eval and report (data and features are the pipeline's).
    assert!(
        gc.stdout.starts_with("5 artifacts unreferenced"),
        "{}",
        gc.stdout
    );
    let have = objects(&p);
    assert!(!have.contains(&key_of(&first, "train")));
    // The default pipeline's artifacts stay.
    let (_, v) = p.run_json(&["pipelines/h.yaml"]);
    assert!(
        common::statuses(&v).iter().all(|(_, s)| s == "cached"),
        "{v}"
    );
}

#[test]
fn a_killed_runs_torn_record_breaks_neither_runs_nor_gc() {
    let p = project();
    p.run(&["run", "-q", "pipelines/h.yaml"]).ok();
    // A run killed in the middle: it records nothing, and leaves what it published.
    let mut child = p
        .cmd(&["run", "pipelines/h.yaml", "--var", "epochs=5"])
        .env("QA_PIPE_TEST_PAUSE_MS", "20000")
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    // A writer killed while appending leaves a torn last line, without its newline.
    let log = p.path("artifacts/runs/log.jsonl");
    let whole = fs::read_to_string(&log).unwrap();
    let first = whole.lines().next().unwrap().to_string();
    let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&first.as_bytes()[..first.len() / 2]).unwrap();
    drop(f);

    let runs = p.run(&["runs", "pipelines/h.yaml"]).ok();
    assert_eq!(
        runs.stdout.lines().count(),
        2,
        "header and one run:\n{}",
        runs.stdout
    );
    assert!(
        runs.stderr.contains("1 unreadable line(s)"),
        "{}",
        runs.stderr
    );
    let listed = json(&p.run(&["runs", "--json"]).ok());
    assert_eq!(listed.as_array().unwrap().len(), 1);
    p.run(&["gc"]).ok();

    // The next record starts on a line of its own, so the torn one costs only itself.
    p.run(&["run", "-q", "pipelines/h.yaml", "--var", "epochs=3"])
        .ok();
    let listed = json(&p.run(&["runs", "--json"]).ok());
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'));
}

#[test]
fn runs_shows_the_param_that_changed_as_a_column() {
    let p = project();
    p.run(&["run", "-q", "pipelines/h.yaml"]).ok();
    p.run(&["run", "-q", "pipelines/h.yaml", "--var", "epochs=4"])
        .ok();
    let out = p.run(&["runs", "pipelines/h.yaml"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert!(header.contains(&"epochs"), "{out}");
    assert!(
        !header.contains(&"seeds"),
        "an unchanged param is no column:\n{out}"
    );
    let col = header.iter().position(|c| *c == "epochs").unwrap();
    let cells = |l: &str| -> Vec<String> {
        l.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    assert_eq!(cells(lines[1])[col], "2", "{out}");
    assert_eq!(cells(lines[2])[col], "4", "{out}");
    assert!(
        header.iter().any(|c| c.starts_with("train:test_acc[")),
        "{out}"
    );
    // --all: every variable, changed or not.
    let all = p.run(&["runs", "--all"]).ok().stdout;
    assert!(all.lines().next().unwrap().contains("seeds"), "{all}");
    assert_eq!(
        p.run(&["runs", "--last", "1"]).ok().stdout.lines().count(),
        2
    );
}

#[test]
fn diff_names_exactly_the_param_that_changed_and_the_metrics_that_moved() {
    let p = project();
    let a = json(&p.run(&["run", "--json", "pipelines/h.yaml"]).ok());
    let b = json(
        &p.run(&[
            "run",
            "--json",
            "pipelines/h.yaml",
            "--set",
            "train.epochs=6",
        ])
        .ok(),
    );
    let d = json(&p.run(&["diff", "--json", "-p", "pipelines/h.yaml"]).ok());
    assert_eq!(d["a"], a["run"]);
    assert_eq!(d["b"], b["run"]);
    let params: Vec<&str> = d["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["param"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["train.epochs"], "{d}");
    assert_eq!(d["params"][0]["a"], 2);
    assert_eq!(d["params"][0]["b"], 6);
    assert_eq!(d["sets"][0]["param"], "train.epochs");
    assert!(d["vars"].as_array().unwrap().is_empty(), "{d}");
    let changed: BTreeSet<&str> = d["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stage"].as_str().unwrap())
        .collect();
    assert_eq!(changed, BTreeSet::from(["train", "eval", "report"]));

    // The moved metrics are exactly those whose value differs between the two runs' own
    // `run --json` metrics.
    let values = |v: &Value| -> Vec<(String, f64)> {
        v["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    format!(
                        "{}:{}",
                        m["stage"].as_str().unwrap(),
                        m["name"].as_str().unwrap()
                    ),
                    m["value"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (va, vb) = (values(&a), values(&b));
    assert!(va.iter().any(|(n, _)| n == "train:train_mse[adam]"), "{a}");
    let expected: BTreeSet<String> = va
        .iter()
        .filter(|(n, x)| vb.iter().find(|(m, _)| m == n).is_some_and(|(_, y)| y != x))
        .map(|(n, _)| n.clone())
        .collect();
    assert!(
        !expected.is_empty(),
        "six epochs instead of two moved nothing: {a} {b}"
    );
    let moved: BTreeSet<String> = d["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["moved"] == true)
        .map(|m| m["metric"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(moved, expected);
    // evaluate's accuracies come with the interval of their change, paired over the test
    // questions both runs evaluated.
    let accuracies: Vec<&Value> = d["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metric"].as_str().unwrap().starts_with("eval:accuracy["))
        .collect();
    assert_eq!(accuracies.len(), 2, "{d}");
    for m in accuracies {
        let delta = m["delta"].as_f64().unwrap();
        let (lo, hi) = (
            m["delta_interval"][0].as_f64().unwrap(),
            m["delta_interval"][1].as_f64().unwrap(),
        );
        assert!(lo <= delta + 1e-12 && delta <= hi + 1e-12, "{m}");
        assert!(m["paired_questions"].as_u64().unwrap() >= 3, "{m}");
    }
    let text = p.run(&["diff", "-p", "pipelines/h.yaml"]).ok().stdout;
    assert!(text.contains("train.epochs  2 -> 6"), "{text}");
    if moved.iter().any(|m| m.starts_with("eval:accuracy[")) {
        assert!(text.contains("paired over"), "{text}");
    }
    for m in &moved {
        assert!(text.contains(m.as_str()), "{m} missing:\n{text}");
    }
}

#[test]
fn set_errors_point_at_the_argument() {
    let p = project();
    let err = |set: &str| {
        let r = p.run(&["run", "pipelines/h.yaml", "--set", set]);
        assert_eq!(r.code, 2, "{set}: {}", r.stderr);
        r.stderr
    };
    let e = err("trian.epochs=3");
    assert!(e.contains("the pipeline has no stage `trian`"), "{e}");
    assert!(
        e.contains("--> --set:1:1\n  |\n1 | trian.epochs=3\n  | ^^^^^"),
        "{e}"
    );
    assert!(e.contains("did you mean `train`?"), "{e}");
    let e = err("train.epoch=3");
    assert!(e.contains("unknown param `epoch` for stage `train`"), "{e}");
    assert!(
        e.contains("--> --set:1:7\n  |\n1 | train.epoch=3\n  |       ^^^^^"),
        "{e}"
    );
    assert!(e.contains("did you mean `epochs`?"), "{e}");
    let e = err("train.epochs=many");
    assert!(
        e.contains("invalid value for param `epochs` of stage `train`"),
        "{e}"
    );
    assert!(
        e.contains("--> --set:1:14\n  |\n1 | train.epochs=many\n  |              ^^^^"),
        "{e}"
    );
    let e = err("train.epochs.x=1");
    assert!(
        e.contains("param `epochs` of stage `train` is not a mapping"),
        "{e}"
    );
    assert!(e.contains("--> --set:1:14"), "{e}");
    let e = err("train.optimizers[5].lr=0.1");
    assert!(e.contains("index 5 is past the end of a list of 2"), "{e}");
    let e = err("train=3");
    assert!(e.contains("name a stage and one of its params"), "{e}");

    // A nested path into a list item works, and is recorded.
    let v = json(
        &p.run(&[
            "run",
            "--json",
            "pipelines/h.yaml",
            "--set",
            "train.optimizers[1]={name: adam, lr: 0.05}",
        ])
        .ok(),
    );
    let runs = json(&p.run(&["runs", "--json"]).ok());
    assert_eq!(runs[0]["id"], v["run"]);
    assert_eq!(runs[0]["sets"]["train.optimizers[1]"]["lr"], 0.05);
}

#[test]
fn run_records_itself_and_keeps_a_stable_latest_report() {
    let p = project();
    let v = json(&p.run(&["run", "--json", "pipelines/h.yaml"]).ok());
    let runs = json(&p.run(&["runs", "--json"]).ok());
    let r = &runs[0];
    assert_eq!(r["id"], v["run"]);
    assert_eq!(r["pipeline"], "pipelines/h.yaml");
    assert_eq!(r["vars"]["seeds"], serde_json::json!([1]));
    assert_eq!(r["vars"]["epochs"], 2);
    assert_eq!(r["stages"].as_array().unwrap().len(), 5);
    assert_eq!(r["stages"][2]["name"], "train");
    assert_eq!(r["stages"][2]["key"], key_of(&v, "train").as_str());
    assert_eq!(r["stages"][2]["status"], "ran");
    assert!(r["end_unix"].as_f64().unwrap() >= r["start_unix"].as_f64().unwrap());
    assert!(!r["host"].as_str().unwrap().is_empty());
    // Headline metrics: evaluate's accuracy with its interval, train's final numbers.
    let metrics = r["metrics"].as_array().unwrap();
    let acc = metrics
        .iter()
        .find(|m| m["stage"] == "eval" && m["name"] == "accuracy[train/adam]")
        .unwrap_or_else(|| panic!("{r}"));
    assert!(
        acc["interval"].as_array().is_some_and(|i| i.len() == 2),
        "{acc}"
    );
    assert_eq!(&v["metrics"], &r["metrics"]);
    // Manifests say which pipeline and stage made them.
    let m: Value = serde_json::from_str(&p.read(&format!(
        "artifacts/objects/{}/manifest.json",
        key_of(&v, "eval")
    )))
    .unwrap();
    assert_eq!(m["pipeline"], "pipelines/h.yaml");
    assert_eq!(m["stage"], "eval");

    // The report line names the stable path, kept with -q, the same page as the artifact's.
    let q = p.run(&["run", "-q", "pipelines/h.yaml"]).ok();
    assert_eq!(q.stdout, "report: artifacts/latest/h/report.html\n");
    assert_eq!(q.stderr, "");
    let object = format!("artifacts/objects/{}/report.html", key_of(&v, "report"));
    assert_eq!(p.read("artifacts/latest/h/report.html"), p.read(&object));
    let summary = p.run(&["run", "pipelines/h.yaml"]).ok().stderr;
    assert!(
        summary.contains("0 computed, 5 cached, 0 failed in "),
        "{summary}"
    );
    assert!(
        summary.contains("metrics eval: accuracy[train/sgd] "),
        "{summary}"
    );
}

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("QA_PIPE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

#[test]
fn the_compare_report_overlays_both_runs_curves_and_opens_in_chromium() {
    let p = project();
    let a = json(&p.run(&["run", "--json", "pipelines/h.yaml"]).ok());
    let b = json(
        &p.run(&["run", "--json", "pipelines/h.yaml", "--var", "epochs=5"])
            .ok(),
    );
    let (ia, ib) = (a["run"].as_str().unwrap(), b["run"].as_str().unwrap());
    let out = p
        .run(&["report", "--compare", "last~1", "last"])
        .ok()
        .stdout;
    let rel = out.strip_prefix("report: ").unwrap().trim();
    assert_eq!(rel, format!("artifacts/compare/{ia}-{ib}.html"));
    let html = p.read(rel);
    for want in [
        format!("run {ia} vs run {ib}"),
        "Params diff".to_string(),
        "<td>epochs</td><td class=\"num\">2</td><td class=\"num\">5</td>".to_string(),
        "Metrics diff".to_string(),
        format!("run {ia} solid, run {ib} dashed"),
    ] {
        assert!(html.contains(&want), "compare report lacks {want}");
    }
    assert_eq!(
        html.matches("src=\"data:image/png;base64,").count(),
        1,
        "one train stage, one figure"
    );
    for bad in ["src=\"http", "href=\"http", "<link", "@import"] {
        assert!(!html.contains(bad), "the page fetches something: {bad}");
    }

    let Some(browser) = chromium() else {
        if std::env::var("QA_PIPE_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("QA_PIPE_REQUIRE_CHROMIUM=1 but no chromium found: apt-get install chromium");
        }
        eprintln!(
            "SKIPPED: no chromium on PATH (apt-get install chromium, or set QA_PIPE_CHROMIUM)"
        );
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let r = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", p.path(rel).display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&r.stdout);
    assert!(
        dom.contains("data-images-loaded=\"1/1\""),
        "the curves figure did not load; stderr: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(dom.contains(ia) && dom.contains(ib));
}
