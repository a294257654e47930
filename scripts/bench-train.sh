#!/usr/bin/env bash
# Times qa-pipe's training against the numpy reference on the same shapes, in one
# invocation, and prints the ratios. A benchmark, not a test: run it on a quiet machine.
#
#   scripts/bench-train.sh [REPEAT]      (needs python3 + shared/reference/requirements.txt)
#   THREADS=1 scripts/bench-train.sh 1   (both sides on one core: numpy with one BLAS/OpenMP
#                                         thread, qa-pipe with one rayon thread; steadier on a
#                                         busy machine, where OpenMP's spinning threads can
#                                         slow numpy down by 10x or more)
#
# Workloads (the study's): core = GD, SGD, Adam x 5 seeds x 100 epochs on 100 x 2049 rows,
# hidden 64, batch 32, test accuracy every epoch; grid = hidden [32,64,128] x lr
# [0.1,0.01,0.001,0.0001], Adam, 30 epochs, 5 seeds. qa-pipe runs the runs in parallel
# (rayon, 2 threads) as the train/sweep stages do; numpy runs them one after another as
# the study did, with OpenBLAS free to use both cores.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT="${1:-3}"
THREADS="${THREADS:-2}"
REF="${SEED_REF:-../shared/reference/seed_ref.py}"
[ -f "$REF" ] || REF=/work/shared/reference/seed_ref.py
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# seed_ref's bench loads a CSV pair before timing (for its TF-IDF task, not run here).
printf 'soru,cevap,etiket\n"Soru bir?","Cevap bir.",1\n"Soru iki?","Cevap iki.",-1\n' >"$TMP/t.csv"

cargo build --release --example bench_train 2>&1 | tail -1
BIN="${CARGO_TARGET_DIR:-target}/release/examples/bench_train"

echo "== numpy reference (seed_ref.py bench, median of $REPEAT, threads: $THREADS)"
# As the reference README says: let OpenBLAS pick its own (AVX-512) kernels.
NP_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
if [ "$THREADS" = 1 ]; then
    NP_ENV+=(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1)
fi
"${NP_ENV[@]}" python3 "$REF" bench --only a,b \
    --runs "$REPEAT" --wait 20 --max-foreign 0.5 --task-budget 300 \
    --train "$TMP/t.csv" --test "$TMP/t.csv" --json "$TMP/numpy.json"

echo "== qa-pipe (median of $REPEAT, $THREADS threads)"
"$BIN" --threads "$THREADS" --repeat "$REPEAT" --json "$TMP/rust.json"

python3 - "$TMP/numpy.json" "$TMP/rust.json" <<'PY'
import json, sys
n = json.load(open(sys.argv[1]))["timings_s"]
r = json.load(open(sys.argv[2]))
core_np = n["a_core_gd_sgd_adam_5seeds_100ep_numpy_acc"]["median"]
core_sk = n["a_core_gd_sgd_adam_5seeds_100ep_sklearn_acc"]["median"]
grid_np = n["b_grid_adam_3x4_30ep_5seeds"]["median"]
print("\n%-34s %9s %9s %9s" % ("workload", "numpy s", "qa-pipe s", "ratio"))
for prec in ("f32", "f64"):
    if "core_" + prec not in r:
        continue
    c, g = r["core_" + prec], r["grid_" + prec]
    print("%-34s %9.3f %9.3f %8.1fx" % ("core, numpy acc (%s)" % prec, core_np, c, core_np / c))
    print("%-34s %9.3f %9.3f %8.1fx" % ("core, sklearn acc as study (%s)" % prec, core_sk, c, core_sk / c))
    print("%-34s %9.3f %9.3f %8.1fx" % ("grid 3x4 x 5 seeds (%s)" % prec, grid_np, g, grid_np / g))
PY
