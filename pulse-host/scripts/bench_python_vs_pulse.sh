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
# 4. Side by side with ratios (issue 3's targets): /api/v1/metrics
#    requests/s under wrk at WRK_CONNECTIONS connections, /api/v1/models
#    latency (median of LATENCY_RUNS sequential requests), idle resident
#    memory (VmRSS) and database size (ours: only the pulse_* tables, as a
#    fresh install would have them, measured on a vacuumed copy).
#
# Usage: pulse-host/scripts/bench_python_vs_pulse.sh
#   env: DAYS=90 INTERVAL=60 MODELS=5 RUNS=3 VENV=/tmp/refvenv
#        WRK_CONNECTIONS=64 WRK_SECONDS=10 LATENCY_RUNS=21 PY_LATENCY_RUNS=3
#        KEEP_DB=1 (reuse $WORK/python.db from an earlier run with the same WORK)
#        PULSE_BIN=target/release/litellm-pulse WORK=$(mktemp -d)
# Needs: python3, curl, wrk, and `cargo build --release -p pulse-host` (done
# if PULSE_BIN is missing). The reference venv is created when absent.
set -euo pipefail

DAYS=${DAYS:-90}
INTERVAL=${INTERVAL:-60}
MODELS=${MODELS:-5}
RUNS=${RUNS:-3}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_SECONDS=${WRK_SECONDS:-10}
LATENCY_RUNS=${LATENCY_RUNS:-21}
# The reference needs seconds per /api/v1/models on a long history.
PY_LATENCY_RUNS=${PY_LATENCY_RUNS:-3}
KEEP_DB=${KEEP_DB:-0}
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

if [[ "$KEEP_DB" == 1 && -s "$WORK/python.db" ]]; then
  echo "== reusing $WORK/python.db"
else
echo "== building a ${DAYS}-day history at ${INTERVAL}s with ${MODELS} models in $WORK"
start=$EPOCHREALTIME
rm -f "$WORK/python.db"
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
fi
rm -f "$WORK/pulse.db" "$WORK/pulse.db-wal" "$WORK/pulse.db-shm"
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
# Uncached: the first request reads the database (as does the first after
# every stored scrape); later ones are served from the read cache.
rs_cold_ms=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$RS_PORT/api/v1/models" |
  awk '{ printf "%.2f", $1 * 1000 }')
echo "rust: first (uncached) /api/v1/models ${rs_cold_ms} ms"

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

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Median of n sequential GETs, in ms.
latency_ms() { # port path n
  for _ in $(seq "$3"); do
    curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$1$2"
  done | sort -g | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] * 1000 }'
}

# Requests/s of wrk on one path; non-2xx answers are reported, not counted.
wrk_rps() { # port path
  local out
  out=$(wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency "http://127.0.0.1:$1$2")
  echo "$out" >>"$WORK/wrk.log"
  if grep -q "Non-2xx" <<<"$out"; then
    echo "warning: non-2xx answers on :$1$2, see $WORK/wrk.log" >&2
  fi
  awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

# Size of the pulse_* tables alone: a copy without the Python tables, vacuumed.
pulse_only_bytes() {
  python3 - "$WORK/pulse.db" "$WORK/pulse-only.db" <<'PY'
import os, sqlite3, sys
src, dst = sys.argv[1], sys.argv[2]
if os.path.exists(dst):
    os.remove(dst)
conn = sqlite3.connect(src)
conn.execute("VACUUM INTO ?", (dst,))
conn.close()
conn = sqlite3.connect(dst)
for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'pulse%' AND name NOT LIKE 'sqlite%'").fetchall():
    conn.execute(f'DROP TABLE "{name}"')
conn.commit()
conn.execute("VACUUM")
conn.close()
print(os.path.getsize(dst))
PY
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.1f", a / b }'; }

sleep 2
py_rss=$(rss_kb "${PIDS[0]}")
rs_rss=$(rss_kb "${PIDS[1]}")
echo "== idle RSS: python ${py_rss} kB, rust ${rs_rss} kB"

echo "== /api/v1/models latency"
py_models=$(latency_ms "$PY_PORT" /api/v1/models "$PY_LATENCY_RUNS")
rs_models=$(latency_ms "$RS_PORT" /api/v1/models "$LATENCY_RUNS")
echo "python ${py_models} ms (median of $PY_LATENCY_RUNS), rust ${rs_models} ms (median of $LATENCY_RUNS)"

echo "== wrk /api/v1/metrics, ${WRK_CONNECTIONS} connections, ${WRK_SECONDS} s each"
py_rps=$(wrk_rps "$PY_PORT" /api/v1/metrics)
rs_rps=$(wrk_rps "$RS_PORT" /api/v1/metrics)
echo "python ${py_rps} req/s, rust ${rs_rps} req/s"
py_rss_load=$(rss_kb "${PIDS[0]}")
rs_rss_load=$(rss_kb "${PIDS[1]}")

py_db=$(stat -c %s "$WORK/python.db")
rs_db_file=$(stat -c %s "$WORK/pulse.db")
rs_db=$(pulse_only_bytes)

echo
echo "== side by side (${DAYS} days at ${INTERVAL} s, ${MODELS} models)"
printf '%-36s %14s %14s %10s %s\n' "" python rust ratio goal
printf '%-36s %14s %14s %10s %s\n' "/api/v1/metrics req/s (wrk -c$WRK_CONNECTIONS)" "$py_rps" "$rs_rps" "$(ratio "$rs_rps" "$py_rps")x" ">= 300x"
printf '%-36s %14s %14s %10s %s\n' "/api/v1/models median ms" "$py_models" "$rs_models" "$(ratio "$py_models" "$rs_models")x" "rust < 10 ms"
printf '%-36s %14s %14s %10s %s\n' "/api/v1/models first (uncached) ms" "-" "$rs_cold_ms" "" ""
printf '%-36s %14s %14s %10s %s\n' "idle RSS kB" "$py_rss" "$rs_rss" "$(ratio "$py_rss" "$rs_rss")x" "rust <= 12288 kB"
printf '%-36s %14s %14s %10s %s\n' "RSS after load kB" "$py_rss_load" "$rs_rss_load" "$(ratio "$py_rss_load" "$rs_rss_load")x" ""
printf '%-36s %14s %14s %10s %s\n' "database bytes (ours: pulse_* only)" "$py_db" "$rs_db" "$(ratio "$py_db" "$rs_db")x" ">= 10x smaller"
printf '%-36s %14s %14s\n' "database file after import" "$py_db" "$rs_db_file"
echo "logs: $WORK/python.log $WORK/pulse.log $WORK/wrk.log"
