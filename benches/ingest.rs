//! A cold `qa-pipe run` of one `ingest_csv` stage on a 200,000-row training CSV (goal: under
//! 1 s and under 200 MB peak memory; issue 15 item 6 measured 10k rows at 9.5 s and 40k rows
//! at 147 s before the parse was made linear), and the same on 20,000 rows: 10x the rows
//! should cost about 10x the time above the process's fixed start-up cost.
//! `cargo bench --bench ingest` (wall time, CPU time and peak RSS from `/usr/bin/time -v`
//! when present; CPU time is what a loaded machine does not inflate).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// A study-like CSV: question pairs with a quoted, comma-holding answer and Turkish letters;
/// `prefix` keeps the test questions apart from the training ones.
fn csv(rows: usize, prefix: &str) -> String {
    let mut s = String::from("soru,cevap,etiket\n");
    for i in 0..rows / 2 {
        let _ = writeln!(
            s,
            "{prefix} {i}: aşırı öğrenme nasıl fark edilir?,\"Eğitim hatası düşer, doğrulama hatası {i} yükselir.\",+1"
        );
        let _ = writeln!(
            s,
            "{prefix} {i}: aşırı öğrenme nasıl fark edilir?,Modelin ağırlıkları {i} kez güncellenir.,-1"
        );
    }
    s
}

struct Measured {
    wall_s: f64,
    cpu_s: Option<f64>,
    peak_mb: Option<f64>,
}

fn run_once(root: &Path, train_rows: usize) -> Measured {
    let _ = std::fs::remove_dir_all(root.join("artifacts"));
    std::fs::write(root.join("data/train.csv"), csv(train_rows, "Soru")).unwrap();
    let exe = env!("CARGO_BIN_EXE_qa-pipe");
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.is_file() {
        let mut c = Command::new(time);
        c.arg("-v").arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(["run", "-q", "pipelines/ingest.yaml"])
        .current_dir(root);
    let t = Instant::now();
    let out = cmd.output().unwrap();
    let wall_s = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let cpu_s = field("User time (seconds):")
        .zip(field("System time (seconds):"))
        .map(|(u, s)| u + s);
    Measured {
        wall_s,
        cpu_s,
        peak_mb: field("Maximum resident set size (kbytes):").map(|k| k / 1024.0),
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(root.join("data/test.csv"), csv(2_000, "Test sorusu")).unwrap();
    std::fs::write(
        root.join("pipelines/ingest.yaml"),
        "stages:\n  data:\n    kind: ingest_csv\n    params: {train: data/train.csv, test: data/test.csv}\n",
    )
    .unwrap();
    let small = run_once(root, 20_000);
    let big = run_once(root, 200_000);
    let show = |m: &Measured| {
        format!(
            "{:.2} s wall, {} CPU, peak {}",
            m.wall_s,
            m.cpu_s.map_or("n/a".into(), |v| format!("{v:.2} s")),
            m.peak_mb.map_or("n/a".into(), |v| format!("{v:.0} MB"))
        )
    };
    println!(
        "ingest_csv, cold run (2,000 test rows each): 20,000 train rows {}; 200,000 train rows {} \
         (goal < 1 s, < 200 MB); wall-time ratio {:.1}x for 10x the rows",
        show(&small),
        show(&big),
        big.wall_s / small.wall_s
    );
}
