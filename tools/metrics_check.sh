#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The metrics endpoint against the real Prometheus tools, on loopback:
#   1. `promtool check metrics` on a scrape of a live `causal-eval run`
#   2. a real Prometheus server scraping that endpoint, then queried for it
#
#   tools/metrics_check.sh [BUILD_DIR]      (run by ctest as tools/metrics_check)
# Needs promtool and prometheus (Debian package prometheus, in tools/install-deps.sh).
set -euo pipefail
BUILD=${1:-build}
CE="$BUILD/causal-eval"
MOCK="$BUILD/mock_server"
for tool in promtool prometheus curl; do
  command -v "$tool" >/dev/null || { echo "metrics_check: $tool not found (tools/install-deps.sh installs it)" >&2; exit 1; }
done
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT INT TERM

wait_for() { # file pattern [seconds]
  for _ in $(seq 1 $(( ${3:-5} * 50 ))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.02
  done
  echo "metrics_check: timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2 || true
  return 1
}

"$CE" generate ladder --n 60 -o "$T/q.jsonl" 2>/dev/null
"$MOCK" --port 0 --questions "$T/q.jsonl" --latency-ms 40 --fault-500 0.1 >"$T/mock.log" 2>&1 &
PIDS+=($!)
wait_for "$T/mock.log" listening
MPORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/mock.log" | head -1)

# a run slow enough to be scraped while it works, serving for 90 s after it
# ends (a loaded machine may take that long to start Prometheus)
"$CE" run --model "openai:m@http://127.0.0.1:$MPORT/v1" --questions "$T/q.jsonl" --concurrency 2 --data "$T/data" \
  --cache off --quiet --metrics-port 0 --metrics-linger 90 --set run.retry_base=0.01 >"$T/run.out" 2>"$T/run.err" &
PIDS+=($!)
wait_for "$T/run.err" "metrics on"
PORT=$(sed -n 's|metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics|\1|p' "$T/run.err")
URL="http://127.0.0.1:$PORT/metrics"
sleep 0.3
curl -sf "$URL" >"$T/scrape.txt"
grep -q '^causal_eval_requests_in_flight ' "$T/scrape.txt"
promtool check metrics <"$T/scrape.txt"
echo "promtool check metrics: ok ($(grep -vc '^#' "$T/scrape.txt") samples, scraped mid-run from $URL)"

# a real Prometheus scraping it every second
for attempt in $(seq 1 10); do
  # below the kernel's range for outgoing connections' ports (32768-60999),
  # which a busy machine's connections may hold: "address already in use"
  PPORT=$(( 20000 + RANDOM % 12000 ))
  cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: causal-eval
    static_configs:
      - targets: ['127.0.0.1:$PORT']
YML
  prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb-$attempt" \
    --web.listen-address="127.0.0.1:$PPORT" >"$T/prometheus.log" 2>&1 &
  PPID_=$!
  PIDS+=($PPID_)
  if wait_for "$T/prometheus.log" "Server is ready to receive web requests" 30; then break; fi
  kill "$PPID_" 2>/dev/null || true
done
query() { curl -sf "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1"; }
for _ in $(seq 1 100); do
  if query 'up{job="causal-eval"}' | grep -q '"value":\[[0-9.]*,"1"\]'; then break; fi
  sleep 0.1
done
query 'up{job="causal-eval"}' | grep -q '"value":\[[0-9.]*,"1"\]' || { echo "prometheus never scraped $URL" >&2; query 'up'; exit 1; }
for _ in $(seq 1 100); do
  v=$(query 'sum(causal_eval_questions_total{job="causal-eval"})' | sed -n 's/.*"value":\[[0-9.]*,"\([0-9.]*\)"\].*/\1/p')
  [ "${v:-0}" = "60" ] && break
  sleep 0.2
done
echo "prometheus scrape: up=1, sum(causal_eval_questions_total) = ${v:-none} (want 60)"
[ "${v:-0}" = "60" ]
query 'causal_eval_errors_total' | grep -q '"error_class":"server"' || true
echo "metrics_check: PASS"
