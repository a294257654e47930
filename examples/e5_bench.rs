//! Child process of scripts/e5/bench.py: embed the texts of a file with the Rust engine and
//! print one JSON line of timings (the driver adds peak memory and the Python comparison).
//!
//!     cargo run --release --example e5_bench -- MODEL_DIR TEXTS_FILE THREADS REPEATS
//!
//! (Batches are not a setting: the engine groups texts by token length, embed/batching.rs.)

use std::path::Path;
use std::time::Instant;

use qa_pipe::embed::{E5Model, E5Options};

/// User + system CPU time of this process (all threads), from /proc/self/stat. On a shared
/// machine this moves far less with other load than wall time does.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // `rest` starts at field 3 (state, not numeric, skipped by the parse), so field 14 is f[10].
    (f.get(10).unwrap_or(&0.0) + f.get(11).unwrap_or(&0.0)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, texts, threads, repeats] = args.as_slice() else {
        anyhow::bail!("usage: e5_bench MODEL_DIR TEXTS_FILE THREADS REPEATS");
    };
    let texts: Vec<String> = std::fs::read_to_string(texts)?
        .lines()
        .map(str::to_string)
        .collect();
    let repeats: usize = repeats.parse()?;
    let opts = E5Options {
        threads: threads.parse()?,
        ..E5Options::default()
    };
    let t0 = Instant::now();
    let model = E5Model::load(Path::new(model), opts)?;
    let load_s = t0.elapsed().as_secs_f64();
    model.embed(&texts[..32.min(texts.len())])?; // warm-up: first-run allocations
    let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    let mut checksum = 0.0f32;
    for _ in 0..repeats {
        let (t, c) = (Instant::now(), cpu_seconds());
        let v = model.embed(&texts)?;
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - c);
        checksum = v.column(0).sum();
    }
    let n = texts.len() as f64;
    println!(
        "{{\"engine\":\"rust\",\"n\":{n},\"best_s\":{best:.4},\"sentences_per_s\":{:.2},\
         \"sentences_per_cpu_s\":{:.2},\"load_s\":{load_s:.3},\"checksum\":{checksum}}}",
        n / best,
        n / best_cpu
    );
    Ok(())
}
