#!/usr/bin/env bash
# The test command (README "Run the tests", and .ci/run): installs what the tests need,
# then runs format and lint checks and the whole test suite. Idempotent; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "test dependencies: E5 model + ONNX Runtime, chromium, man-db"
scripts/setup-test-deps.sh

step "test dependencies: llama.cpp server + SmolLM2 model (a 5-8 min build the first time)"
# Assign first: `set -e` stops on a failed set-up, which `eval "$(...)"` would hide.
llm_env="$(scripts/setup-llm-server.sh)"
eval "$llm_env"
export QA_PIPE_LLAMA_SERVER QA_PIPE_LLAMA_MODEL

step "test dependencies: a one-node Slurm cluster (Debian packages)"
scripts/slurm/local-cluster.sh
export QA_PIPE_REQUIRE_SLURM=1

step "test dependencies: s3s-fs, an S3 server for the shared-store tests (crates.io; a few minutes the first time)"
s3_env="$(scripts/setup-s3-server.sh)"
eval "$s3_env"
export QA_PIPE_S3S_FS
export QA_PIPE_REQUIRE_S3=1

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test"
# The report test must open the report in Chromium here, not skip when it is missing.
export QA_PIPE_REQUIRE_CHROMIUM=1
# The man page test must render it with `man -l`, not skip when man is missing.
export QA_PIPE_REQUIRE_MAN=1
export QA_PIPE_SCREENSHOT_DIR="${QA_PIPE_SCREENSHOT_DIR:-$PWD/target/screenshots}"
cargo test --locked
