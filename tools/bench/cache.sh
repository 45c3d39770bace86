#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Speed of the layered cache (issue targets in brackets):
#   memory-layer hit, median of single gets      [< 1 us]
#   LMDB hit, median of single gets              [< 5 us]
#   Redis pipelined gets per second, loopback    [>= 100,000]
#   a repeated evaluation against a 50 ms mock: second run vs first  [>= 10x, no request]
#
#   tools/bench/cache.sh [BUILD_DIR]      (default build/; needs redis-server)
# Each figure is the median of ROUNDS (3) runs of tools/bench/cache_bench.c,
# printed with the command that produced it.
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
BENCH="$BUILD/cache_bench"
CE="$BUILD/causal-eval"
MOCK="$BUILD/mock_server"
for f in "$BENCH" "$CE" "$MOCK"; do
  [ -x "$f" ] || { echo "cache.sh: $f not built (cmake --build $BUILD)" >&2; exit 2; }
done
command -v redis-server >/dev/null || { echo "SKIP: redis-server not installed (tools/install-deps.sh)"; exit 0; }

T=$(mktemp -d)
REDIS_PID= MOCK_PID=
cleanup() {
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT INT TERM

for attempt in $(seq 1 20); do
  PORT=$(( 20000 + RANDOM % 40000 ))
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do
    grep -q "Ready to accept" "$T/redis.log" 2>/dev/null && break
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.02
  done
  grep -q "Ready to accept" "$T/redis.log" && break
  kill "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=
done
[ -n "$REDIS_PID" ] || { echo "cache.sh: could not start redis-server" >&2; exit 1; }
URL="redis://127.0.0.1:$PORT/0"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "redis: $(redis-server --version | cut -d' ' -f3) on $URL"

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

cmd="$BENCH $T/disk-R $URL"
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$T/disk-$r"
  "$BENCH" "$T/disk-$r" "$URL" >"$T/round-$r.txt"
done
mem=$(grep -h '^memory hit' "$T"/round-*.txt | sed 's/.*median \([0-9.]*\) us.*/\1/' | median)
lmdb=$(grep -h '^lmdb hit' "$T"/round-*.txt | sed 's/.*median \([0-9.]*\) us.*/\1/' | median)
redis=$(grep -h '^redis pipelined' "$T"/round-*.txt | sed 's/.*median \([0-9]*\) per.*/\1/' | median)
echo
echo "command: $cmd   ($ROUNDS rounds, each the median of 200,000 gets / 9 rounds of batches)"
awk -v m="$mem" -v l="$lmdb" -v r="$redis" 'BEGIN {
  printf "memory-layer hit:  median %.3f us   target < 1 us: %s\n", m, (m < 1 ? "PASS" : "FAIL")
  printf "LMDB hit:          median %.3f us   target < 5 us: %s\n", l, (l < 5 ? "PASS" : "FAIL")
  printf "Redis pipelined:   %d gets/s        target >= 100000: %s\n", r, (r >= 100000 ? "PASS" : "FAIL")
}'

# a repeated evaluation: the second run is answered by the disk layer
"$CE" generate all --n 30 --seed 1 -o "$T/q.jsonl" 2>/dev/null
"$MOCK" --port 0 --questions "$T/q.jsonl" --latency-ms 50 >"$T/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 100); do grep -q listening "$T/mock.log" && break; sleep 0.02; done
MPORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/mock.log" | head -1)
run() {
  "$CE" run --json --quiet --model "openai:m@http://127.0.0.1:$MPORT/v1" --questions "$T/q.jsonl" --concurrency 16 \
    --data "$T/data" --set "cache.disk.path=$T/rc" --set cache.memory.max_size_mb=0 2>/dev/null |
    sed 's/.*"elapsed_s":\([0-9.e-]*\).*/\1/'
}
first=$(run)
reqs1=$(curl -s "http://127.0.0.1:$MPORT/stats" | sed 's/.*"requests":\([0-9]*\).*/\1/')
curl -s -X POST "http://127.0.0.1:$MPORT/reset" >/dev/null
second=$(run)
reqs2=$(curl -s "http://127.0.0.1:$MPORT/stats" | sed 's/.*"requests":\([0-9]*\).*/\1/')
echo
echo "command: $CE run --model openai:m@MOCK(50 ms) --questions q.jsonl (210 questions) --concurrency 16, twice"
awk -v a="$first" -v b="$second" -v r1="$reqs1" -v r2="$reqs2" 'BEGIN {
  printf "repeated run:      first %.3f s (%d requests), second %.3f s (%d requests): %.0fx   target >= 10x, 0 requests: %s\n",
    a, r1, b, r2, a / b, (a / b >= 10 && r2 == 0 ? "PASS" : "FAIL")
}'
