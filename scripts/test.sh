#!/usr/bin/env bash
# The test command (README "Run the tests", and .ci/run): installs what the tests need,
# then runs format and lint checks and the whole test suite. Idempotent; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ -x scripts/setup-test-deps.sh ]; then
  step "test dependencies (models, LLM server, browser)"
  scripts/setup-test-deps.sh
fi

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test"
cargo test --locked
