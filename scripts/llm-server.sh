#!/usr/bin/env bash
# Start or stop a local llama-server (built by scripts/setup-llm-server.sh) on a free
# loopback port, speaking the OpenAI-compatible API.
#
# Usage: scripts/llm-server.sh start   # prints the base URL, e.g. http://127.0.0.1:41234
#        scripts/llm-server.sh stop
#        scripts/llm-server.sh status
# Env:   QA_PIPE_LLAMA_SERVER, QA_PIPE_LLAMA_MODEL (default: what setup-llm-server.sh
#        prints; it builds them first when its cache is empty),
#        PORT (default: a free port), THREADS (default 1: greedy output then repeats
#        run to run; it changes with the thread count).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${QA_PIPE_LLAMA_SERVER:-}" ] || [ -z "${QA_PIPE_LLAMA_MODEL:-}" ]; then
    llm_env="$("$repo/scripts/setup-llm-server.sh")"
    eval "$llm_env"
fi
server="$QA_PIPE_LLAMA_SERVER"
model="$QA_PIPE_LLAMA_MODEL"
state="$repo/.tools/llm-server"
mkdir -p "$state"

running() { [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

case "${1:-}" in
    start)
        if running; then
            echo "http://127.0.0.1:$(cat "$state/port")"
            exit 0
        fi
        for f in "$server" "$model"; do
            [ -e "$f" ] || { echo "llm-server: $f not found; run scripts/setup-llm-server.sh first" >&2; exit 1; }
        done
        port="${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
        nohup "$server" -m "$model" --alias smollm2 --host 127.0.0.1 --port "$port" \
            -c 4096 -np 1 -t "${THREADS:-1}" >"$state/log" 2>&1 &
        echo $! >"$state/pid"
        echo "$port" >"$state/port"
        for _ in $(seq 1 120); do
            if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
                echo "http://127.0.0.1:$port"
                exit 0
            fi
            running || { echo "llm-server: exited early; log: $state/log" >&2; tail -20 "$state/log" >&2; exit 1; }
            sleep 0.5
        done
        echo "llm-server: not healthy after 60 s; log: $state/log" >&2
        exit 1
        ;;
    stop)
        if running; then
            kill "$(cat "$state/pid")"
            echo "llm-server: stopped" >&2
        fi
        rm -f "$state/pid" "$state/port"
        ;;
    status)
        if running; then echo "running: http://127.0.0.1:$(cat "$state/port")"; else echo "stopped"; exit 1; fi
        ;;
    *)
        sed -n '2,11p' "$0" >&2
        exit 2
        ;;
esac
