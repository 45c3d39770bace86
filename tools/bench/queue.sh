#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The work queue's speed-up: one run of N questions queued on a local
# redis-server (`run --queue`), answered by 1 and then by 4 `causal-eval
# worker` processes on this machine, against the mock model server with
# 50 ms per reply. Each worker keeps C requests in flight. Prints each
# round's time (from queueing to the run's end, Redis's clock) and
# questions per second, then the medians and the speed-up (target >= 3x).
#
# MODE=processes (default): N workers are N `causal-eval worker` processes
# (as on N machines, here sharing one LMDB store); MODE=threads: one
# process with --workers N (its threads share one store writer).
# SOURCE=file (default) queues the lines of a question file (workers read
# them), SOURCE=bench the tickets of generated questions (workers generate
# them again: more CPU per question on the workers' machine).
#
#   tools/bench/queue.sh [BUILD_DIR]          (default build)
#   ROUNDS=5 N=2000 C=16 LATENCY_MS=50 SOURCE=bench tools/bench/queue.sh build
#   WORKER_ARGS="--set store.sync=false" tools/bench/queue.sh build   (more words for each worker)
set -euo pipefail

BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
N=${N:-1600}
C=${C:-16}
LATENCY_MS=${LATENCY_MS:-50}
SOURCE=${SOURCE:-file}
MODE=${MODE:-processes}
BIN=$BUILD/causal-eval
MOCK=$BUILD/mock_server
for f in "$BIN" "$MOCK"; do
  [ -x "$f" ] || { echo "queue.sh: $f is missing: build first (cmake --build $BUILD)" >&2; exit 2; }
done
command -v redis-server >/dev/null || { echo "queue.sh: redis-server is missing (tools/install-deps.sh)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/causal-eval-queue-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

# redis-server on a free port
for _ in $(seq 1 20); do
  PORT=$((20000 + RANDOM % 40000))
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
  RPID=$!
  for _ in $(seq 1 100); do
    grep -q "Ready to accept" "$TMP/redis.log" 2>/dev/null && break
    kill -0 "$RPID" 2>/dev/null || break
    sleep 0.02
  done
  if grep -q "Ready to accept" "$TMP/redis.log"; then PIDS+=("$RPID"); break; fi
  kill "$RPID" 2>/dev/null || true
done
URL="redis://127.0.0.1:$PORT/0"

# questions the mock knows (it answers them by their prompt), and the mock
PER=$(( (N + 6) / 7 ))
"$BIN" generate all --n "$PER" -o "$TMP/q.jsonl" >/dev/null 2>&1
case $SOURCE in
  file) QUESTIONS=(--questions "$TMP/q.jsonl" --limit "$N") ;;
  bench) QUESTIONS=(--bench all --n "$PER" --limit "$N") ;;
  *) echo "queue.sh: SOURCE is file or bench" >&2; exit 2 ;;
esac
"$MOCK" --port 0 --questions "$TMP/q.jsonl" --accuracy 0.7 --latency-ms "$LATENCY_MS" >"$TMP/mock.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 250); do grep -q "listening on" "$TMP/mock.log" && break; sleep 0.02; done
MOCK_URL="http://127.0.0.1:$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/mock.log")/v1"

# seconds (Redis's clock, queueing to the end) of one run answered by $1 workers
one_round() {
  local workers=$1 round=$2 data="$TMP/d-$1-$2" wp=() procs=$1 threads=1
  if [ "$MODE" = threads ]; then procs=1 threads=$1; fi
  for i in $(seq 1 "$procs"); do
    # shellcheck disable=SC2086 # WORKER_ARGS: words to add
    "$BIN" worker --queue "$URL" --data "$data" --workers "$threads" --concurrency $((threads * C)) --cache off \
      ${WORKER_ARGS:-} 2>"$TMP/w-$workers-$round-$i.err" &
    wp+=("$!")
  done
  for i in $(seq 1 "$procs"); do
    for _ in $(seq 1 250); do grep -q "in flight at most" "$TMP/w-$workers-$round-$i.err" && break; sleep 0.02; done
  done
  "$BIN" run --queue "$URL" --data "$data" --model "openai:mock@$MOCK_URL" "${QUESTIONS[@]}" \
    --cache off --json --quiet >"$TMP/r-$workers-$round.json" 2>"$TMP/r-$workers-$round.err"
  kill -TERM "${wp[@]}" 2>/dev/null || true
  for i in $(seq 1 "$procs"); do
    if ! wait "${wp[$((i - 1))]}"; then
      echo "queue.sh: worker process $i of $procs (round $round) failed:" >&2
      cat "$TMP/w-$workers-$round-$i.err" >&2
      exit 1
    fi
  done
  "$BIN" -e '
    local r = require("causal_eval.json").decode(io.read("a"))
    assert(r.status == "completed" and r.models[1].n == tonumber(os.getenv("N")), "run not completed: " .. tostring(r.status))
    io.write(("%.3f"):format(r.elapsed_s))' <"$TMP/r-$workers-$round.json"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "queue bench: $N questions ($SOURCE), workers as $MODE, mock ${LATENCY_MS} ms per reply, $C requests in flight per worker, $ROUNDS rounds ($(nproc) cores)"
export N
ONE=() FOUR=()
for r in $(seq 1 "$ROUNDS"); do
  t1=$(one_round 1 "$r")
  t4=$(one_round 4 "$r")
  ONE+=("$t1"); FOUR+=("$t4")
  awk -v r="$r" -v a="$t1" -v b="$t4" -v n="$N" \
    'BEGIN {printf "round %d: 1 worker %.2f s (%.0f q/s), 4 workers %.2f s (%.0f q/s), %.2fx\n", r, a, n/a, b, n/b, a/b}'
done
m1=$(printf '%s\n' "${ONE[@]}" | median)
m4=$(printf '%s\n' "${FOUR[@]}" | median)
awk -v a="$m1" -v b="$m4" -v n="$N" \
  'BEGIN {printf "median: 1 worker %.2f s (%.0f q/s), 4 workers %.2f s (%.0f q/s), speed-up %.2fx (target >= 3x)\n", a, n/a, b, n/b, a/b}'
