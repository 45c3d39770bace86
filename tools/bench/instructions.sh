#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Instructions per unit of work, counted by valgrind (callgrind): a figure
# that other work on a shared machine does not change, for comparing two
# builds where requests/s and CPU seconds are too noisy to tell 5% apart.
#
#   1. serve: one POST /evaluate/single with a model_response, dispatched in
#      process as a worker does (tools/bench/serve_inproc.lua; no HTTP)
#   2. run --questions FILE against the mock model server (zero latency),
#      2 workers, concurrency 32: every thread of the process, libcurl's
#      user-space work included, the kernel's not
#   3. bench: the same with --bench all (generation included); valgrind runs
#      one thread at a time, so how the workers share the plan of a
#      benchmark's pairs differs from a run on several cores
#
# Each is the difference of two runs (SMALL and LARGE units) divided by the
# units between them, so start-up (loading Lua, a login's argon2id) drops out.
#
#   tools/bench/instructions.sh [path/to/causal-eval] [serve|run|bench|all]
#
# Settings: SMALL (1000), LARGE (6000) for serve; Q_SMALL (2100), Q_LARGE
# (12100) questions for run; B_SMALL (300), B_LARGE (1700) questions per
# family for bench. Needs valgrind (apt-get install valgrind).
# Takes about 3 minutes; the figures depend on the build type (Release).
set -euo pipefail

BIN=${1:-build/causal-eval}
WHAT=${2:-all}
SMALL=${SMALL:-1000}
LARGE=${LARGE:-6000}
Q_SMALL=${Q_SMALL:-2100}
Q_LARGE=${Q_LARGE:-12100}
B_SMALL=${B_SMALL:-300}
B_LARGE=${B_LARGE:-1700}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

command -v valgrind >/dev/null || { echo "SKIP: valgrind not found (apt-get install valgrind)"; exit 0; }
[ -x "$BIN" ] || { echo "missing $BIN: build first (make build)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
MOCK=$(dirname "$BIN")/mock_server

T=$(mktemp -d)
MOCK_PID=""
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
export XDG_CACHE_HOME="$T/xdg-cache"

# refs CMD...: the instructions valgrind counted for the command
refs() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>"$T/vg.err" >/dev/null ||
    { echo "failed: $*" >&2; tail -n 20 "$T/vg.err" >&2; exit 1; }
  awk '/I +refs/ {gsub(",", "", $4); print $4}' "$T/vg.err"
}

echo "build: $BIN ($(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo '?'))"

if [ "$WHAT" = all ] || [ "$WHAT" = serve ]; then
  mkdir -p "$T/serve"
  printf 'bench-password\n' | "$BIN" serve adduser bench --users-file "$T/serve/users.yaml" >/dev/null
  serve_refs() {
    rm -rf "$T/serve/data"
    BENCHDIR="$T/serve" refs "$BIN" "$HERE/serve_inproc.lua" "$1"
  }
  a=$(serve_refs "$SMALL")
  b=$(serve_refs "$LARGE")
  echo "serve /evaluate/single (scoring, in process): $(( (b - a) / (LARGE - SMALL) )) instructions per request"
fi

if [ "$WHAT" = all ] || [ "$WHAT" = run ] || [ "$WHAT" = bench ]; then
  [ -x "$MOCK" ] || { echo "missing $MOCK: build first (make build)" >&2; exit 1; }
  "$MOCK" --port 0 >"$T/mock.out" 2>&1 &
  MOCK_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$T/mock.out" && break; sleep 0.05; done
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$T/mock.out")
  [ -n "$port" ] || { echo "mock_server did not start" >&2; cat "$T/mock.out" >&2; exit 1; }
  run_refs() {
    rm -rf "$T/data" "$T/xdg-cache"
    refs "$BIN" run --model "openai:mock@http://127.0.0.1:$port/v1" "$@" --workers 2 --concurrency 32 \
      --data "$T/data" --quiet --json
  }
fi

if [ "$WHAT" = all ] || [ "$WHAT" = run ]; then
  "$BIN" generate all --n $(( (Q_LARGE + 6) / 7 )) --seed 1001 -o "$T/all.jsonl" >/dev/null 2>&1
  head -n "$Q_SMALL" "$T/all.jsonl" >"$T/small.jsonl"
  head -n "$Q_LARGE" "$T/all.jsonl" >"$T/large.jsonl"
  a=$(run_refs --questions "$T/small.jsonl")
  b=$(run_refs --questions "$T/large.jsonl")
  echo "run --questions (mock, 2 workers, concurrency 32): $(( (b - a) / (Q_LARGE - Q_SMALL) )) instructions per question"
fi

if [ "$WHAT" = all ] || [ "$WHAT" = bench ]; then
  a=$(run_refs --bench all --n "$B_SMALL" --seed 1001)
  b=$(run_refs --bench all --n "$B_LARGE" --seed 1001)
  echo "run --bench all (mock, 2 workers, concurrency 32): $(( (b - a) / (7 * (B_LARGE - B_SMALL)) )) instructions per question"
fi
