#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Speed of `causal-eval serve` on loopback, measured with wrk:
#
#   1. GET /healthz (answered by the server thread, no Lua) against nginx
#      answering the same fixed body; target: serve >= 50% of nginx's req/s
#   2. POST /evaluate/single with a model_response (scoring only: decode,
#      check, auth, score, store the record, answer), every body different so
#      that no answer comes from the request cache; target >= 10,000 req/s.
#      The same request repeated (answered from the cache) is shown beside it.
#   3. memory: MEM_REQUESTS (1,000,000) scoring requests, sampling the
#      server's RssAnon as they go; target: no growth after the warm-up, and
#      under 64 MB. RssFile (the store's data.mdb pages, page cache) is shown
#      beside it.
#
#   tools/bench/serve.sh [path/to/causal-eval]
#
# Settings (environment): ROUNDS (3, interleaved nginx/serve), DURATION (5 s
# per measurement), CONNECTIONS (64), WRK_THREADS (1), WORKERS (1:
# api.worker_count), IO_THREADS (1: api.io_threads), NGINX_WORKERS (1),
# MEM_REQUESTS (1000000; 0 skips), ENV (production), SET (more --set K=V,
# space-separated). The server runs with api.rate_limit_per_minute=0 (the
# benchmark's one token would be limited otherwise). Needs nginx and wrk
# (tools/install-deps.sh --bench). Exit: 0 targets met, 1 a target missed or
# a step failed.
set -euo pipefail

BIN=${1:-build/causal-eval}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-1}
WORKERS=${WORKERS:-1}
IO_THREADS=${IO_THREADS:-1}
NGINX_WORKERS=${NGINX_WORKERS:-1}
MEM_REQUESTS=${MEM_REQUESTS:-1000000}
ENV=${ENV:-production}
SET=${SET:-}

skip() {
  echo "SKIP: $* (install the benchmark tools with: tools/install-deps.sh --bench)"
  exit 0
}
[ -x "$BIN" ] || { echo "missing $BIN: build first (make build)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || for c in /usr/sbin/nginx /usr/local/sbin/nginx; do [ -x "$c" ] && { NGINX=$c; break; }; done
[ -n "$NGINX" ] || skip "nginx not found"
WRK=$(command -v wrk || true)
[ -n "$WRK" ] || skip "wrk not found"
command -v curl >/dev/null || skip "curl not found"

T=$(mktemp -d)
chmod 755 "$T"
export XDG_CACHE_HOME="$T/xdg-cache"
NGINX_PID="" SERVE_PID=""
stop_pid() {
  local p=$1 i
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$SERVE_PID"
  stop_pid "$NGINX_PID"
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { echo $((20000 + RANDOM % 40000)); }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ---- nginx: the same fixed body /healthz gives ----
start_nginx() {
  local port=$1
  mkdir -p "$T/nginx"
  cat >"$T/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    default_type application/json;
    location = /healthz { return 200 '{"status":"ok"}'; }
  }
}
EOF
  "$NGINX" -e "$T/nginx/error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" >"$T/nginx/out" 2>&1 &
  NGINX_PID=$!
  local i
  for i in $(seq 50); do
    kill -0 "$NGINX_PID" 2>/dev/null || { NGINX_PID=""; return 1; }
    listening "$port" && return 0
    sleep 0.1
  done
  return 1
}
NGINX_PORT=""
for _ in $(seq 20); do p=$(free_port); if start_nginx "$p"; then NGINX_PORT=$p; break; fi; done
[ -n "$NGINX_PORT" ] || { echo "could not start nginx" >&2; cat "$T/nginx/error.log" >&2 || true; exit 1; }

# ---- serve, with a user and a token ----
printf 'bench-password\n' | "$BIN" serve adduser bench --users-file "$T/users.yaml" >/dev/null
sets=(--set "api.users_file=$T/users.yaml" --set api.rate_limit_per_minute=0 --set "api.worker_count=$WORKERS"
      --set "api.io_threads=$IO_THREADS" --set "cache.disk.path=$T/cache")
for s in $SET; do sets+=(--set "$s"); done
SERVE_PORT=""
for _ in $(seq 10); do
  p=$(free_port)
  "$BIN" serve --env "$ENV" --port "$p" --data "$T/data" "${sets[@]}" >"$T/serve.log" 2>&1 &
  SERVE_PID=$!
  for i in $(seq 100); do
    grep -q "listening on" "$T/serve.log" 2>/dev/null && break
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q "listening on" "$T/serve.log"; then SERVE_PORT=$p; break; fi
  stop_pid "$SERVE_PID"; SERVE_PID=""
done
[ -n "$SERVE_PORT" ] || { echo "could not start serve:" >&2; cat "$T/serve.log" >&2; exit 1; }
TOKEN=$(curl -s "http://127.0.0.1:$SERVE_PORT/auth/login" -d '{"username":"bench","password":"bench-password"}' |
        sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || { echo "login failed" >&2; cat "$T/serve.log" >&2; exit 1; }

cat >"$T/eval.lua" <<'EOF'
-- POST /evaluate/single, scoring only. DISTINCT=1: every body differs (a
-- counter in the response, per wrk thread), so nothing comes from the cache.
local token, distinct = os.getenv("TOKEN"), os.getenv("DISTINCT") == "1"
local id, n = 0, 0
function setup(thread) id = id + 1; thread:set("tid", id) end
function request()
  n = n + 1
  local resp = distinct and ("%s (%d.%d)"):format(n % 2 == 0 and "Yes." or "No.", tid, n) or "Yes."
  local body = ('{"model":"bench","task_type":"ladder","index":%d,"model_response":"%s"}'):format(distinct and n % 100 or 7, resp)
  return wrk.format("POST", "/evaluate/single", { ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json" }, body)
end
EOF
check=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$SERVE_PORT/evaluate/single" -d '{"model":"bench","task_type":"ladder","model_response":"Yes."}')
[ "$check" = 200 ] || { echo "POST /evaluate/single answered $check" >&2; cat "$T/serve.log" >&2; exit 1; }

echo "serve: $BIN on 127.0.0.1:$SERVE_PORT (--env $ENV, $WORKERS worker(s), $IO_THREADS io thread(s)${SET:+, $SET})"
echo "nginx: $("$NGINX" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$NGINX_PORT (worker_processes $NGINX_WORKERS)"
echo "wrk: -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# wrk_rps URL [script]: requests/s, and "errors" non-2xx or socket errors
wrk_run() {
  local url=$1 script=${2:-}
  "$WRK" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" ${script:+-s "$script"} "$url" >"$T/wrk.out" 2>&1 || true
  local rps errs
  rps=$(awk '/^Requests\/sec/ {print $2}' "$T/wrk.out")
  errs=$(awk '/Non-2xx/ {n+=$NF} /Socket errors/ {gsub(",", ""); n+=$4+$6+$8+$10} END {print n+0}' "$T/wrk.out")
  echo "${rps:-0} $errs"
}

: >"$T/nginx.rps"; : >"$T/healthz.rps"; : >"$T/eval.rps"; : >"$T/hit.rps"
for r in $(seq "$ROUNDS"); do
  read -r a ea < <(wrk_run "http://127.0.0.1:$NGINX_PORT/healthz")
  read -r b eb < <(wrk_run "http://127.0.0.1:$SERVE_PORT/healthz")
  read -r c ec < <(TOKEN=$TOKEN DISTINCT=1 wrk_run "http://127.0.0.1:$SERVE_PORT/" "$T/eval.lua")
  read -r d ed < <(TOKEN=$TOKEN DISTINCT=0 wrk_run "http://127.0.0.1:$SERVE_PORT/" "$T/eval.lua")
  echo "round $r: nginx /healthz $a, serve /healthz $b, /evaluate/single $c (errors $ec), repeated (cache) $d (errors $ed)"
  [ "$ea$eb$ec$ed" = 0000 ] || { echo "errors in round $r" >&2; tail -n 20 "$T/serve.log" >&2; exit 1; }
  echo "$a" >>"$T/nginx.rps"; echo "$b" >>"$T/healthz.rps"; echo "$c" >>"$T/eval.rps"; echo "$d" >>"$T/hit.rps"
done
n_med=$(median <"$T/nginx.rps"); h_med=$(median <"$T/healthz.rps")
e_med=$(median <"$T/eval.rps"); c_med=$(median <"$T/hit.rps")
ratio=$(awk -v a="$h_med" -v b="$n_med" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
fail=0
echo "median: /healthz $h_med req/s vs nginx $n_med: ratio $ratio (target >= 0.50)"
awk -v r="$ratio" 'BEGIN {exit !(r >= 0.5)}' || { echo "MISSED: /healthz below half of nginx"; fail=1; }
echo "median: /evaluate/single (scoring, all distinct) $e_med req/s (target >= 10000); repeated request (cache hits) $c_med req/s"
awk -v r="$e_med" 'BEGIN {exit !(r >= 10000)}' || { echo "MISSED: /evaluate/single below 10,000 req/s"; fail=1; }

# ---- memory over MEM_REQUESTS scoring requests ----
if [ "$MEM_REQUESTS" -gt 0 ]; then
  rss() { awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {printf "%d %d\n", a/1024, f/1024}' "/proc/$SERVE_PID/status"; }
  cpu() { awk '{print $14 + $15}' "/proc/$SERVE_PID/stat"; }
  done_n=0 first="" chunk=${MEM_CHUNK_S:-20}
  cpu0=$(cpu)
  while [ "$done_n" -lt "$MEM_REQUESTS" ]; do
    DURATION=$chunk TOKEN=$TOKEN DISTINCT=1 wrk_run "http://127.0.0.1:$SERVE_PORT/" "$T/eval.lua" >/dev/null
    n=$(awk '/requests in/ {print $1}' "$T/wrk.out")
    done_n=$((done_n + ${n:-0}))
    read -r anon file < <(rss)
    echo "after $done_n requests: RssAnon $anon MB, RssFile $file MB"
    # the first sample is after the warm-up (state, caches, queues at their size)
    [ -n "$first" ] || first=$anon
    [ "${n:-0}" -gt 0 ] || { echo "no requests in a chunk" >&2; exit 1; }
  done
  cpu1=$(cpu)
  us=$(awk -v c0="$cpu0" -v c1="$cpu1" -v n="$done_n" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", (c1 - c0) / hz / n * 1e6}')
  echo "memory: RssAnon $first MB after the first chunk, $anon MB after $done_n requests (target < 64 MB, no growth); server CPU $us us/request"
  [ "$anon" -lt 64 ] || { echo "MISSED: RssAnon $anon MB"; fail=1; }
  awk -v a="$anon" -v f="$first" 'BEGIN {exit !(a <= f * 1.10 + 2)}' || { echo "MISSED: RssAnon grew from $first to $anon MB"; fail=1; }
fi
exit $fail
