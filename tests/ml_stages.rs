//! The `train`, `sweep` and `evaluate` stages through the real binary: outputs, per-run and
//! per-cell caching, determinism, and config errors.

mod common;

use arrow::array::{Array, Float64Array, RecordBatch, UInt64Array};
use arrow::datatypes::DataType;
use common::{status_of, strings, Project};

const PIPELINE: &str = "\
stages:
  data:
    kind: ingest_csv
    params:
      train: data/train.csv
      test: data/test.csv
  features:
    kind: tfidf
    inputs: [data]
  train:
    kind: train
    inputs: {features: features}
    params:
      hidden: 4
      optimizers: [gd, sgd, {name: adam, lr: 0.01}]
      seeds: [1, 2]
      epochs: 6
      batch_size: 2
      snapshots: {every: 2, project_to: 8}
  one_layer:
    kind: train
    inputs: {features: features}
    params:
      hidden: []
      optimizers: [adam]
      seeds: [1, 2]
      epochs: 4
      precision: f64
  grid:
    kind: sweep
    inputs: {features: features}
    params:
      base: {hidden: 4, optimizer: adam, epochs: 3, batch_size: 2}
      grid: {hidden: [2, 4], lr: [0.1, 0.01]}
      seeds: [1, 2]
  eval:
    kind: evaluate
    inputs: {runs: [train, one_layer]}
";

fn project() -> Project {
    let p = Project::new();
    p.write("pipelines/ml.yaml", PIPELINE);
    p
}

fn table(p: &Project, stage: &str, name: &str) -> RecordBatch {
    p.table("pipelines/ml.yaml", stage, name)
}

/// Any numeric column as f64 (nulls as NaN).
fn f64s(b: &RecordBatch, col: &str) -> Vec<f64> {
    let c = arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Float64).unwrap();
    let a = c.as_any().downcast_ref::<Float64Array>().unwrap();
    (0..a.len())
        .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
        .collect()
}

#[test]
fn train_evaluate_and_sweep_produce_their_tables() {
    let p = project();
    let (code, v) = p.run_json(&["pipelines/ml.yaml"]);
    assert_eq!(code, 0, "{v}");

    let runs = table(&p, "train", "runs");
    assert_eq!(runs.num_rows(), 6);
    assert_eq!(
        strings(&runs, "optimizer"),
        ["gd", "gd", "sgd", "sgd", "adam", "adam"]
    );
    assert_eq!(f64s(&runs, "lr"), [0.01, 0.01, 0.1, 0.1, 0.01, 0.01]);
    let curves = table(&p, "train", "curves");
    // 6 runs x 6 epochs, one column per metric; no early stopping, so no val_*.
    assert_eq!(curves.num_rows(), 6 * 6);
    assert!(f64s(&curves, "val_mse").iter().all(|v| v.is_nan()));
    assert_eq!(f64s(&curves, "epoch")[..6], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // The last epoch's curve values are the run's final numbers.
    assert_eq!(f64s(&curves, "test_mse")[5], f64s(&runs, "test_mse")[0]);
    let snaps = table(&p, "train", "snapshots");
    assert_eq!(snaps.num_rows(), 6 * 4); // epochs 0, 2, 4, 6
    let weights = table(&p, "train", "weights");
    assert_eq!(weights.num_rows(), 6 * 2);
    let scores = table(&p, "train", "scores");
    assert_eq!(scores.num_rows(), 6 * 2); // 2 test rows per run

    let per_run = table(&p, "eval", "per_run");
    assert_eq!(per_run.num_rows(), 8);
    assert_eq!(strings(&per_run, "source")[7], "one_layer");
    let cmp = table(&p, "eval", "comparison");
    assert_eq!(strings(&cmp, "optimizer"), ["gd", "sgd", "adam", "adam"]);
    assert_eq!(
        strings(&cmp, "source"),
        ["train", "train", "train", "one_layer"]
    );
    // The comparison's accuracy is the mean of the per-run accuracies.
    let acc = f64s(&per_run, "accuracy");
    let mean = f64s(&cmp, "accuracy_mean");
    assert!((mean[0] - (acc[0] + acc[1]) / 2.0).abs() < 1e-12);
    // The test accuracy in `runs` is the evaluate stage's accuracy of the same scores.
    assert_eq!(f64s(&runs, "test_acc"), acc[..6]);

    let cells = table(&p, "grid", "cells");
    assert_eq!(cells.num_rows(), 4);
    assert_eq!(f64s(&cells, "hidden"), [2.0, 2.0, 4.0, 4.0]);
    assert_eq!(f64s(&cells, "lr"), [0.1, 0.01, 0.1, 0.01]);
    let cell_runs = table(&p, "grid", "sweep");
    assert_eq!(
        f64s(&cell_runs, "hidden"),
        [2.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    );
    assert_eq!(cell_runs.num_rows(), 8);
    let seeds = cell_runs
        .column_by_name("seed")
        .unwrap()
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap();
    assert_eq!(seeds.values().to_vec(), [1, 2, 1, 2, 1, 2, 1, 2]);
    let accs = f64s(&cell_runs, "test_acc");
    let m = f64s(&cells, "test_acc_mean");
    assert!((m[3] - (accs[6] + accs[7]) / 2.0).abs() < 1e-12);
}

#[test]
fn adding_a_seed_or_a_cell_computes_only_the_new_units() {
    let p = project();
    p.run(&["run", "pipelines/ml.yaml"]).ok();
    let before = table(&p, "train", "runs");
    p.write(
        "pipelines/ml.yaml",
        &PIPELINE
            .replace(
                "seeds: [1, 2]\n      epochs: 6",
                "seeds: [1, 2, 3]\n      epochs: 6",
            )
            .replace("lr: [0.1, 0.01]}", "lr: [0.1, 0.01, 0.001]}"),
    );
    let (code, v) = p.run_json(&["pipelines/ml.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(status_of(&v, "train"), "ran");
    let stage = |name: &str| {
        v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(stage("train")["units_run"], 3, "{v}"); // one new seed x 3 optimizers
    assert_eq!(stage("train")["units_total"], 9);
    assert_eq!(stage("grid")["units_run"], 4, "{v}"); // lr 0.001 x 2 hidden sizes x 2 seeds
    let after = table(&p, "train", "runs");
    // The old runs' numbers are the cached ones, identical.
    let old: Vec<f64> = f64s(&before, "test_mse");
    let new: Vec<f64> = f64s(&after, "test_mse");
    assert_eq!(&new[0..2], &old[0..2]);
    assert_eq!(&new[3..5], &old[2..4]);
}

/// Issue 15, item 13: a sweep cell was one unit holding all its seeds, so adding a seed
/// recomputed every cell. Now each (cell, seed) is a unit: only the new seed's runs train,
/// and the old runs keep their cached numbers.
#[test]
fn adding_a_seed_to_a_sweep_computes_only_the_new_cell_seed_units() {
    let p = project();
    p.run(&["run", "pipelines/ml.yaml"]).ok();
    let before = table(&p, "grid", "sweep");
    p.write(
        "pipelines/ml.yaml",
        &PIPELINE.replace(
            "lr: [0.1, 0.01]}\n      seeds: [1, 2]",
            "lr: [0.1, 0.01]}\n      seeds: [1, 2, 3]",
        ),
    );
    let (code, v) = p.run_json(&["pipelines/ml.yaml"]);
    assert_eq!(code, 0, "{v}");
    let grid = v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "grid")
        .unwrap();
    assert_eq!(grid["status"], "ran", "{v}");
    assert_eq!(grid["units_total"], 12, "{v}"); // 4 cells x 3 seeds
    assert_eq!(grid["units_run"], 4, "{v}"); // seed 3 of each cell
    let after = table(&p, "grid", "sweep");
    let (old, new) = (f64s(&before, "test_mse"), f64s(&after, "test_mse"));
    // Rows are cell-major: each cell's seeds 1 and 2 are the cached runs, bit for bit.
    for cell in 0..4 {
        assert_eq!(&new[cell * 3..cell * 3 + 2], &old[cell * 2..cell * 2 + 2]);
    }
}

/// Curve values except timings, test scores, and the sweep's cell means.
fn numbers(p: &Project) -> Vec<Vec<f64>> {
    let c = table(p, "train", "curves");
    let mut out: Vec<Vec<f64>> = ["train_mse", "train_acc", "test_mse", "test_acc"]
        .iter()
        .map(|m| f64s(&c, m))
        .collect();
    out.push(f64s(&table(p, "train", "scores"), "score"));
    out.push(f64s(&table(p, "grid", "cells"), "test_mse_mean"));
    out
}

#[test]
fn same_numbers_with_one_or_two_threads_and_when_forced() {
    let a = project();
    a.run(&["run", "pipelines/ml.yaml", "-j", "1"]).ok();
    let first = numbers(&a);
    let b = project();
    b.run(&["run", "pipelines/ml.yaml", "-j", "2"]).ok();
    assert_eq!(first, numbers(&b));
    a.run(&[
        "run",
        "pipelines/ml.yaml",
        "-j",
        "2",
        "--force",
        "train",
        "grid",
    ])
    .ok();
    assert_eq!(first, numbers(&a));
}

#[test]
fn config_errors_point_at_the_param() {
    let p = project();
    p.write(
        "pipelines/ml.yaml",
        &PIPELINE.replace("optimizers: [adam]", "optimizers: [adamw]"),
    );
    let r = p.run(&["run", "pipelines/ml.yaml"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("unknown variant `adamw`"), "{}", r.stderr);
    p.write(
        "pipelines/ml.yaml",
        &PIPELINE.replace(
            "grid: {hidden: [2, 4], lr: [0.1, 0.01]}",
            "grid: {hidden: [2, 4], lr: [-0.1]}",
        ),
    );
    let r = p.run(&["run", "pipelines/ml.yaml"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("lr must be a positive number"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_diverging_run_is_reported_and_the_others_carry_on() {
    let p = project();
    p.write(
        "pipelines/ml.yaml",
        &PIPELINE.replace("{name: adam, lr: 0.01}", "{name: adam, lr: 1.0e308}"),
    );
    let (code, v) = p.run_json(&["pipelines/ml.yaml", "--only", "train"]);
    assert_eq!(code, 0, "{v}");
    let runs = table(&p, "train", "runs");
    assert_eq!(
        strings(&runs, "status"),
        [
            "completed",
            "completed",
            "completed",
            "completed",
            "diverged",
            "diverged"
        ]
    );
    let stage = v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "train")
        .unwrap();
    let notes = stage["notes"].to_string();
    assert!(notes.contains("2 of 6 runs diverged"), "{notes}");
    assert!(notes.contains("adam/seed=1"), "{notes}");
}

/// The initial weights (epoch-0 snapshot) of each run of `stage`, in run order.
fn initial_weights(p: &Project, stage: &str) -> Vec<Vec<f32>> {
    use arrow::array::{Float32Array, ListArray};
    let snaps = table(p, stage, "snapshots");
    let epochs = f64s(&snaps, "epoch");
    let lists = snaps
        .column_by_name("weights")
        .unwrap()
        .as_any()
        .downcast_ref::<ListArray>()
        .unwrap();
    (0..snaps.num_rows())
        .filter(|&i| epochs[i] == 0.0)
        .map(|i| {
            let v = lists.value(i);
            let f = v.as_any().downcast_ref::<Float32Array>().unwrap();
            f.values().to_vec()
        })
        .collect()
}

#[test]
fn rng_scope_run_gives_each_optimizer_its_own_weights_seed_scope_shares_them() {
    let p = project();
    let stage = |name: &str, rng: &str| {
        format!(
            "  {name}:\n    kind: train\n    inputs: {{features: features}}\n    params:\n      \
             hidden: 3\n      optimizers: [gd, adam]\n      seeds: [1, 2]\n      epochs: 1\n      \
             snapshots: {{every: 1}}\n{rng}"
        )
    };
    let head = PIPELINE.split("  train:\n").next().unwrap();
    p.write(
        "pipelines/ml.yaml",
        &format!(
            "{head}{}{}",
            stage("per_run", ""),
            stage("shared", "      rng: seed\n")
        ),
    );
    let (code, v) = p.run_json(&["pipelines/ml.yaml"]);
    assert_eq!(code, 0, "{v}");
    // Runs in order: gd/1, gd/2, adam/1, adam/2.
    let own = initial_weights(&p, "per_run");
    assert_eq!(own.len(), 4);
    assert_ne!(own[0], own[2], "gd and adam of seed 1 share weights");
    assert_ne!(own[0], own[1], "seeds 1 and 2 share weights");
    let shared = initial_weights(&p, "shared");
    assert_eq!(
        shared[0], shared[2],
        "the study's scope: one seed, one start"
    );
    assert_eq!(shared[1], shared[3]);
    assert_ne!(shared[0], shared[1]);
}

/// Object keys under artifacts/objects (each a stage or unit artifact).
fn object_keys(p: &Project) -> Vec<String> {
    let mut keys: Vec<String> = std::fs::read_dir(p.path("artifacts/objects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    keys.sort();
    keys
}

#[test]
fn every_job_run_alone_by_key_rebuilds_what_run_builds() {
    let p = project();
    let r = p.run(&["jobs", "pipelines/ml.yaml", "--json"]).ok();
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    // 6 stages; units: train 3 optimizers x 2 seeds, one_layer 2, grid 4 cells x 2 seeds.
    assert_eq!(jobs.len(), 6 + 6 + 2 + 8, "{}", r.stdout);
    let wave_of: std::collections::BTreeMap<String, u64> = jobs
        .iter()
        .map(|j| {
            (
                j["key"].as_str().unwrap().to_string(),
                j["wave"].as_u64().unwrap(),
            )
        })
        .collect();
    for j in &jobs {
        assert_eq!(j["cached"], false);
        for need in j["needs"].as_array().unwrap() {
            assert!(
                wave_of[need.as_str().unwrap()] < j["wave"].as_u64().unwrap(),
                "{j} runs before what it needs"
            );
        }
    }
    let train_stage = jobs
        .iter()
        .find(|j| j["stage"] == "train" && j["unit"].is_null())
        .unwrap();
    assert_eq!(train_stage["needs"].as_array().unwrap().len(), 1 + 6);

    // A job whose inputs are not there yet says which and what to run.
    let key = train_stage["key"].as_str().unwrap();
    let early = p.run(&["exec", key, "-p", "pipelines/ml.yaml"]);
    assert_eq!(early.code, 1, "{}", early.stderr);
    assert!(
        early.stderr.contains("stage `features`") && early.stderr.contains("qa-pipe exec"),
        "{}",
        early.stderr
    );
    assert!(object_keys(&p).is_empty(), "a failed exec stored something");
    let unknown = p.run(&["exec", "0123", "-p", "pipelines/ml.yaml"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("qa-pipe jobs"),
        "{}",
        unknown.stderr
    );

    // Wave by wave, every job of a wave as its own process, all at once.
    let last = wave_of.values().max().copied().unwrap();
    for wave in 0..=last {
        let children: Vec<_> = jobs
            .iter()
            .filter(|j| j["wave"].as_u64() == Some(wave))
            .map(|j| {
                let key = j["key"].as_str().unwrap();
                let child = p
                    .cmd(&["exec", key, "-p", "pipelines/ml.yaml"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                (key.to_string(), child)
            })
            .collect();
        for (key, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let printed = String::from_utf8_lossy(&out.stdout);
            assert!(printed.trim().ends_with(&key), "{printed}");
        }
    }
    let todo = p
        .run(&["jobs", "pipelines/ml.yaml", "--todo", "--json"])
        .ok();
    assert_eq!(todo.stdout.trim(), "[]");
    let (code, v) = p.run_json(&["pipelines/ml.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(
        common::statuses(&v).iter().all(|(_, s)| s == "cached"),
        "{v}"
    );
    // Once more: a job whose artifact exists is not recomputed.
    let again = p.run(&["exec", key, "-p", "pipelines/ml.yaml"]).ok();
    assert!(again.stderr.contains("cached"), "{}", again.stderr);

    // The same artifacts and numbers as one `qa-pipe run`.
    let q = project();
    q.run(&["run", "pipelines/ml.yaml"]).ok();
    assert_eq!(object_keys(&p), object_keys(&q));
    assert_eq!(numbers(&p), numbers(&q));
}

/// Whether Slurm's `sbatch` answers here. `QA_PIPE_REQUIRE_SLURM=1` (set by
/// scripts/test.sh after it starts a one-node cluster) makes its absence a failure.
fn slurm_available() -> bool {
    let ok = std::process::Command::new("sinfo")
        .arg("-h")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("QA_PIPE_REQUIRE_SLURM").is_ok_and(|v| v == "1") {
        panic!(
            "QA_PIPE_REQUIRE_SLURM=1 but Slurm does not answer (scripts/slurm/local-cluster.sh)"
        );
    }
    ok
}

fn submit(p: &Project) -> common::Run {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm/submit.sh");
    std::process::Command::new(script)
        .args(["--wait", "pipelines/ml.yaml"])
        .current_dir(p.path(""))
        .env("QA_PIPE_BIN", env!("CARGO_BIN_EXE_qa-pipe"))
        .output()
        .unwrap()
        .into()
}

#[test]
fn slurm_job_arrays_run_the_pipeline_and_stop_at_a_failure() {
    if !slurm_available() {
        eprintln!("skipped: no Slurm here (scripts/slurm/local-cluster.sh starts one)");
        return;
    }
    let p = project();
    let r = submit(&p).ok();
    // Waves 0 (data), 1 (features), 2 (units), 3 (stages with units), 4 (eval), then the
    // final `qa-pipe run`.
    assert_eq!(r.stderr.matches(" as array ").count(), 5, "{}", r.stderr);
    // The final job's run is in the run log, with that job's id (issue 11).
    let log = std::fs::read_to_string(p.path("artifacts/runs/log.jsonl")).unwrap();
    let record: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(
        record["slurm_job"].as_str(),
        Some(r.stdout.trim()),
        "{record}"
    );
    let (code, v) = p.run_json(&["pipelines/ml.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(
        common::statuses(&v).iter().all(|(_, s)| s == "cached"),
        "{v}"
    );
    let q = project();
    q.run(&["run", "pipelines/ml.yaml"]).ok();
    assert_eq!(object_keys(&p), object_keys(&q));
    assert_eq!(numbers(&p), numbers(&q));

    // A stage that fails at run time: its array task fails, everything after it is
    // cancelled, and the script says so with a non-zero exit.
    let bad = project();
    bad.write("data/train.csv", "soru,cevap,etiket\n");
    let r = submit(&bad);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("CANCELLED"), "{}", r.stderr);
    assert!(object_keys(&bad).is_empty());
    let logs = std::fs::read_dir(bad.path("artifacts/slurm"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect::<String>();
    assert!(logs.contains("no usable rows"), "{logs}");
}
