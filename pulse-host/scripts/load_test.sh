#!/usr/bin/env bash
# Load script (not a test): CONNECTIONS concurrent clients for DURATION
# seconds across every endpoint while the server scrapes a fake LiteLLM
# every second; then the same against the Python reference (litellm-pulse
# 0.3.0) over the endpoints it has. Prints requests/s, p50, p99, non-2xx
# answers and socket errors side by side with ratios.
#
# 1. A fake LiteLLM on 127.0.0.1 serves a real capture (FIXTURE) at
#    /metrics and /metrics/ and counts the scrapes it answers.
# 2. litellm-pulse (release build, built when missing) scrapes it every
#    second with a fresh database; we wait for /readyz.
# 3. wrk rotates requests over all endpoints (load_paths.lua); each path
#    must answer 200 once before the run.
# 4. litellm-pulse runs again over the reference's endpoints only, then
#    the Python reference (venv reused when it already has litellm_pulse
#    0.3.0) gets the same run; the ratios compare those two.
# Exits 1 when litellm-pulse answered any request with an error.
#
# Usage: pulse-host/scripts/load_test.sh
#   env: DURATION=30 CONNECTIONS=200 THREADS=2 WRK_TIMEOUT=10s
#        PULSE_FIXTURES=<dir with LiteLLM captures> FIXTURE=06-teams-after-traffic.prom
#        PULSE_BIN=target/release/litellm-pulse VENV=target/bench/venv
#        SKIP_PYTHON=1 (only litellm-pulse) WORK=$(mktemp -d)
# Needs: python3, curl, wrk (apt-get install wrk).
set -euo pipefail

DURATION=${DURATION:-30}
CONNECTIONS=${CONNECTIONS:-200}
THREADS=${THREADS:-2}
# Slow answers count in the latency figures rather than vanish as timeouts.
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
SKIP_PYTHON=${SKIP_PYTHON:-0}
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$SCRIPTS/../.." && pwd)
PULSE_FIXTURES=${PULSE_FIXTURES:-$ROOT/tests/fixtures/litellm}
FIXTURE=${FIXTURE:-06-teams-after-traffic.prom}
PULSE_BIN=${PULSE_BIN:-$ROOT/target/release/litellm-pulse}
VENV=${VENV:-$ROOT/target/bench/venv}
WORK=${WORK:-$(mktemp -d)}
LUA=$SCRIPTS/load_paths.lua

PULSE_PATHS=(
  /api/v1/metrics
  /api/v1/metrics/cost_daily
  "/api/v1/history?limit=168"
  /api/v1/models
  "/api/v1/breakdown?by=model&window=today"
  "/api/v1/series?metric=cost&by=model"
  /api/v2/summary
  /raw
  /health
  /metrics
  /livez
)
PYTHON_PATHS=(
  /api/v1/metrics
  /api/v1/metrics/cost_daily
  "/api/v1/history?limit=168"
  /api/v1/models
  /raw
  /health
)

capture=$PULSE_FIXTURES/$FIXTURE
[[ -r "$capture" ]] || { echo "capture not found: $capture (set PULSE_FIXTURES)" >&2; exit 1; }
[[ -r "$LUA" ]] || { echo "missing $LUA" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
  echo "== installing wrk"
  apt-get install -y -q wrk >/dev/null
fi
if [[ ! -x "$PULSE_BIN" ]]; then
  (cd "$ROOT" && cargo build --release -p pulse-host)
fi
if [[ "$SKIP_PYTHON" != 1 ]] && ! "$VENV/bin/python" -c 'import litellm_pulse' 2>/dev/null; then
  echo "== creating the reference venv in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q litellm-pulse==0.3.0
fi

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port on 127.0.0.1 (the kernel picks it; freed again before use).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_200() { # url seconds
  local deadline=$((SECONDS + $2))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) == 200 ]]; do
    ((SECONDS < deadline)) || { echo "timed out waiting for 200 from $1" >&2; return 1; }
    sleep 0.1
  done
}

# The fake LiteLLM: the capture at /metrics and /metrics/, scrape count at /hits.
cat >"$WORK/fake_litellm.py" <<'PY'
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

body = open(sys.argv[1], "rb").read()
hits = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global hits
        if self.path in ("/metrics", "/metrics/"):
            with lock:
                hits += 1
            self.reply(body, "text/plain; version=0.0.4; charset=utf-8")
        elif self.path == "/hits":
            with lock:
                n = hits
            self.reply(f"{n}\n".encode(), "text/plain")
        else:
            self.send_error(404)

    def reply(self, data, ctype):
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
server.serve_forever()
PY

fake_port=$(free_port)
python3 "$WORK/fake_litellm.py" "$capture" "$fake_port" >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
wait_200 "http://127.0.0.1:$fake_port/hits" 30
fake_hits() { curl -fsS "http://127.0.0.1:$fake_port/hits"; }
metrics_url=http://127.0.0.1:$fake_port/metrics/

# Every path must answer 200 once, so a missing route cannot hide in the count.
preflight() { # port paths...
  local port=$1 path code bad=0
  shift
  for path in "$@"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")
    if [[ "$code" != 200 ]]; then
      echo "preflight: $path answered $code" >&2
      bad=1
    fi
  done
  return "$bad"
}

declare -A R=()

# Runs wrk and prints its report; stores R[<label>.<key>] from the Lua
# summary line, the socket error total, and the scrapes the fake answered.
run_wrk() { # label port paths...
  local label=$1 port=$2 out before after line kv
  shift 2
  before=$(fake_hits)
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" --latency \
    -s "$LUA" "http://127.0.0.1:$port" -- "$@")
  after=$(fake_hits)
  echo "$out" | tee -a "$WORK/wrk-$label.log" | grep -v '^LOADSTAT'
  line=$(grep '^LOADSTAT ' <<<"$out")
  for kv in ${line#LOADSTAT }; do
    R[$label.${kv%%=*}]=${kv#*=}
  done
  R[$label.sockerr]=$((R[$label.connect] + R[$label.read] + R[$label.write] + R[$label.timeout]))
  R[$label.crw]=${R[$label.connect]}/${R[$label.read]}/${R[$label.write]}
  R[$label.scrapes]=$((after - before))
}

load_line() { awk '{ print $1, $2, $3 }' /proc/loadavg; }

echo "== machine: $(nproc) cores, load average $(load_line) (1/5/15 min) before the runs"
echo "== fake LiteLLM on :$fake_port serving $capture ($(stat -c %s "$capture") bytes)"

rs_port=$(free_port)
LITELLM_PULSE_LOG_LEVEL=warn "$PULSE_BIN" --host 127.0.0.1 --port "$rs_port" \
  --scrape-interval 1 --metrics-url "$metrics_url" --db-path "$WORK/pulse/pulse.db" \
  >"$WORK/pulse.log" 2>&1 &
PIDS+=($!)
rs_pid=$!
wait_200 "http://127.0.0.1:$rs_port/readyz" 120
preflight "$rs_port" "${PULSE_PATHS[@]}"
echo "== litellm-pulse on :$rs_port: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s over all ${#PULSE_PATHS[@]} endpoints"
run_wrk pulse "$rs_port" "${PULSE_PATHS[@]}"
R[pulse.load]=$(load_line)
R[pulse.rss]=$(awk '/^VmRSS:/ { print $2 }' "/proc/$rs_pid/status")
if [[ "$SKIP_PYTHON" != 1 ]]; then
  # The reference's endpoints alone, so the ratios compare like with like.
  echo "== litellm-pulse on :$rs_port: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s over the reference's ${#PYTHON_PATHS[@]} endpoints"
  run_wrk pulse-same "$rs_port" "${PYTHON_PATHS[@]}"
  R[pulse-same.load]=$(load_line)
  R[pulse-same.rss]=$(awk '/^VmRSS:/ { print $2 }' "/proc/$rs_pid/status")
fi
# Scrapes litellm-pulse itself counted as failed, over both runs.
R[pulse.failed]=$(curl -fsS "http://127.0.0.1:$rs_port/metrics" |
  awk '/^litellm_pulse_scrapes_total\{result="error"\}/ { printf "%d", $2 }')
kill "$rs_pid" 2>/dev/null || true
wait "$rs_pid" 2>/dev/null || true

if [[ "$SKIP_PYTHON" != 1 ]]; then
  py_port=$(free_port)
  mkdir -p "$WORK/python"
  LITELLM_PULSE_METRICS_URL=$metrics_url LITELLM_PULSE_SCRAPE_INTERVAL=1 \
    LITELLM_PULSE_PORT=$py_port LITELLM_PULSE_HOST=127.0.0.1 \
    LITELLM_PULSE_DB_PATH="$WORK/python/python.db" LITELLM_PULSE_LOG_LEVEL=warning \
    "$VENV/bin/litellm-pulse" >"$WORK/python.log" 2>&1 &
  PIDS+=($!)
  py_pid=$!
  wait_200 "http://127.0.0.1:$py_port/health" 120
  # /health answers 200 before the first scrape; wait for "ok".
  deadline=$((SECONDS + 60))
  until curl -fsS "http://127.0.0.1:$py_port/health" | grep -q '"ok"'; do
    ((SECONDS < deadline)) || { echo "python reference never scraped" >&2; exit 1; }
    sleep 0.2
  done
  preflight "$py_port" "${PYTHON_PATHS[@]}"
  echo "== python reference on :$py_port: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s over ${#PYTHON_PATHS[@]} endpoints"
  run_wrk python "$py_port" "${PYTHON_PATHS[@]}"
  R[python.load]=$(load_line)
  R[python.rss]=$(awk '/^VmRSS:/ { print $2 }' "/proc/$py_pid/status")
  kill "$py_pid" 2>/dev/null || true
  wait "$py_pid" 2>/dev/null || true
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || a == "-" || b == "" || b == "-" || b == 0) print "-"; else printf "%.1fx", a / b }'; }
# Ratios compare the reference with litellm-pulse on the same endpoints.
row() { # label key ratio-direction (up: pulse/python, down: python/pulse, none)
  local py=${R[python.$2]:--} same=${R[pulse-same.$2]:--} all=${R[pulse.$2]:--} r=
  case $3 in
    up) r=$(ratio "$same" "$py") ;;
    down) r=$(ratio "$py" "$same") ;;
  esac
  printf '%-28s %15s %15s %15s %8s\n' "$1" "$py" "$same" "$all" "$r"
}

echo
echo "== side by side: $CONNECTIONS clients, ${DURATION} s each, scraping every 1 s ($(nproc) cores, shared)"
printf '%-28s %15s %15s %15s %8s\n' "" "python 0.3.0" "pulse (same)" "pulse (all)" "ratio"
printf '%-28s %15s %15s %15s %8s\n' "endpoints in rotation" "${#PYTHON_PATHS[@]}" "${#PYTHON_PATHS[@]}" "${#PULSE_PATHS[@]}" ""
row "requests/s" rps up
row "requests" requests up
row "p50 ms" p50_ms down
row "p99 ms" p99_ms down
row "max ms" max_ms down
row "non-2xx (status >= 400)" non2xx none
row "socket errors" sockerr none
row "  connect/read/write" crw none
row "  timeouts (> $WRK_TIMEOUT)" timeout none
row "scrapes during run" scrapes none
row "RSS after run kB" rss down
row "load avg after (1/5/15)" load none
printf '%-28s %15s %31s\n' "failed scrapes (self-count)" - "${R[pulse.failed]:--}"
echo "(ratio: pulse (same) against python; requests/s pulse/python, latency and RSS python/pulse)"
echo "logs: $WORK"

errors=$((${R[pulse.non2xx]} + ${R[pulse.sockerr]} + ${R[pulse-same.non2xx]:-0} + ${R[pulse-same.sockerr]:-0}))
if ((errors != 0)); then
  echo "litellm-pulse: $errors errors under load" >&2
  exit 1
fi
