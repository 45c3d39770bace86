#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fuzzes the request bodies of `causal-eval serve` (tools/fuzz/fuzz_request.c:
# the server's depth check, then the login, single and batch parsers of
# serve/request.lua in a host Lua state) with libFuzzer for SECONDS (default 20).
# Builds fuzz_request in build-fuzz/ (clang, -DCE_FUZZ=ON: ASan + UBSan), runs it
# on tools/fuzz/corpus-request-run/ (seeded from tools/fuzz/corpus-request/;
# gitignored), and writes crash-*/leak-*/timeout-* reproducers to tools/fuzz/.
# Exit status: 0 when the run ended cleanly, non-zero on any crash, leak,
# sanitizer report or timeout. CI (.ci/run) runs it for 20 s.
set -euo pipefail

secs=${1:-20}
case $secs in ''|*[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
here=$root/tools/fuzz
run=$here/corpus-request-run

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S "$root" -B "$build" -DCE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target fuzz_request -j"${JOBS:-2}"
log=$build/fuzz_request.log

mkdir -p "$run"
cp -n "$here"/corpus-request/* "$run"/ 2>/dev/null || true

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}

echo "fuzz_request: ${secs}s on $(ls "$run" | wc -l) inputs, log in $log"
set +e
"$build/fuzz_request" "$run" \
  -max_len=16384 -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -dict="$here/request.dict" -artifact_prefix="$here/" -print_final_stats=1 \
  >"$log" 2>&1
rc=$?
set -e

grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" || tail -n 5 "$log"
grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: |a parser raised' "$log"; then
  echo "fuzz_request: FAILED (exit $rc), report:"
  grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|a parser raised' "$log" | head -n 60
  ls -1 "$here"/crash-* "$here"/leak-* "$here"/timeout-* "$here"/oom-* 2>/dev/null || true
  exit 1
fi
if [ $rc -ne 0 ]; then
  echo "fuzz_request: FAILED (exit $rc)"
  tail -n 20 "$log"
  exit $rc
fi
echo "fuzz_request: no crash, leak or sanitizer report in ${secs}s"
