#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fuzzes the YAML loader (host/core/yaml_tree) with libFuzzer for SECONDS (default 60).
# Builds target fuzz_yaml in build-fuzz/ (clang, -DCE_FUZZ=ON: ASan + UBSan), runs it on
# tools/fuzz/corpus-run/ (seeded from tools/fuzz/corpus/, keeps what earlier runs found;
# gitignored), and writes crash-*/leak-*/timeout-* reproducers to tools/fuzz/.
# Exit status: 0 when the run ended cleanly, non-zero on any crash, leak, sanitizer
# report or timeout. Replay a reproducer: build-fuzz/fuzz_yaml tools/fuzz/crash-...
set -euo pipefail

secs=${1:-60}
case $secs in ''|*[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-fuzz
here=$root/tools/fuzz
run=$here/corpus-run
log=$build/fuzz.log

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S "$root" -B "$build" -DCE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target fuzz_yaml -j"${JOBS:-2}"

mkdir -p "$run"
cp -n "$here"/corpus/* "$run"/ 2>/dev/null || true

# UBSan must stop the run, not just print; LSan checks each input for leaks.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}

echo "fuzz_yaml: ${secs}s on $(ls "$run" | wc -l) inputs, log in $log"
set +e
"$build/fuzz_yaml" "$run" \
  -max_len=65536 -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -dict="$here/yaml.dict" -artifact_prefix="$here/" -print_final_stats=1 \
  >"$log" 2>&1
rc=$?
set -e

grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" || tail -n 5 "$log"
grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
  echo "fuzz_yaml: FAILED (exit $rc), report:"
  grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log" | head -n 60
  ls -1 "$here"/crash-* "$here"/leak-* "$here"/timeout-* "$here"/oom-* 2>/dev/null || true
  exit 1
fi
if [ $rc -ne 0 ]; then
  echo "fuzz_yaml: FAILED (exit $rc)"
  tail -n 20 "$log"
  exit $rc
fi
echo "fuzz_yaml: no crash, leak or sanitizer report in ${secs}s"
