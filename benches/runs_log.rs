//! Wall time of `qa-pipe runs` (the last 20 runs) over a run log of 10,000 records (goal:
//! under 100 ms; `--last 0`, every run, is timed too), each
//! record the size of a run of `pipelines/report.yaml` (60 stages with their keys, 4 vars,
//! 40 headline metrics), the variables varying as in a seed/epoch study. Also `diff` of the
//! last two runs. `cargo bench --bench runs_log` (records: `QA_PIPE_BENCH_RUNS=1000`).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn qa_pipe(root: &Path, args: &[&str]) -> (f64, usize) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_qa-pipe"))
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    let dt = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dt, out.stdout.len())
}

fn record(i: usize) -> serde_json::Value {
    let key = |s: usize| format!("{:032x}", (i as u128) << 64 | s as u128);
    let stages: Vec<serde_json::Value> = (0..60)
        .map(|s| {
            serde_json::json!({
                "name": format!("stage_{s:02}"),
                "kind": if s % 3 == 0 { "train" } else { "evaluate" },
                "key": key(s),
                "status": if s % 2 == 0 { "cached" } else { "ran" },
            })
        })
        .collect();
    let metrics: Vec<serde_json::Value> = (0..40)
        .map(|m| {
            let v = 0.5 + ((i * 7 + m * 13) % 100) as f64 / 250.0;
            serde_json::json!({
                "stage": format!("eval_{}", m % 8),
                "name": format!("accuracy[train_{}/adam]", m / 8),
                "value": v,
                "interval": [v - 0.04, v + 0.04],
                "higher_is_better": true,
            })
        })
        .collect();
    serde_json::json!({
        "v": 1,
        "id": format!("{:08x}", i * 2_654_435_761 % (1 << 32)),
        "pipeline": "pipelines/report.yaml",
        "name": "report",
        "pipeline_hash": "0123456789abcdef",
        "start_unix": 1_764_600_000.0 + i as f64 * 60.0,
        "end_unix": 1_764_600_030.0 + i as f64 * 60.0,
        "vars": {
            "seeds": [42, 10, 2024, 7, 99],
            "epochs": 100 + i % 3 * 50,
            "perplexity": 30,
            "description": "the study's setting",
        },
        "git": {"commit": "3b8fe1197a4c5de0b1e7f2a3c4d5e6f708192a3b", "dirty": i.is_multiple_of(5)},
        "host": "node-1",
        "ok": true,
        "stages": stages,
        "metrics": metrics,
    })
}

fn main() {
    let n: usize = std::env::var("QA_PIPE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("artifacts/runs")).unwrap();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    let mut log = std::io::BufWriter::new(
        std::fs::File::create(root.join("artifacts/runs/log.jsonl")).unwrap(),
    );
    for i in 0..n {
        serde_json::to_writer(&mut log, &record(i)).unwrap();
        log.write_all(b"\n").unwrap();
    }
    log.into_inner().unwrap().sync_all().unwrap();
    let bytes = std::fs::metadata(root.join("artifacts/runs/log.jsonl"))
        .unwrap()
        .len();
    println!("run log: {n} records, {:.1} MB", bytes as f64 / 1e6);
    for (args, goal) in [
        (vec!["runs"], Some(100.0)),
        (vec!["runs", "pipelines/report.yaml"], Some(100.0)),
        (vec!["runs", "--last", "0"], None),
        (vec!["runs", "--json"], None),
        (vec!["diff", "last~1", "last"], None),
    ] {
        qa_pipe(root, &args);
        let mut times: Vec<(f64, usize)> = (0..10).map(|_| qa_pipe(root, &args)).collect();
        times.sort_by(|a, b| a.0.total_cmp(&b.0));
        println!(
            "qa-pipe {}: median {:.1} ms, min {:.1} ms, max {:.1} ms over 10 runs ({} bytes out){}",
            args.join(" "),
            times[5].0 * 1e3,
            times[0].0 * 1e3,
            times[9].0 * 1e3,
            times[0].1,
            goal.map(|g| format!("; goal < {g} ms")).unwrap_or_default()
        );
    }
}
