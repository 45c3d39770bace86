#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The PostgreSQL results store's speed, on a PostgreSQL 15 primary and a
# streaming replica started here (initdb in a temporary folder, as the
# user postgres when run as root; fsync and synchronous_commit on, as a
# server that keeps its data runs):
#   1. answers written per second from one process (tools/bench/pg_insert.c:
#      THREADS workers queueing, the store's writers committing batches of
#      BATCH by COPY), N answers into a fresh database, ROUNDS times;
#      target >= 50,000 answers/s
#   2. ROWS score lines (10 million: 200 runs of 5 models over 90 days, 20
#      models in all) made in the server (generate_series, 1M per statement,
#      through the triggers that keep model_days), then on the replica the
#      30-day average per model and `results recent`, as the program reads
#      them (tools/bench/pg_query.lua), ROUNDS times; target < 200 ms; and
#      for comparison the same average straight from the 10M score lines
# Figures are printed with their median.
#   tools/bench/pg.sh [BUILD_DIR]     (ROUNDS=5 N=200000 THREADS=4 BATCH=1000 WRITERS=2 ROWS=10000000 PARTS=12)
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
ROUNDS=${ROUNDS:-5} N=${N:-200000} THREADS=${THREADS:-4} BATCH=${BATCH:-1000} WRITERS=${WRITERS:-2}
ROWS=${ROWS:-10000000} PARTS=${PARTS:-12}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/ce-bench-pg.XXXXXX)
AS=()
if [ "$(id -u)" -eq 0 ]; then
  # the server refuses root: Debian's postgres user, else nobody
  user=postgres
  id postgres >/dev/null 2>&1 || user=nobody
  chown "$user" "$T"
  AS=(runuser -u "$user" --)
fi
stop() {
  for d in replica primary; do
    [ -f "$T/$d/postmaster.pid" ] && "${AS[@]}" "$PGBIN/pg_ctl" -D "$T/$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$T"
}
trap stop EXIT INT TERM

# starts the cluster in $1 on a free port, which it prints
start_on_free_port() {
  for _ in $(seq 1 20); do
    local port=$((20000 + RANDOM % 40000))
    if "${AS[@]}" "$PGBIN/pg_ctl" -D "$T/$1" -l "$T/$1.log" -w -o "-p $port -c listen_addresses=127.0.0.1 -k $T" start \
      >/dev/null 2>&1; then
      echo "$port"
      return
    fi
  done
  echo "PostgreSQL did not start: $(tail -3 "$T/$1.log")" >&2
  exit 1
}
med() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
"${AS[@]}" "$PGBIN/initdb" -D "$T/primary" -A trust -U causal -E UTF8 --locale=C >/dev/null
cat >>"$T/primary/postgresql.auto.conf" <<CONF
shared_buffers = 1GB
max_wal_size = 16GB
checkpoint_timeout = 30min
wal_level = replica
max_wal_senders = 4
work_mem = 64MB
maintenance_work_mem = 512MB
jit = off
CONF
P1=$(start_on_free_port primary)
"${AS[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U causal -D "$T/replica" -R -X stream -c fast
P2=$(start_on_free_port replica)
psql1() { "$PGBIN/psql" -X -q -A -t -h 127.0.0.1 -p "$P1" -U causal "$@"; }
echo "PostgreSQL $(psql1 -d postgres -c 'SHOW server_version'), primary on $P1, replica on $P2"

if [[ $PARTS == *1* ]]; then
echo "== 1. answers written per second: $N answers, $THREADS workers, batches of $BATCH, $WRITERS writers =="
rates=()
for r in $(seq 1 "$ROUNDS"); do
  psql1 -d postgres -c "CREATE DATABASE ins$r"
  out=$("$BUILD/pg_insert" "postgresql://causal@127.0.0.1:$P1/ins$r" "$T/d$r" "$N" "$THREADS" "$BATCH" "$WRITERS")
  echo "  $out"
  rates+=("$(echo "$out" | sed 's/.*: \([0-9]*\) answers\/s/\1/')")
  psql1 -d postgres -c "DROP DATABASE ins$r"
done
echo "answers/s: median $(printf '%s\n' "${rates[@]}" | med) (target >= 50000)"
fi
[[ $PARTS == *2* ]] || exit 0

echo "== 2. $ROWS score lines, read on the replica =="
psql1 -d postgres -c "CREATE DATABASE big"
URL1="postgresql://causal@127.0.0.1:$P1/big" URL2="postgresql://causal@127.0.0.1:$P2/big"
"$BUILD/pg_insert" "$URL1" "$T/dbig" 5 1 5 1 >/dev/null # the schema, as the program makes it
start=$(date +%s.%N)
per=$((ROWS / 200))
for c in $(seq 0 $(((ROWS - 1) / 1000000))); do
  lo=$((c * 1000000)) hi=$(((c + 1) * 1000000 - 1))
  [ "$hi" -ge "$ROWS" ] && hi=$((ROWS - 1))
  psql1 -d big -c "
    INSERT INTO causal_eval.scores (run_id, model, question_id, created_at, day, family, difficulty, rung, correct,
      unparseable, error_class, latency_ms, tokens_in, tokens_out, cached, stamp, line)
    SELECT run_id, model, qid, d + time '12:00', d, fam, 'medium', rung, ok, false, err, lat, 150, 2, false, i,
      format('{\"c\":%s,\"d\":\"medium\",\"day\":\"%s\",\"f\":\"%s\",\"l\":%s,\"r\":%s,\"ti\":150,\"to\":2}',
             ok::int, d, fam, lat, rung)
    FROM (SELECT i, to_char(d, 'YYYYMMDD') || '-120000-' || lpad(r::text, 6, '0') AS run_id,
                 'model-' || ((r + (i % $per) % 5) % 20) AS model, 'q' || lpad(((i % $per) / 5)::text, 7, '0') AS qid,
                 d, (ARRAY['ladder','intervention','counterfactual','chain','confounding','attribution','corr2cause'])[1 + i % 7] AS fam,
                 (1 + i % 3)::text AS rung, (i * 7919) % 10 < 7 AS ok,
                 CASE WHEN i % 97 = 0 THEN 'server' END AS err, 200 + (i % 800) AS lat
          FROM (SELECT i, i / $per AS r, current_date - (89 - (i / $per) * 90 / 200)::int AS d
                FROM generate_series($lo::bigint, $hi::bigint) AS i) g) x"
done
psql1 -d big -c "
  INSERT INTO causal_eval.runs (id, created_at, status, stamp, body)
  SELECT id, d + time '12:00', 'completed', r, json_build_object('id', id, 'created', extract(epoch FROM d + time '12:00')::bigint,
    'status', 'completed', 'benchmarks', json_build_array('ladder'), 'total', $per / 5,
    'models', (SELECT json_agg('model-' || ((r + m) % 20)) FROM generate_series(0, 4) m))::text
  FROM (SELECT r, current_date - (89 - r * 90 / 200) AS d, to_char(current_date - (89 - r * 90 / 200), 'YYYYMMDD')
               || '-120000-' || lpad(r::text, 6, '0') AS id FROM generate_series(0, 199) r) x"
psql1 -d big -c "VACUUM ANALYZE"
echo "made in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}') s: $(psql1 -d big -c 'SELECT count(*) FROM causal_eval.scores') score lines,"\
  "$(psql1 -d big -c 'SELECT count(*) FROM causal_eval.model_days') rows of model_days,"\
  "$(psql1 -d big -c "SELECT pg_size_pretty(pg_total_relation_size('causal_eval.scores'))") of scores"
lsn=$(psql1 -d big -c "SELECT pg_current_wal_lsn()")
until [ "$("$PGBIN/psql" -X -q -A -t -h 127.0.0.1 -p "$P2" -U causal -d big -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ]; do sleep 0.5; done
echo "the replica has caught up"
"$BUILD/causal-eval" "$HERE/pg_query.lua" "$URL1" "$URL2" "$ROUNDS"
since=$(date -u -d '30 days ago' +%Y-%m-%d)
ms=()
for r in $(seq 0 "$ROUNDS"); do
  t=$("$PGBIN/psql" -X -q -h 127.0.0.1 -p "$P2" -U causal -d big -c '\timing on' -c "
    SELECT model, count(*) FILTER (WHERE error_class IS DISTINCT FROM 'bad_question'),
           avg((correct AND error_class IS DISTINCT FROM 'bad_question')::int)
    FROM causal_eval.scores WHERE day >= '$since' GROUP BY model" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
  [ "$r" -gt 0 ] && ms+=("$t")
done
echo "the same average straight from the score lines (no model_days), on the replica: ${ms[*]} ms (median $(printf '%s\n' "${ms[@]}" | med) ms)"
