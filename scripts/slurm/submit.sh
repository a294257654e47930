#!/usr/bin/env bash
# Runs a pipeline on a Slurm cluster: one job array per wave of `qa-pipe jobs`, each task
# one `qa-pipe exec KEY` against this project's artifacts/ (which every node must see at
# the same path), each array starting when the previous one has succeeded; then one last
# job, `qa-pipe run PIPELINE`, which finds everything cached and prints the report's path.
#
#   scripts/slurm/submit.sh [--wait] [--store URL] [--var NAME=VALUE]... [--set STAGE.PARAM=VALUE]... PIPELINE [-- SBATCH_OPTION...]
#
# --wait   block until the last job ends; exit with its status (non-zero if any task failed)
# --store  share artifacts through the store at URL (s3://bucket/prefix, ...) instead of a
#          shared artifacts/: each task fetches its inputs from it and publishes there, so
#          nodes need the project (pipelines, stages, data) at this path but no shared
#          filesystem; the store's credentials must be in the tasks' environment (sbatch
#          passes the submitter's by default). Logs then go to each node's $TMPDIR (/tmp).
# Env:     QA_PIPE_BIN  the qa-pipe binary (default: qa-pipe on PATH, else
#                       target/release/qa-pipe); it must be reachable from every node.
# Prints the last job's id on stdout. Logs: artifacts/slurm/<job>_<task>.log. The last job's
# run is recorded in the run log (`qa-pipe runs`) with its Slurm job id.
set -euo pipefail

wait=0
store=()
vars=()
pipeline=""
while [ $# -gt 0 ]; do
    case "$1" in
        --wait) wait=1; shift ;;
        --var) vars+=(--var "$2"); shift 2 ;;
        --set) vars+=(--set "$2"); shift 2 ;;
        --store) store=(--store "$2"); shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "submit.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
        *) pipeline="$1"; shift ;;
    esac
done
[ -n "$pipeline" ] || { echo "submit.sh: name a pipeline, e.g. pipelines/report.yaml" >&2; exit 2; }
extra=("$@")

root="$(pwd -P)"
bin="${QA_PIPE_BIN:-$(command -v qa-pipe || echo "$root/target/release/qa-pipe")}"
[ -x "$bin" ] || { echo "submit.sh: no qa-pipe binary at $bin (build it or set QA_PIPE_BIN)" >&2; exit 2; }
pipeline="$(cd "$(dirname "$pipeline")" && pwd -P)/$(basename "$pipeline")"

logs="$root/artifacts/slurm"
mkdir -p "$logs"
plan="$(mktemp -d "$logs/plan.XXXXXX")"
# Where tasks write their logs: with a store, no directory is shared between nodes.
task_logs="$logs"
[ ${#store[@]} -eq 0 ] || task_logs="${TMPDIR:-/tmp}"
# One file of keys per wave, in order; jobs already cached are left out.
"$bin" -C "$root" "${store[@]}" jobs "$pipeline" "${vars[@]}" --todo \
    | awk -v dir="$plan" '{ print $2 > (dir "/wave-" sprintf("%04d", $1)) }'

quote() { printf '%q ' "$@"; }
prev=""
for wave_file in "$plan"/wave-*; do
    [ -e "$wave_file" ] || continue
    n="$(wc -l <"$wave_file")"
    dep=()
    [ -z "$prev" ] || dep=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
    # Each task reads its key from the wave's file; rayon uses the CPUs Slurm gave it.
    cmd="export RAYON_NUM_THREADS=\${SLURM_CPUS_PER_TASK:-1}; "
    cmd+="key=\$(sed -n \"\$((SLURM_ARRAY_TASK_ID + 1))p\" $(quote "$wave_file")); "
    cmd+="exec $(quote "$bin" -C "$root" "${store[@]}" exec) \"\$key\" $(quote -p "$pipeline" "${vars[@]}")"
    prev="$(sbatch --parsable --job-name="qa-pipe-$(basename "$wave_file")" \
        --array="0-$((n - 1))" "${dep[@]}" --output="$task_logs/%A_%a.log" \
        "${extra[@]}" --wrap="$cmd")"
    prev="${prev%%;*}"
    echo "submit.sh: $(basename "$wave_file"): $n job(s) as array $prev" >&2
done

dep=()
[ -z "$prev" ] || dep=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
last="$(sbatch --parsable --job-name=qa-pipe-run "${dep[@]}" --output="$task_logs/%j.log" \
    "${extra[@]}" --wrap="exec $(quote "$bin" -C "$root" "${store[@]}" run "$pipeline" "${vars[@]}")")"
last="${last%%;*}"
echo "$last"
[ "$wait" = 1 ] || exit 0

# `sbatch --wait` polls with a growing interval (tens of seconds late); ask every second.
while [ -n "$(squeue -h -j "$last" -o %T 2>/dev/null)" ]; do sleep 1; done
info="$(scontrol show job "$last" -o 2>/dev/null || true)"
case "$info" in
    *JobState=COMPLETED*ExitCode=0:0*) exit 0 ;;
esac
state="$(printf '%s' "$info" | grep -o 'JobState=[A-Z_]*' || echo 'JobState=unknown')"
echo "submit.sh: job $last ended with ${state#JobState=}; logs in $task_logs" >&2
exit 1
