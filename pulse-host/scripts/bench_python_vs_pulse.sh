#!/usr/bin/env bash
# Compare the Python reference (litellm-pulse 0.3.0) and litellm-pulse (Rust)
# on the same long history.
#
# 1. Builds a DB with the reference's own open_db / store_snapshot /
#    store_model_snapshots: DAYS days at one scrape every INTERVAL seconds,
#    MODELS models, ending now (so "today", "this week" and "this month" hold
#    data).
# 2. Serves a copy with each program (the scrape target is a closed port, so
#    only the stored history is read). The Rust server imports its copy once
#    at start-up; the time until it answers is reported.
# 3. Times /api/v1/metrics, /api/v1/models and /health RUNS times on each.
#
# Usage: pulse-host/scripts/bench_python_vs_pulse.sh
#   env: DAYS=90 INTERVAL=60 MODELS=5 RUNS=3 VENV=/tmp/refvenv
#        PULSE_BIN=target/release/litellm-pulse WORK=$(mktemp -d)
# Needs: python3, curl, and `cargo build --release -p pulse-host` (done if
# PULSE_BIN is missing). The reference venv is created when absent.
set -euo pipefail

DAYS=${DAYS:-90}
INTERVAL=${INTERVAL:-60}
MODELS=${MODELS:-5}
RUNS=${RUNS:-3}
VENV=${VENV:-/tmp/refvenv}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PULSE_BIN=${PULSE_BIN:-$ROOT/target/release/litellm-pulse}
WORK=${WORK:-$(mktemp -d)}
PY_PORT=${PY_PORT:-18601}
RS_PORT=${RS_PORT:-18602}
DEAD_TARGET=http://127.0.0.1:9/metrics/

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q litellm-pulse==0.3.0
fi
if [[ ! -x "$PULSE_BIN" ]]; then
  (cd "$ROOT" && cargo build --release -p pulse-host)
fi

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== building a ${DAYS}-day history at ${INTERVAL}s with ${MODELS} models in $WORK"
start=$EPOCHREALTIME
"$VENV/bin/python" - "$WORK/python.db" "$DAYS" "$INTERVAL" "$MODELS" <<'PY'
import random, sys, time
from litellm_pulse.db import METRIC_KEYS, open_db, store_model_snapshots, store_snapshot

path, days, interval, n_models = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
conn = open_db(path)
rng = random.Random(7)
models = [f"model-{i}" for i in range(n_models)]
per_model = ["tokens", "input_tokens", "output_tokens", "cost", "deployment_requests"]
raw = {k: 0.0 for k in METRIC_KEYS}
model_raw = {m: {model: 0.0 for model in models} for m in per_model}
end = int(time.time())
ts = end - days * 86400
while ts <= end:
    deltas = {k: 0.0 for k in METRIC_KEYS}
    model_deltas = {m: {} for m in per_model}
    for model in models:
        n = rng.randint(0, 4)
        inp, out = n * rng.randint(50, 500), n * rng.randint(10, 200)
        for metric, d in (("tokens", inp + out), ("input_tokens", inp), ("output_tokens", out),
                          ("cost", n * 0.0004), ("deployment_requests", n)):
            model_raw[metric][model] += d
            model_deltas[metric][model] = d
            if metric in deltas:
                deltas[metric] += d
        deltas["requests"] += n
    for k in METRIC_KEYS:
        raw[k] += deltas[k]
    store_snapshot(conn, ts, raw, deltas, False)
    store_model_snapshots(conn, ts, {m: dict(v) for m, v in model_raw.items()}, model_deltas, False)
    ts += interval
conn.close()
PY
echo "built in $(elapsed "$start") s, $(stat -c %s "$WORK/python.db") bytes"
cp "$WORK/python.db" "$WORK/pulse.db"

wait_up() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "timed out waiting for $1" >&2; return 1; }
    sleep 0.1
  done
}

time_get() { # label port path
  local t
  for _ in $(seq "$RUNS"); do
    t=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$2$3")
    printf '%-8s %-18s %8.3f s\n' "$1" "$3" "$t"
  done
}


echo "== starting the Python reference on :$PY_PORT"
LITELLM_PULSE_DB_PATH="$WORK/python.db" LITELLM_PULSE_METRICS_URL=$DEAD_TARGET \
  LITELLM_PULSE_PORT=$PY_PORT LITELLM_PULSE_HOST=127.0.0.1 LITELLM_PULSE_LOG_LEVEL=warning \
  "$VENV/bin/litellm-pulse" >"$WORK/python.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$PY_PORT/health" 120

echo "== starting litellm-pulse (Rust) on :$RS_PORT (imports the copy on first open)"
start=$EPOCHREALTIME
LITELLM_PULSE_DB_PATH="$WORK/pulse.db" LITELLM_PULSE_METRICS_URL=$DEAD_TARGET \
  LITELLM_PULSE_PORT=$RS_PORT LITELLM_PULSE_HOST=127.0.0.1 LITELLM_PULSE_LOG_LEVEL=warn \
  "$PULSE_BIN" >"$WORK/pulse.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$RS_PORT/health" 600
echo "rust: import + start-up took $(elapsed "$start") s"

echo "== timings (${RUNS} runs each)"
for path in /api/v1/metrics /api/v1/models /health; do
  time_get python "$PY_PORT" "$path"
  time_get rust "$RS_PORT" "$path"
done

echo "== same answers? (all-time requests and cost)"
for port in $PY_PORT $RS_PORT; do
  curl -fsS "http://127.0.0.1:$port/api/v1/metrics" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["cost"], d["requests_monthly"])'
done
echo "logs: $WORK/python.log $WORK/pulse.log"
