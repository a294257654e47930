//! Wall time of a fully cached `qa-pipe run` on a 50-stage pipeline (goal: under 50 ms).
//! `cargo bench --bench cached_run`

use std::process::Command;
use std::time::Instant;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let repo = env!("CARGO_MANIFEST_DIR");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    for f in ["train.csv", "test.csv"] {
        std::fs::copy(format!("{repo}/data/{f}"), root.join("data").join(f)).unwrap();
    }
    let mut yaml = String::from("stages:\n  data:\n    kind: ingest_csv\n    params: {train: data/train.csv, test: data/test.csv}\n");
    for i in 1..50 {
        yaml.push_str(&format!(
            "  f{i}:\n    kind: tfidf\n    inputs: [data]\n    params: {{max_features: {}}}\n",
            10 + i
        ));
    }
    std::fs::write(root.join("pipelines/bench.yaml"), yaml).unwrap();
    let exe = env!("CARGO_BIN_EXE_qa-pipe");
    let run = || {
        let t = Instant::now();
        let out = Command::new(exe)
            .args(["run", "-q", "pipelines/bench.yaml"])
            .current_dir(root)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed().as_secs_f64()
    };
    let cold = run();
    let mut times: Vec<f64> = (0..20).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    println!("50-stage pipeline: cold run {:.0} ms; fully cached run median {:.1} ms, min {:.1} ms, max {:.1} ms (20 runs; goal < 50 ms)", cold * 1e3, times[10] * 1e3, times[0] * 1e3, times[19] * 1e3);
}
