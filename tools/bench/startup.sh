#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Startup time of `causal-eval -e 'print(1)'`: median of 20 runs (target: under
# 10 ms), with plain lua5.4 on the same machine for scale. Repeats the whole
# measurement ROUNDS times (default 5) because shared machines are noisy, and
# prints the median of the round medians.
#   tools/bench/startup.sh [path/to/causal-eval]
set -euo pipefail
BIN=${1:-build/causal-eval}
BUILD=$(dirname "$BIN")
ROUNDS=${ROUNDS:-5}
SPAWN="$BUILD/spawn_time"
[ -x "$SPAWN" ] || { echo "missing $SPAWN: build first (make build)" >&2; exit 1; }

medians=()
for r in $(seq "$ROUNDS"); do
  line=$("$SPAWN" 20 "$BIN" -e 'print(1)')
  echo "causal-eval -e 'print(1)' round $r: $line"
  medians+=("$(echo "$line" | sed -E 's/.*median ([0-9.]+) ms.*/\1/')")
done
if command -v lua5.4 >/dev/null; then
  echo "lua5.4 -e 'print(1)' (reference):   $("$SPAWN" 20 lua5.4 -e 'print(1)')"
fi
med=$(printf '%s\n' "${medians[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "startup median over $ROUNDS rounds of 20 runs: ${med} ms (target < 10 ms)"
awk -v m="$med" 'BEGIN { exit !(m < 10) }' && echo "PASS" || { echo "FAIL"; exit 1; }
