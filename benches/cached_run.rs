//! Wall time of a fully cached `qa-pipe run` on pipelines of 50, 1,000 and 10,000 stages
//! (one `ingest_csv`, the rest `tfidf` with distinct keys; goals: 50 ms, 25 ms, 250 ms):
//! rerun with nothing changed (recognized by stat), and after an edit of the pipeline that
//! leaves every key as it was (planned),
//! and of planning a 100,000-cell sweep (`qa-pipe jobs --todo`, goal: under 1 s).
//! `cargo bench --bench cached_run` (sizes: `QA_PIPE_BENCH_SIZES=50,1000`)

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn qa_pipe(root: &Path, args: &[&str]) -> f64 {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_qa-pipe"))
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let repo = env!("CARGO_MANIFEST_DIR");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    for f in ["train.csv", "test.csv"] {
        std::fs::copy(format!("{repo}/data/{f}"), root.join("data").join(f)).unwrap();
    }
    dir
}

fn cached_run(stages: usize, goal_ms: f64) {
    let dir = project();
    let root = dir.path();
    let mut yaml = String::from("stages:\n  data:\n    kind: ingest_csv\n    params: {train: data/train.csv, test: data/test.csv}\n");
    for i in 1..stages {
        yaml.push_str(&format!(
            "  f{i}:\n    kind: tfidf\n    inputs: [data]\n    params: {{max_features: {}}}\n",
            10 + i
        ));
    }
    std::fs::write(root.join("pipelines/bench.yaml"), yaml.as_bytes()).unwrap();
    let run = || qa_pipe(root, &["run", "-q", "pipelines/bench.yaml"]);
    let cold = run();
    // Files written in the last 2 s are not trusted by stat (src/unchanged.rs): the steady
    // state of a rerun starts once the cold run's files are older than that.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    run();
    let unchanged = stats((0..20).map(|_| run()).collect());
    // The pipeline edited (a comment) before each run: planned, every stage still cached.
    let planned = stats(
        (0..20)
            .map(|i| {
                let edited = format!("{yaml}# edit {i}\n");
                std::fs::write(root.join("pipelines/bench.yaml"), edited).unwrap();
                run()
            })
            .collect(),
    );
    println!(
        "{stages}-stage pipeline: cold run {:.0} ms; fully cached, nothing changed: {unchanged}; pipeline edited, every stage cached (planned): {planned} (20 runs each; goal <= {goal_ms} ms)",
        cold * 1e3,
    );
}

/// Median, min and max of `times` (seconds), in ms.
fn stats(mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    format!(
        "median {:.1} ms, min {:.1} ms, max {:.1} ms",
        times[n / 2] * 1e3,
        times[0] * 1e3,
        times[n - 1] * 1e3
    )
}

fn sweep_plan(cells: usize) {
    let dir = project();
    let root = dir.path();
    // 100 x 1000 hidden x lr values: `cells` cells, one seed, nothing computed yet.
    let (a, b) = (100, cells / 100);
    let hidden: Vec<String> = (1..=a).map(|h| h.to_string()).collect();
    let lr: Vec<String> = (1..=b).map(|i| format!("{}", i as f64 * 1e-5)).collect();
    let yaml = format!(
        "stages:\n  data:\n    kind: ingest_csv\n    params: {{train: data/train.csv, test: data/test.csv}}\n  features:\n    kind: tfidf\n    inputs: [data]\n  grid:\n    kind: sweep\n    inputs: {{features: features}}\n    params:\n      base: {{optimizer: adam, epochs: 1}}\n      grid: {{hidden: [{}], lr: [{}]}}\n      seeds: [1]\n",
        hidden.join(", "),
        lr.join(", ")
    );
    std::fs::write(root.join("pipelines/sweep.yaml"), yaml).unwrap();
    let mut times: Vec<f64> = (0..5)
        .map(|_| qa_pipe(root, &["jobs", "--todo", "pipelines/sweep.yaml"]))
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "sweep of {cells} cells: `jobs --todo` median {:.0} ms, min {:.0} ms (5 runs; goal < 1000 ms)",
        times[2] * 1e3,
        times[0] * 1e3
    );
}

fn main() {
    let sizes = std::env::var("QA_PIPE_BENCH_SIZES").unwrap_or_else(|_| "50,1000,10000".into());
    for s in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok())
    {
        let goal = match s {
            0..=50 => 50.0,
            51..=1000 => 25.0,
            _ => 250.0,
        };
        cached_run(s, goal);
    }
    sweep_plan(100_000);
}
