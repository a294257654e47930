#!/usr/bin/env bash
# Times a fully cached run of pipelines/report.yaml against the shared store (s3s-fs on
# 127.0.0.1, built by scripts/setup-s3-server.sh) with a warm local cache, against the
# same run with no store (goal: within 2x), the same once its record of the store's keys
# has run out (one listing), and with a cold local cache (download time,
# bytes moved). The first, uncached run (about 2 min) fills a scratch copy of the project.
#
#   scripts/bench-store.sh [REPEAT] [--var NAME=VALUE]...
#
# Env: QA_PIPE_BIN (default target/debug/qa-pipe; build it with the crate at opt-level 3,
#      `CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo build`, for numbers like the README's).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
repeat=5
case "${1:-}" in [0-9]*) repeat="$1"; shift ;; esac
vars=("$@")
bin="${QA_PIPE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/qa-pipe}"
eval "$("$repo/scripts/setup-s3-server.sh")"

work="$(mktemp -d)"
server=""
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
proj="$work/project"
mkdir -p "$proj" "$work/s3/bench"
for d in pipelines stages data data/study-style; do
    mkdir -p "$proj/$d"
    find "$repo/$d" -maxdepth 1 -type f -exec cp {} "$proj/$d/" \;
done
ln -s "$repo/models" "$proj/models"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$QA_PIPE_S3S_FS" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret \
    "$work/s3" >/dev/null 2>&1 &
server=$!
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 \
    AWS_ENDPOINT="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true
url="s3://bench/report"

now() { date +%s.%N; }
# Median wall seconds of `qa-pipe ARGS...` run $repeat times.
median() {
    local ts=()
    for _ in $(seq "$repeat"); do
        local t0; t0=$(now)
        "$bin" -C "$proj" -q "$@" >/dev/null
        ts+=("$(echo "$(now) - $t0" | bc)")
    done
    printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

t0=$(now)
"$bin" -C "$proj" -q run pipelines/report.yaml "${vars[@]}" >/dev/null
echo "uncached local run: $(echo "$(now) - $t0" | bc) s"
t0=$(now)
"$bin" -C "$proj" -v --store "$url" run pipelines/report.yaml "${vars[@]}" 2>"$work/push.log" >/dev/null
echo "first run with the store (publishes every artifact): $(echo "$(now) - $t0" | bc) s"
grep ' requests;' "$work/push.log"
keys=$(find "$proj/artifacts/objects" -mindepth 1 -maxdepth 1 | wc -l)
bytes=$(du -sb "$proj/artifacts/objects" | cut -f1)
echo "artifacts: $keys keys, $bytes bytes"

local_s=$(median run pipelines/report.yaml "${vars[@]}")
remote_s=$(median --store "$url" run pipelines/report.yaml "${vars[@]}")
"$bin" -C "$proj" -v --store "$url" run pipelines/report.yaml "${vars[@]}" 2>"$work/warm.log" >/dev/null
echo "fully cached, no store:            $local_s s (median of $repeat)"
echo "fully cached, store + warm cache:  $remote_s s (median of $repeat); ratio $(echo "scale=2; $remote_s / $local_s" | bc) (goal <= 2)"
grep ' requests;' "$work/warm.log"
# The same run once the record of the store's keys has run out (older than an hour, or
# removed): one listing, which renews it.
ts=()
for _ in $(seq "$repeat"); do
    rm -f "$proj"/artifacts/state/store-*.keys
    t0=$(now)
    "$bin" -C "$proj" -v --store "$url" run pipelines/report.yaml "${vars[@]}" 2>"$work/listed.log" >/dev/null
    ts+=("$(echo "$(now) - $t0" | bc)")
done
listed_s=$(printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "fully cached, store + warm cache, record run out: $listed_s s (median of $repeat); ratio $(echo "scale=2; $listed_s / $local_s" | bc)"
grep ' requests;' "$work/listed.log"

for i in $(seq "$repeat"); do
    rm -rf "$proj/artifacts"
    t0=$(now)
    "$bin" -C "$proj" -v --store "$url" run pipelines/report.yaml "${vars[@]}" 2>"$work/cold.log" >/dev/null
    echo "cold local cache, run $i: $(echo "$(now) - $t0" | bc) s; $(grep ' requests;' "$work/cold.log")"
done
