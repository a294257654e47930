#!/usr/bin/env python3
"""Embedding speed: the Rust engine against Python onnxruntime, same model, same texts,
same run. Prints sentences/s, the Rust/Python ratio and peak memory (/usr/bin/time -v):
Python for batch 1, 16 and 64, with and without length sorting; Rust once (it batches
texts of equal token length itself, so its vectors do not depend on batching).

    scripts/setup-models.sh
    models/.venv/bin/python scripts/e5/bench.py [--n 256] [--threads 2] [--repeats 3]
        [--batches 1,16,64] [--model models/multilingual-e5-small]

Builds `cargo build --release --example e5_bench` first (CARGO_TARGET_DIR is honoured).
Texts: --n deterministic Turkish "query: "/"passage: " sentences of 1-8 clauses (about
10-120 tokens), so length sorting has padding to save. Each configuration runs in its own
process (engine load not timed; one warm-up batch; best of --repeats full passes).
Speed on a shared machine moves with load: read the ratios, not the absolute numbers.
Besides wall-clock sentences/s it prints sentences per CPU-second (user + system time of
all the child's threads during the timed passes), which other processes disturb far less.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CLAUSES = [
    "Türkiye'nin başkenti Ankara'dır",
    "İstanbul iki kıtayı birbirine bağlar",
    "yapay sinir ağları katmanlardan oluşur",
    "öğrenme oranı çok büyük seçilirse eğitim ıraksar",
    "Adam optimizasyonu momentum ile uyarlanabilir adımları birleştirir",
    "ılık bir rüzgâr esiyordu ve ışıklar yanıyordu",
    "fotosentez bitkilerin ışık enerjisini kimyasal enerjiye dönüştürmesidir",
    "modelin doğruluğu test kümesinde ölçülür",
    "soru ile cevap arasındaki anlam benzerliği önemlidir",
    "Kuantum bilgisayarları bazı problemleri hızlı çözebilir",
    "veri kümesi dengeli olmalıdır",
    "her deney beş farklı tohum ile tekrarlandı",
    "kayıp fonksiyonu ortalama kare hatadır",
    "t-SNE yüksek boyutlu veriyi iki boyuta indirger",
]


def make_texts(n, seed=0):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.choice([1, 1, 1, 2, 2, 3, 4, 8])
        body = ", ".join(rng.choice(CLAUSES) for _ in range(k))
        out.append(("query: " if i % 2 == 0 else "passage: ") + body[0].upper() + body[1:] + ("?" if i % 2 == 0 else "."))
    return out


def run(cmd):
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    result = json.loads(p.stdout.strip().splitlines()[-1])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    result["peak_mb"] = int(rss.group(1)) / 1024 if rss else float("nan")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=192)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", default="1,16,64")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "multilingual-e5-small"))
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--quiet", "--release", "--example", "e5_bench"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    rust_bin = os.path.join(target, "release", "examples", "e5_bench")

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(make_texts(args.n)) + "\n")
        texts_file = f.name
    common = [args.model, texts_file]
    print(f"{args.n} texts, {args.threads} threads, best of {args.repeats}; model {args.model}")
    print(f"{'batch':>5} {'sort':>6} | {'rust s/s':>9} {'python s/s':>10} {'rust/py':>7} |"
          f" {'rust s/cpu-s':>12} {'py s/cpu-s':>10} {'rust/py':>7} | {'rust MB':>7} {'py MB':>7}")
    r = run([rust_bin] + common + [str(args.threads), str(args.repeats)])
    for batch in [int(b) for b in args.batches.split(",")]:
        for sort in ("nosort", "sort"):
            tail = [str(batch), str(args.threads), sort, str(args.repeats)]
            p = run([sys.executable, os.path.join(ROOT, "scripts", "e5", "bench_python.py")] + common + tail)
            ratio = r["sentences_per_s"] / p["sentences_per_s"]
            cpu_ratio = r["sentences_per_cpu_s"] / p["sentences_per_cpu_s"]
            print(f"{batch:>5} {sort:>6} | {r['sentences_per_s']:>9.1f} {p['sentences_per_s']:>10.1f} {ratio:>7.2f} |"
                  f" {r['sentences_per_cpu_s']:>12.1f} {p['sentences_per_cpu_s']:>10.1f} {cpu_ratio:>7.2f} |"
                  f" {r['peak_mb']:>7.0f} {p['peak_mb']:>7.0f}", flush=True)
            if abs(r["checksum"] - p["checksum"]) > 1e-3:
                print(f"  WARNING: checksums differ (rust {r['checksum']}, python {p['checksum']})")
    os.unlink(texts_file)


if __name__ == "__main__":
    main()
