#!/usr/bin/env bash
# Builds s3s-fs (crates.io: an S3 server over a local directory, with conditional puts:
# If-None-Match: * and If-Match) with `cargo install --locked` into a cache folder outside
# the clone, keyed by its version (default ${XDG_CACHE_HOME:-~/.cache}/qa-pipe/s3s-fs-VERSION),
# so a fresh clone on the same machine reuses the build and a version bump rebuilds.
# Idempotent: skipped when the binary exists. Prints the environment variable the store
# tests read (QA_PIPE_S3S_FS: the binary), to be evaluated by scripts/test.sh.
#
# Why s3s-fs and not Garage: README "The shared store". The tests start it themselves on
# 127.0.0.1 with a fresh root directory and keys of their own (tests/store_remote.rs).
#
# Usage: scripts/setup-s3-server.sh [--jobs N]
# Env:   TOOLS_DIR (overrides the cache folder)
set -euo pipefail

S3S_FS_VERSION=0.14.1

jobs=2
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "setup-s3-server: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/qa-pipe"
tools="${TOOLS_DIR:-$cache_root/s3s-fs-$S3S_FS_VERSION}"
bin="$tools/bin/s3s-fs"

if [ ! -x "$bin" ]; then
    start=$(date +%s)
    echo "setup-s3-server: building s3s-fs $S3S_FS_VERSION into $tools (a few minutes, once)" >&2
    mkdir -p "$tools"
    # Its own target dir: the project's build settings (profiles, incremental) stay out.
    CARGO_TARGET_DIR="$tools/build" CARGO_INCREMENTAL=0 \
        nice cargo install --locked --quiet --jobs "$jobs" \
        --features binary --version "$S3S_FS_VERSION" --root "$tools" s3s-fs >&2
    rm -rf "$tools/build"
    echo "setup-s3-server: built in $(( $(date +%s) - start )) s" >&2
fi
echo "QA_PIPE_S3S_FS=$bin"
