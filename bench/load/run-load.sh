#!/usr/bin/env bash
# bench/load/run-load.sh — load harness for the millrace-ingest service.
#
# What it does, in one run (so every ratio is measured side by side):
#   1. installs wrk (and nginx, for the ceiling) with apt-get if missing (needs root);
#   2. builds ingest/target/millrace-ingest.jar if missing
#      (mvn -B -q -pl ingest -am package -DskipTests);
#   3. batched mode: starts the service on 127.0.0.1:$PORT with a fresh temporary
#      MILLRACE_DATA_DIR, measures time to ready (launch -> first 200 from /readyz),
#      warms up ($WARMUP s), then runs
#          wrk -t2 -c64 -d${DURATION}s --latency -s payloads.lua http://127.0.0.1:$PORT/v1/payloads
#      and reports req/s, p50/p99/p99.9, the service's CPU time and peak RSS (VmHWM),
#      CPU per thread (/proc/PID/task, 5 s sample mid-run), then the ceiling in the same server
#      (wrk GET /healthz), then SIGTERM, waits for the drain, and counts the payloads
#      actually stored: lines of the .ndjson.gz objects under the data dir (the store's
#      files, not the 202s), compared with payloads accepted (202 responses x 10);
#   4. ceiling outside the JVM: nginx `return 204` on 127.0.0.1:$NGINX_PORT with the same
#      payloads.lua and with fixed-body.lua;
#   5. per-payload mode: a fresh service, $PP_DURATION s of the same load, payloads/s
#      accepted and stored (from the store's files), 429s, and the upload gauges.
#
# Usage (from anywhere; the script holds /tmp/millrace-mvn.lock for the whole run so no
# build or other measurement overlaps it):
#   bench/load/run-load.sh [path/to/payloads.lua]
# Environment:
#   PAYLOADS_LUA  workload (default: bench/load/payloads.lua, the canonical workload; arg 1 wins)
#   FIXED_LUA     fixed-body workload for the nginx ceiling (default: beside PAYLOADS_LUA)
#   DURATION=60   measured batched run, seconds     WARMUP=10     warm-up, seconds
#   CEIL_DURATION=15  each ceiling run, seconds     PP_DURATION=20  per-payload run, seconds
#   PORT=18080  NGINX_PORT=18081  THREADS=2  CONNECTIONS=64
#   JAVA_OPTS="-Xmx256m"  JVM flags for the service: holds the default 128 MiB queue budget
#                 and keeps the resident size under the 400 MB target (-Xmx512m measured ~500 MiB)
#   JFR=1         record a JFR profile of the measured batched run; print where the samples
#                 fall (jfr-breakdown.awk) and on which threads; `jfr view hot-methods` in $OUT
#   CHECK_DUPS=1  also count distinct stored lines (sort -u; slow for long runs)
#   SKIP_NGINX=1 / SKIP_PER_PAYLOAD=1   leave those parts out
#   OUT           results folder (default bench/load/results/<UTC time>; not committed)
# Output: a summary on stdout and in $OUT/summary.txt; raw wrk output and logs in $OUT.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
hold_build_lock "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PAYLOADS_LUA=${1:-${PAYLOADS_LUA:-$HERE/payloads.lua}}
PAYLOADS_LUA=$(cd "$(dirname "$PAYLOADS_LUA")" && pwd)/$(basename "$PAYLOADS_LUA")
FIXED_LUA=${FIXED_LUA:-$(dirname "$PAYLOADS_LUA")/fixed-body.lua}
DURATION=${DURATION:-60}; WARMUP=${WARMUP:-10}; CEIL_DURATION=${CEIL_DURATION:-15}
PP_DURATION=${PP_DURATION:-20}; PORT=${PORT:-18080}; NGINX_PORT=${NGINX_PORT:-18081}
THREADS=${THREADS:-2}; CONNECTIONS=${CONNECTIONS:-64}; JAVA_OPTS=${JAVA_OPTS:--Xmx256m}
OUT=${OUT:-$HERE/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt; : > "$SUMMARY"

[[ -f "$PAYLOADS_LUA" ]] || { echo "workload not found: $PAYLOADS_LUA (give its path as argument 1 or PAYLOADS_LUA)" >&2; exit 2; }

# --- tools --------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
if [[ -z "${SKIP_NGINX:-}" ]] && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then need_apt+=(nginx-light); fi
if ((${#need_apt[@]})); then
  echo "installing ${need_apt[*]} with apt-get" >&2
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null || { [[ " ${need_apt[*]} " == *nginx-light* ]] && apt-get install -y -qq wrk nginx >/dev/null; }
fi
command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [[ -n "${JAVA_HOME:-}" ]]; then JAVA=$JAVA_HOME/bin/java; JFRTOOL=$JAVA_HOME/bin/jfr; else JAVA=java; JFRTOOL=jfr; fi

# --- build ----------------------------------------------------------------------------
JAR=$ROOT/ingest/target/millrace-ingest.jar
if [[ ! -f "$JAR" ]]; then
  echo "building $JAR" >&2
  (cd "$ROOT" && mvn -B -q -pl ingest -am package -DskipTests)
fi

# run a private copy of the jar and its lib/, so a build in the working tree can't change it mid-run
RUN_DIR=$(mktemp -d /tmp/millrace-load-jar.XXXXXX)
cp -r "$JAR" "$ROOT/ingest/target/lib" "$RUN_DIR/"
JAR=$RUN_DIR/millrace-ingest.jar

metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" 'index($0,m)==1{s+=$NF} END{printf "%.0f", s}'; }
# wrk_field FILE: req/s, p50, p99, p99.9 (in ms), requests, non-2xx
LUA_P999=$OUT/payloads-p999.lua
lua_with_p999 "$PAYLOADS_LUA" "$LUA_P999"

SVC_PID=""; NGINX_PREFIX=""
cleanup() {
  rm -rf "${RUN_DIR:-/nonexistent}"
  [[ -n "$SVC_PID" ]] && kill "$SVC_PID" 2>/dev/null || true
  [[ -n "$NGINX_PREFIX" && -f "$NGINX_PREFIX/nginx.pid" ]] && kill "$(cat "$NGINX_PREFIX/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

# start_service MODE DATADIR LOG [extra JVM flags...] -> sets SVC_PID, READY_MS
start_service() {
  local mode=$1 data=$2 log=$3; shift 3
  local t0; t0=$(date +%s%N)
  MILLRACE_MODE=$mode MILLRACE_DATA_DIR=$data MILLRACE_HOST=127.0.0.1 MILLRACE_PORT=$PORT \
    "$JAVA" $JAVA_OPTS "$@" -jar "$JAR" > "$log" 2>&1 &
  SVC_PID=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"; do
    kill -0 "$SVC_PID" 2>/dev/null || { echo "service died; see $log" >&2; tail -20 "$log" >&2; exit 1; }
    (( ($(date +%s%N) - t0) / 1000000 < 60000 )) || { echo "not ready after 60 s" >&2; exit 1; }
    sleep 0.02
  done
  READY_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
  for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q 'ready in' "$log" && break; sleep 0.1; done
}
stop_service() {  # SIGTERM, wait for the drain; sets STOP_MS (wall ms of the shutdown)
  local t0; t0=$(date +%s%N)
  kill -TERM "$SVC_PID"; wait "$SVC_PID" 2>/dev/null || true
  SVC_PID=""
  STOP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
URL=http://127.0.0.1:$PORT

say "# millrace-ingest load run, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), wrk on the same box; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "java: $("$JAVA" -version 2>&1 | head -1); JAVA_OPTS: $JAVA_OPTS"
say "workload: $(basename "$PAYLOADS_LUA") (10 payloads/request), wrk -t$THREADS -c$CONNECTIONS, warm-up ${WARMUP}s, measured ${DURATION}s"
say ""

# --- 1. batched --------------------------------------------------------------------------
DATA=$(mktemp -d /tmp/millrace-load-batched.XXXXXX)
JFR_FLAGS=()
[[ -n "${JFR:-}" ]] && JFR_FLAGS=(-XX:StartFlightRecording=filename=$OUT/batched.jfr,settings=profile,delay=$((WARMUP + 2))s,duration=$((DURATION - 4))s)
start_service batched "$DATA" "$OUT/service-batched.log" "${JFR_FLAGS[@]}"
say "batched: ready in ${READY_MS} ms (launch to first /readyz 200); service log says: $(grep -o 'ready in [0-9]* ms' "$OUT/service-batched.log" | head -1)"

wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --latency -s "$LUA_P999" "$URL/v1/payloads" > "$OUT/wrk-warmup.txt"
CPU0=$(cpu_seconds "$SVC_PID"); ACC0=$(metric 'millrace_payloads_accepted_total'); ST0=$(metric 'millrace_payloads_stored_total')
( sleep $((DURATION / 3)); thread_cpu "$SVC_PID" $(( DURATION / 3 < 5 ? (DURATION / 3 > 0 ? DURATION / 3 : 1) : 5 )) "$OUT/threads-batched.txt" ) &
TOP_PID=$!
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA_P999" "$URL/v1/payloads" > "$OUT/wrk-batched.txt"
wait "$TOP_PID" 2>/dev/null || true
CPU1=$(cpu_seconds "$SVC_PID"); ACC1=$(metric 'millrace_payloads_accepted_total'); ST1=$(metric 'millrace_payloads_stored_total')
HWM_LOAD=$(vm "$SVC_PID" VmHWM); RSS_LOAD=$(vm "$SVC_PID" VmRSS)
read -r RPS P50 P99 REQ BAD < <(wrk_parse "$OUT/wrk-batched.txt")
read -r _ _ _ WREQ WBAD < <(wrk_parse "$OUT/wrk-warmup.txt")
P999=$(p999 "$OUT/wrk-batched.txt")

# ceiling inside the same JVM: GET /healthz
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${CEIL_DURATION}s" --latency "$URL/healthz" > "$OUT/wrk-healthz.txt"
read -r H_RPS H_P50 H_P99 _ _ < <(wrk_parse "$OUT/wrk-healthz.txt")
curl -s "$URL/metrics" > "$OUT/metrics-batched.txt"
H202=$(awk '/^millrace_http_responses_total/ && /status="202"/{s+=$NF} END{printf "%.0f", s}' "$OUT/metrics-batched.txt")
H429=$(awk '/^millrace_http_responses_total/ && /status="429"/{s+=$NF} END{printf "%.0f", s}' "$OUT/metrics-batched.txt")
ACCEPTED=$(metric 'millrace_payloads_accepted_total')
HWM=$(vm "$SVC_PID" VmHWM); CPU_TOTAL=$(cpu_seconds "$SVC_PID")
stop_service
STORED=$(find "$DATA" -name '*.ndjson.gz' -print0 | xargs -0 -r zcat | wc -l)
OBJECTS=$(find "$DATA" -name '*.ndjson.gz' | wc -l)
SPILLED=$(find "$DATA/spill" -name '*.ndjson' -print0 2>/dev/null | xargs -0 -r cat | wc -l || true)
STORE_BYTES=$(du -sb "$DATA/s3" 2>/dev/null | cut -f1 || true)
DISTINCT="not checked (CHECK_DUPS=1)"
if [[ -n "${CHECK_DUPS:-}" ]]; then
  DISTINCT=$(find "$DATA" -name '*.ndjson.gz' -print0 | xargs -0 -r zcat | LC_ALL=C sort -u -S 1G -T "$DATA" | wc -l)
fi

CPU_RUN=$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN{printf "%.1f", b-a}')
say "batched, measured ${DURATION}s: $RPS req/s; latency p50 $P50 ms, p99 $P99 ms, p99.9 $P999 ms; $REQ requests, non-2xx $BAD"
say "  payloads accepted in the measured window (metric): $((ACC1 - ACC0)) = $(awk -v n=$((ACC1 - ACC0)) -v d="$DURATION" 'BEGIN{printf "%.0f", n/d}')/s; stored in the window (metric): $((ST1 - ST0)) = $(awk -v n=$((ST1 - ST0)) -v d="$DURATION" 'BEGIN{printf "%.0f", n/d}')/s"
say "  service CPU in the measured window: ${CPU_RUN} s = $(awk -v c="$CPU_RUN" -v d="$DURATION" 'BEGIN{printf "%.2f", c/d}') cores of $(nproc); whole life ${CPU_TOTAL} s"
say "  RSS: peak (VmHWM) ${HWM} MiB over the whole life (${HWM_LOAD} MiB at the end of the measured run, VmRSS then ${RSS_LOAD} MiB)"
say "  ceiling, same JVM, GET /healthz: $H_RPS req/s, p50 $H_P50 ms, p99 $H_P99 ms"
say "  whole life (warm-up + measured): 202 responses $H202 (x10 = $((H202 * 10)) payloads), payloads_accepted_total $ACCEPTED, 429s $H429"
say "  wrk's count of 2xx (warm-up + measured): $(( (WREQ - WBAD) + (REQ - BAD) )) requests"
say "  after SIGTERM (shutdown took ${STOP_MS} ms): stored lines in .ndjson.gz files $STORED in $OBJECTS objects ($STORE_BYTES bytes under s3/), spilled $SPILLED; accepted - stored - spilled = $((ACCEPTED - STORED - SPILLED)); distinct stored lines: $DISTINCT"
say "  shutdown log: $(grep -iE 'stored|spill' "$OUT/service-batched.log" | tail -2 | tr '\n' ' ')"
say "  service CPU by thread (up to 5 s mid-run, % of one core):"
head -10 "$OUT/threads-batched.txt" | sed 's/^/    /' | tee -a "$SUMMARY"
if [[ -n "${JFR:-}" && -f "$OUT/batched.jfr" ]]; then
  "$JFRTOOL" view --width 160 hot-methods "$OUT/batched.jfr" > "$OUT/jfr-hot-methods.txt" 2>&1 || true
  "$JFRTOOL" print --events jdk.ExecutionSample --stack-depth 64 "$OUT/batched.jfr" \
    | awk -f "$HERE/jfr-breakdown.awk" > "$OUT/jfr-breakdown.txt" 2>&1 || true
  say "  JFR ($OUT/batched.jfr, execution samples of the measured run):"
  sed 's/^/    /' "$OUT/jfr-breakdown.txt" | tee -a "$SUMMARY"
  "$JFRTOOL" print --events jdk.ExecutionSample "$OUT/batched.jfr" | grep -o 'sampledThread = "[^"]*"' \
    | sed 's/sampledThread = //; s/\[[^]]*\]/[connection]/; s/[0-9][0-9]*/#/g' | sort | uniq -c | sort -nr | head -8 > "$OUT/jfr-threads.txt" || true
  say "    samples by thread:"
  sed 's/^/    /' "$OUT/jfr-threads.txt" | tee -a "$SUMMARY"
fi
rm -rf "$DATA"
say ""

# --- 2. nginx ceiling ---------------------------------------------------------------------
if [[ -z "${SKIP_NGINX:-}" && -x "$NGINX" ]]; then
  NGINX_PREFIX=$(mktemp -d /tmp/millrace-load-nginx.XXXXXX)
  cat > "$NGINX_PREFIX/nginx.conf" <<NGX
worker_processes auto;
pid $NGINX_PREFIX/nginx.pid;
error_log $NGINX_PREFIX/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $NGINX_PREFIX/body; proxy_temp_path $NGINX_PREFIX/proxy;
  fastcgi_temp_path $NGINX_PREFIX/fcgi; uwsgi_temp_path $NGINX_PREFIX/uwsgi; scgi_temp_path $NGINX_PREFIX/scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT; location / { return 204; } }
}
NGX
  "$NGINX" -p "$NGINX_PREFIX" -c "$NGINX_PREFIX/nginx.conf"
  sleep 0.5
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${CEIL_DURATION}s" --latency -s "$LUA_P999" "http://127.0.0.1:$NGINX_PORT/v1/payloads" > "$OUT/wrk-nginx-payloads.txt"
  read -r N_RPS N_P50 N_P99 _ _ < <(wrk_parse "$OUT/wrk-nginx-payloads.txt")
  say "ceiling, nginx return 204, $(basename "$PAYLOADS_LUA"): $N_RPS req/s, p50 $N_P50 ms, p99 $N_P99 ms"
  if [[ -f "$FIXED_LUA" ]]; then
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${CEIL_DURATION}s" --latency -s "$FIXED_LUA" "http://127.0.0.1:$NGINX_PORT/v1/payloads" > "$OUT/wrk-nginx-fixed.txt"
    read -r F_RPS F_P50 F_P99 _ _ < <(wrk_parse "$OUT/wrk-nginx-fixed.txt")
    say "ceiling, nginx return 204, $(basename "$FIXED_LUA"): $F_RPS req/s, p50 $F_P50 ms, p99 $F_P99 ms"
  fi
  kill "$(cat "$NGINX_PREFIX/nginx.pid")"; sleep 0.3; rm -rf "$NGINX_PREFIX"; NGINX_PREFIX=""
  say ""
fi

# --- 3. per-payload -------------------------------------------------------------------------
if [[ -z "${SKIP_PER_PAYLOAD:-}" ]]; then
  DATA=$(mktemp -d /tmp/millrace-load-pp.XXXXXX)
  start_service per-payload "$DATA" "$OUT/service-per-payload.log"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d5s -s "$LUA_P999" "$URL/v1/payloads" > "$OUT/wrk-pp-warmup.txt"
  ACC0=$(metric 'millrace_payloads_accepted_total'); ST0=$(metric 'millrace_payloads_stored_total'); CPU0=$(cpu_seconds "$SVC_PID")
  ( sleep $((PP_DURATION / 3)); thread_cpu "$SVC_PID" $(( PP_DURATION / 3 < 5 ? (PP_DURATION / 3 > 0 ? PP_DURATION / 3 : 1) : 5 )) "$OUT/threads-pp.txt";
    curl -s "$URL/metrics" > "$OUT/metrics-pp-midrun.txt" ) &
  TOP_PID=$!
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${PP_DURATION}s" --latency -s "$LUA_P999" "$URL/v1/payloads" > "$OUT/wrk-pp.txt"
  wait "$TOP_PID" 2>/dev/null || true
  ACC1=$(metric 'millrace_payloads_accepted_total'); ST1=$(metric 'millrace_payloads_stored_total'); CPU1=$(cpu_seconds "$SVC_PID")
  curl -s "$URL/metrics" > "$OUT/metrics-pp.txt"
  read -r PP_RPS PP_P50 PP_P99 PP_REQ PP_BAD < <(wrk_parse "$OUT/wrk-pp.txt")
  PP_ACCEPTED=$(metric 'millrace_payloads_accepted_total')
  PP_429=$(awk '/^millrace_http_responses_total/ && /status="429"/{s+=$NF} END{printf "%.0f", s}' "$OUT/metrics-pp.txt")
  INFLIGHT=$(awk '/^millrace_uploads_in_flight/{print $NF}' "$OUT/metrics-pp-midrun.txt")
  QUEUE=$(awk '/^millrace_queue_payloads/{print $NF}' "$OUT/metrics-pp-midrun.txt")
  PP_HWM=$(vm "$SVC_PID" VmHWM)
  stop_service
  PP_STORED=$(find "$DATA" -name '*.json' -path '*dt=*' | wc -l)
  PP_SPILLED=$(find "$DATA/spill" -name '*.ndjson' -print0 2>/dev/null | xargs -0 -r cat | wc -l || true)
  say "per-payload, measured ${PP_DURATION}s: $PP_RPS req/s offered-and-answered, non-2xx $PP_BAD of $PP_REQ (429s over the life: $PP_429); p50 $PP_P50 ms, p99 $PP_P99 ms"
  say "  payloads accepted in the window: $((ACC1 - ACC0)) = $(awk -v n=$((ACC1 - ACC0)) -v d="$PP_DURATION" 'BEGIN{printf "%.0f", n/d}')/s; stored (PUTs done) in the window: $((ST1 - ST0)) = $(awk -v n=$((ST1 - ST0)) -v d="$PP_DURATION" 'BEGIN{printf "%.0f", n/d}')/s"
  say "  mid-run gauges: uploads_in_flight $INFLIGHT (MAX_WORKERS default 16), queue_payloads $QUEUE; service CPU $(awk -v a="$CPU0" -v b="$CPU1" -v d="$PP_DURATION" 'BEGIN{printf "%.2f", (b-a)/d}') cores; VmHWM $PP_HWM MiB"
  say "  after SIGTERM (${STOP_MS} ms): objects in the store $PP_STORED, spilled $PP_SPILLED, accepted $PP_ACCEPTED; accepted - stored - spilled = $((PP_ACCEPTED - PP_STORED - PP_SPILLED))"
  say "  service CPU by thread (up to 5 s mid-run, % of one core):"
  head -8 "$OUT/threads-pp.txt" | sed 's/^/    /' | tee -a "$SUMMARY"
  rm -rf "$DATA"
fi
say ""
say "raw output: $OUT"
