#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `causal-eval report` on a run of 200,004 stored answers (the three
# baselines on 9,524 medium questions of each of the seven families; made
# with `causal-eval run` once, ~40 s, or taken from REPORT_DATA=DIR): the
# time end to end (process start to file written) over ROUNDS (5) runs,
# median and spread, and the file's size. Targets: under 2 s and 5 MB.
# The same for `causal-eval leaderboard` on that store.
#   tools/bench/report.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
BIN=$BUILD/causal-eval
ROUNDS=${ROUNDS:-5}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
DATA=${REPORT_DATA:-$T/data}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$DATA/data.mdb" ]; then
  echo "making the store: $BIN run --n 9524 --difficulty medium --data $DATA"
  env -u CAUSAL_EVAL_MODEL XDG_CACHE_HOME="$T/cache" "$BIN" run --n 9524 --difficulty medium --data "$DATA" --quiet >/dev/null
fi
answers=$("$BIN" results list --data "$DATA" --json | sed 's/.*"total":\([0-9]*\).*/\1/' | head -1)
models=$("$BIN" results show last --data "$DATA" --json | grep -o '"model":"[^"]*"' | wc -l)
echo "run: $answers questions x $models models = $((answers * models)) answers"

med() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
spread() { sort -g | awk '{v[NR]=$1} END {printf "%s-%s", v[1], v[NR]}'; }
# command...: per run of ROUNDS, "wall cpu" seconds (cpu: user + system of
# all its threads, which a busy machine changes less than the wall time)
times() {
  local TIMEFORMAT='%R %U %S'
  for _ in $(seq 1 "$ROUNDS"); do
    { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }'
  done
}

times "$BIN" report last --data "$DATA" -o "$T/report.html" >"$T/report.times"
secs=$(cut -d' ' -f1 <"$T/report.times" | med)
cpu=$(cut -d' ' -f2 <"$T/report.times" | med)
bytes=$(stat -c %s "$T/report.html")
echo "command: $BIN report last --data DATA -o report.html   ($ROUNDS runs, wall: $(cut -d' ' -f1 <"$T/report.times" | tr '\n' ' '))"
"$BIN" report last --data "$DATA" -o "$T/report.html" --timings 2>&1 | sed 's/^/  /'
awk -v s="$secs" -v c="$cpu" -v sp="$(cut -d' ' -f1 <"$T/report.times" | spread)" -v b="$bytes" 'BEGIN {
  printf "report: median %.2f s (%s s; CPU %.2f s), %.2f MB; targets < 2 s: %s, < 5 MB: %s\n", s, sp, c, b / 1048576,
    (s < 2 ? "PASS" : "FAIL"), (b < 5 * 1048576 ? "PASS" : "FAIL") }'

times "$BIN" leaderboard --data "$DATA" >"$T/lb.times"
echo "command: $BIN leaderboard --data DATA   ($ROUNDS runs, wall: $(cut -d' ' -f1 <"$T/lb.times" | tr '\n' ' '))"
echo "leaderboard: median $(cut -d' ' -f1 <"$T/lb.times" | med) s ($(cut -d' ' -f1 <"$T/lb.times" | spread) s; CPU $(cut -d' ' -f2 <"$T/lb.times" | med) s)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
