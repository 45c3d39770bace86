#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Can `causal-eval load` itself sustain 1,000 users on one core, and what
# latency does it add? Against nginx answering GET /healthz with a fixed
# 15-byte JSON body on 127.0.0.1 (one worker, on another core when there is
# one), with the load tool and wrk pinned to one core (taskset -c $CORE):
#
#   1. saturation: $USERS users with no wait vs wrk -c $USERS: requests/s,
#      the tool's CPU (its own figure: cpu_s of --json), p50/p99;
#   2. paced, the way a locust test runs: $USERS users waiting
#      between(0.5, 1.5) s, some $USERS/s requests: the share of the core the
#      tool needs, and its p50/p99;
#   3. latency added: one user with no wait against wrk on one connection,
#      both back to back with nothing queued: the difference of the p50s is
#      what the tool adds to each request.
#
#   tools/bench/load.sh [path/to/causal-eval]
#
# Settings (environment): USERS (1000), DURATION (10 s per measurement),
# ROUNDS (3), CORE (0). Needs nginx, wrk and taskset
# (tools/install-deps.sh --bench). Exit 0 when the tool sustained the paced
# load (its requests/s within 10% of what the users asked for, under 90% of
# the core), 1 otherwise; a missing tool skips (exit 0).
set -euo pipefail

BIN=${1:-build/causal-eval}
USERS=${USERS:-1000}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CORE=${CORE:-0}

skip() { echo "SKIP: $* (tools/install-deps.sh --bench, or: apt-get install nginx wrk)"; exit 0; }
[ -x "$BIN" ] || { echo "missing $BIN: build first (make build)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || for c in /usr/sbin/nginx /usr/local/sbin/nginx; do [ -x "$c" ] && { NGINX=$c; break; }; done
[ -n "$NGINX" ] || skip "nginx not found"
command -v wrk >/dev/null || skip "wrk not found"
command -v taskset >/dev/null || skip "taskset not found"

T=$(mktemp -d)
chmod 755 "$T"
NGINX_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

NGINX_CORE=""
[ "$(nproc)" -ge 2 ] && NGINX_CORE=$(( CORE == 0 ? 1 : 0 ))
start_nginx() {
  local port=$1
  mkdir -p "$T/nginx"
  cat >"$T/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$port backlog=4096;
    default_type application/json;
    location / { return 200 '{"status":"ok"}'; }
  }
}
EOF
  if [ -n "$NGINX_CORE" ]; then
    taskset -c "$NGINX_CORE" "$NGINX" -e "$T/nginx/error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" >"$T/nginx/out" 2>&1 &
  else
    "$NGINX" -e "$T/nginx/error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" >"$T/nginx/out" 2>&1 &
  fi
  NGINX_PID=$!
  local i
  for i in $(seq 50); do
    kill -0 "$NGINX_PID" 2>/dev/null || { wait "$NGINX_PID" 2>/dev/null || true; NGINX_PID=""; return 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}
PORT=""
for try in $(seq 20); do
  p=$((20000 + RANDOM % 40000))
  if start_nginx "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "could not start nginx:" >&2; cat "$T/nginx/error.log" "$T/nginx/out" >&2 2>/dev/null; exit 1; }
URL=http://127.0.0.1:$PORT
echo "endpoint: nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') on $URL/healthz${NGINX_CORE:+ (core $NGINX_CORE)}; load tool and wrk on core $CORE"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

cat >"$T/saturate.lua" <<'EOF'
return { tasks = { function(user) user:get("/healthz") end } }
EOF
cat >"$T/paced.lua" <<'EOF'
local load = require "causal_eval.load"
return { wait_time = load.between(0.5, 1.5), tasks = { function(user) user:get("/healthz") end } }
EOF

# load SCENARIO SPAWN_RATE [USERS] -> "rps cpu_share p50_ms p99_ms failures"
load() {
  taskset -c "$CORE" "$BIN" load "$T/$1" --host "$URL" --users "${3:-$USERS}" --spawn-rate "$2" \
    --duration "${DURATION}s" --quiet --json "$T/r.json" >/dev/null 2>"$T/load.err" || {
      echo "causal-eval load failed:" >&2; cat "$T/load.err" >&2; exit 1; }
  F="$T/r.json" "$BIN" -e '
    local d = assert(require("causal_eval.json").decode(io.open(os.getenv("F")):read("a")))
    local t = d.total
    print(("%.0f %.3f %.3f %.3f %d"):format(t.rps, d.run.cpu_s / d.run.elapsed_s, t.p50_ms, t.p99_ms, t.failures))'
}
# wrk CONNECTIONS -> "rps p50_ms p99_ms"
wrk_() {
  taskset -c "$CORE" wrk -t1 -c"$1" -d"${DURATION}s" --latency "$URL/healthz" >"$T/wrk.out" 2>&1 || {
    cat "$T/wrk.out" >&2; exit 1; }
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' "$T/wrk.out"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$T/sat" ; : >"$T/paced" ; : >"$T/one"
for round in $(seq "$ROUNDS"); do
  read -r w_rps w_p50 w_p99 < <(wrk_ "$USERS")
  read -r l_rps l_cpu l_p50 l_p99 l_fail < <(load saturate.lua 100000)
  read -r p_rps p_cpu p_p50 p_p99 p_fail < <(load paced.lua "$USERS")
  read -r w1_rps w1_p50 w1_p99 < <(wrk_ 1)
  read -r o_rps o_cpu o_p50 o_p99 o_fail < <(load saturate.lua 1 1)
  echo "round $round: saturation: wrk -c$USERS $w_rps req/s (p50 $w_p50 ms, p99 $w_p99 ms);" \
       "load $l_rps req/s, CPU $l_cpu of a core (p50 $l_p50 ms, p99 $l_p99 ms), failures $l_fail"
  echo "round $round: paced: load $p_rps req/s, CPU $p_cpu of a core, p50 $p_p50 ms, p99 $p_p99 ms, failures $p_fail"
  echo "round $round: one connection: wrk $w1_rps req/s, p50 $w1_p50 ms (p99 $w1_p99 ms);" \
       "load $o_rps req/s, p50 $o_p50 ms (p99 $o_p99 ms)"
  echo "$w_rps $l_rps $l_cpu" >>"$T/sat"
  echo "$p_rps $p_cpu $p_p50 $p_p99" >>"$T/paced"
  echo "$w1_rps $w1_p50 $o_rps $o_p50" >>"$T/one"
done

col() { awk -v c="$2" '{print $c}' "$1" | median; }
w=$(col "$T/sat" 1) l=$(col "$T/sat" 2) lc=$(col "$T/sat" 3)
p_rps=$(col "$T/paced" 1) p_cpu=$(col "$T/paced" 2) p50=$(col "$T/paced" 3) p99=$(col "$T/paced" 4)
w1r=$(col "$T/one" 1) w1=$(col "$T/one" 2) o1r=$(col "$T/one" 3) o1=$(col "$T/one" 4)
echo
echo "medians of $ROUNDS rounds, $USERS users, ${DURATION} s each:"
awk -v w="$w" -v l="$l" -v lc="$lc" 'BEGIN { printf "  saturation: causal-eval load %d req/s vs wrk %d (%.2f of wrk), %.0f%% of a core, %.1f us of CPU per request\n", l, w, l / w, lc * 100, lc / l * 1e6 }'
awk -v r="$p_rps" -v c="$p_cpu" -v u="$USERS" -v a="$p50" -v p99="$p99" 'BEGIN { printf "  paced (between 0.5 and 1.5 s): %d req/s for %d users asking ~%d, %.1f%% of a core, p50 %.3f ms, p99 %.3f ms\n", r, u, u, c * 100, a, p99 }'
awk -v a="$o1" -v b="$w1" -v ar="$o1r" -v br="$w1r" 'BEGIN { printf "  one connection back to back: causal-eval load p50 %.3f ms (%d req/s) vs wrk %.3f ms (%d req/s): the tool adds %.3f ms\n", a, ar, b, br, a - b }'
ok=$(awk -v r="$p_rps" -v c="$p_cpu" -v u="$USERS" 'BEGIN { print (r >= 0.9 * u && c < 0.9) ? 1 : 0 }')
if [ "$ok" = 1 ]; then echo "target met: $USERS users on one core"; else echo "target MISSED: $USERS users on one core"; exit 1; fi
