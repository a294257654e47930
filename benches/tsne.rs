//! t-SNE speed against scikit-learn on the same 1500 x 50 points, in one invocation.
//!
//!     cargo bench --bench tsne                      # 3 runs each, prints the ratio
//!     QA_PIPE_PYTHON=/path/to/python cargo bench --bench tsne -- --runs 5 --threads 1
//!
//! `--threads N` sizes Rust's rayon pool and sklearn's OpenMP pool (OMP_NUM_THREADS) alike;
//! by default both use every core.
//! The points are i.i.d. standard normal (as seed_ref.py's `bench` t-SNE task), drawn
//! here and handed to Python as raw little-endian f64. sklearn runs
//! TSNE(n_components=2, perplexity=30, init="pca", learning_rate="auto", random_state=0)
//! (its Barnes-Hut default); Rust runs the same parameters with `Method::Auto`. Each side
//! times only the fit; the medians and their ratio are printed. Without a Python that
//! imports sklearn the Rust timings are printed alone.

use ndarray::Array2;
use qa_pipe::ml::tsne::{self, Method, TsneParams};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::io::Write;
use std::process::Command;
use std::time::Instant;

const N: usize = 1500;
const D: usize = 50;

const SKLEARN: &str = r#"
import sys, time, json
import numpy as np
from sklearn.manifold import TSNE, trustworthiness
import sklearn
path, n, d, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
X = np.fromfile(path, dtype="<f8").reshape(n, d)
times, kl = [], None
for _ in range(runs):
    t = TSNE(n_components=2, perplexity=30, init="pca", learning_rate="auto", random_state=0)
    t0 = time.perf_counter()
    Y = t.fit_transform(X)
    times.append(time.perf_counter() - t0)
    kl = float(t.kl_divergence_)
print(json.dumps({"times": times, "kl": kl, "trust": float(trustworthiness(X, Y, n_neighbors=5)),
                  "version": sklearn.__version__}))
"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn main() {
    let mut runs = 3usize;
    let mut threads: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--threads" => {
                threads = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .expect("--threads N"),
                )
            }
            _ => {}
        }
    }
    if let Some(t) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .expect("rayon pool");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Array2::from_shape_fn((N, D), |_| StandardNormal.sample(&mut rng));
    let params = TsneParams {
        perplexity: 30.0,
        method: Method::Auto,
        ..TsneParams::default()
    };

    let mut rust_times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        let r = tsne::fit(x.view(), &params).expect("t-SNE runs");
        rust_times.push(t0.elapsed().as_secs_f64());
        last = Some(r);
    }
    let r = last.expect("at least one run");
    let trust = tsne::trustworthiness(x.view(), r.embedding.view(), 5).expect("trustworthiness");
    let rust_med = median(rust_times.clone());
    println!(
        "rust    t-SNE {N}x{D} ({:?}, {} threads): median {rust_med:.3} s  runs {:?}  KL {:.4}  trust@5 {trust:.4}",
        r.method,
        rayon::current_num_threads(),
        rust_times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>(),
        r.kl_divergence
    );

    let python = std::env::var("QA_PIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    for v in x.iter() {
        file.write_all(&v.to_le_bytes()).expect("write points");
    }
    file.flush().expect("flush");
    let mut cmd = Command::new(&python);
    if let Some(t) = threads {
        cmd.env("OMP_NUM_THREADS", t.to_string());
    }
    let out = cmd
        .args(["-c", SKLEARN])
        .arg(file.path())
        .args([N.to_string(), D.to_string(), runs.to_string()])
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!(
                "sklearn: skipped ({python} failed; set QA_PIPE_PYTHON to a Python with scikit-learn): {}",
                String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")
            );
            return;
        }
        Err(e) => {
            println!("sklearn: skipped (cannot run {python}: {e})");
            return;
        }
    };
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("sklearn bench prints JSON");
    let sk_times: Vec<f64> = serde_json::from_value(v["times"].clone()).expect("times");
    let sk_med = median(sk_times.clone());
    println!(
        "sklearn t-SNE {N}x{D} (scikit-learn {}): median {sk_med:.3} s  runs {:?}  KL {:.4}  trust@5 {:.4}",
        v["version"].as_str().unwrap_or("?"),
        sk_times.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>(),
        v["kl"].as_f64().unwrap_or(f64::NAN),
        v["trust"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "ratio rust/sklearn = {:.3} (goal <= 0.5)",
        rust_med / sk_med
    );
}
