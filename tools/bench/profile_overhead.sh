#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cost of profiling a run: `causal-eval run` against the zero-latency mock
# server, with and without --profile, ROUNDS (5) interleaved rounds of
# N (20000) questions; prints the median throughput of each and the overhead.
# Target: under 10% of throughput.
#   tools/bench/profile_overhead.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${ROUNDS:-5}
N=${N:-20000}
CE="$BUILD/causal-eval"
T=$(mktemp -d)
MOCK_PID=
cleanup() { [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM
"$BUILD/mock_server" --port 0 >"$T/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 100); do grep -q listening "$T/mock.log" && break; sleep 0.02; done
PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/mock.log" | head -1)
run() { # extra flags...
  rm -rf "$T/data"
  "$CE" run --json --quiet --model "openai:m@http://127.0.0.1:$PORT/v1" --bench ladder --n "$N" --seed 1 \
    --data "$T/data" --cache off "$@" 2>/dev/null | sed 's/.*"elapsed_s":\([0-9.e-]*\).*/\1/'
}
cmd="$CE run --model openai:m@MOCK --bench ladder --n $N --cache off [--profile]"
for r in $(seq 1 "$ROUNDS"); do
  a=$(run); b=$(run --profile)
  echo "round $r: plain $(awk -v n="$N" -v s="$a" 'BEGIN{printf "%.0f", n/s}') q/s, --profile $(awk -v n="$N" -v s="$b" 'BEGIN{printf "%.0f", n/s}') q/s"
  echo "$a" >>"$T/plain"; echo "$b" >>"$T/prof"
done
med() { sort -g "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "command: $cmd ($ROUNDS interleaved rounds, mock server on loopback)"
awk -v n="$N" -v a="$(med "$T/plain")" -v b="$(med "$T/prof")" 'BEGIN {
  ta = n / a; tb = n / b; o = 100 * (ta - tb) / ta
  printf "median throughput: plain %.0f q/s, with --profile %.0f q/s: overhead %.1f%% (target < 10%%): %s\n", ta, tb, o, (o < 10 ? "PASS" : "FAIL")
}'
