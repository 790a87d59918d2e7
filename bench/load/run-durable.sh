#!/usr/bin/env bash
# bench/load/run-durable.sh — the durable default queue (MILLRACE_QUEUE=disk: a 202 only after
# the request is fsync'd) against the volatile one (MILLRACE_QUEUE=memory), in one run, so every
# ratio is same-run, same box, same minute.
#
# What it does:
#   0. installs wrk with apt-get if missing (needs root); builds ingest/target/millrace-ingest.jar
#      if it is missing or older than ingest/src/main or a pom, then runs a private copy of it.
#   1. for each phase of $ORDER (default "disk memory disk memory": alternated, so drift on a
#      shared box shows as a difference between the two runs of one mode): a fresh service,
#      role all, batched, embedded store, MILLRACE_DATA_DIR a fresh folder under $DATA_ROOT (the
#      log lives in its queue/ folder: put DATA_ROOT on the disk you mean to measure), on
#      127.0.0.1:$PORT; wait for /readyz, warm up ($WARMUP s), then the measured window
#          wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s payloads.lua http://127.0.0.1:$PORT/v1/payloads
#      and over that window: req/s, p50/p99/p99.9 (wrk), 202s (millrace_http_responses_total),
#      fsyncs of the log and their mean latency ($FSYNC_METRIC _count and _sum), log writes
#      (appends and batch records, millrace_queue_log_writes_total), requests per fsync
#      (202s / fsyncs), service CPU (/proc/PID/stat), peak RSS (VmHWM from /proc/PID/status,
#      over the whole life) and VmRSS at the end of the window;
#   2. then waits until stored >= accepted (at most $CATCHUP s), SIGTERM, and counts the lines
#      of the .ndjson.gz objects in the store's folder against payloads accepted.
#   Last: a table, and the targets of issue 9 (disk: >= 33,333 req/s, p99 <= 20 ms, RSS <=
#   400 MB) marked met or not. It measures; it asserts nothing.
#
# Usage (from anywhere; holds /tmp/millrace-mvn.lock for the whole run, like run-load.sh):
#   bench/load/run-durable.sh [path/to/payloads.lua]
# Environment:
#   PAYLOADS_LUA  workload (default: bench/load/payloads.lua, the canonical workload; arg 1 wins)
#   ORDER="disk memory disk memory"   phases, each a queue mode, or MODE@LABEL to run that phase
#                on the jar named by $JAR_<LABEL> (e.g. ORDER="disk@before disk@after memory@after"
#                JAR_before=/tmp/old.jar JAR_after=ingest/target/millrace-ingest.jar: before/after
#                jars alternated in one run; every jar runs against ingest/target/lib;
#                $JAVA_OPTS_<LABEL>, if set, replaces JAVA_OPTS for that label's phases)
#   DURATION=30  measured window, seconds    WARMUP=10  warm-up, seconds    CATCHUP=120
#   PORT=18080   THREADS=2   CONNECTIONS=64   JAVA_OPTS="-Xmx256m" (as run-load.sh)
#   DATA_ROOT=/tmp   where the services' data folders go (removed at the end)
#   FSYNC_METRIC=millrace_queue_log_fsync_seconds   the fsync timer's Prometheus name
#   OUT   results folder (default bench/load/results/<UTC time>-durable; not committed)
# Output: a summary on stdout and in $OUT/summary.txt; raw wrk output, metrics and logs in $OUT.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
hold_build_lock "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PAYLOADS_LUA=${1:-${PAYLOADS_LUA:-$HERE/payloads.lua}}
PAYLOADS_LUA=$(cd "$(dirname "$PAYLOADS_LUA")" && pwd)/$(basename "$PAYLOADS_LUA")
ORDER=${ORDER:-disk memory disk memory}
DURATION=${DURATION:-30}; WARMUP=${WARMUP:-10}; CATCHUP=${CATCHUP:-120}
PORT=${PORT:-18080}; THREADS=${THREADS:-2}; CONNECTIONS=${CONNECTIONS:-64}
JAVA_OPTS=${JAVA_OPTS:--Xmx256m}; DATA_ROOT=${DATA_ROOT:-/tmp}
FSYNC_METRIC=${FSYNC_METRIC:-millrace_queue_log_fsync_seconds}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$HERE/results/$STAMP-durable}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt; : > "$SUMMARY"

[[ -f "$PAYLOADS_LUA" ]] || { echo "workload not found: $PAYLOADS_LUA" >&2; exit 2; }

# --- tools and build ----------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  echo "installing wrk with apt-get" >&2
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 2; }
if [[ -n "${JAVA_HOME:-}" ]]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi
JAR=$ROOT/ingest/target/millrace-ingest.jar
if [[ ! -f "$JAR" ]] || [[ -n "$(find "$ROOT/ingest/src/main" "$ROOT/ingest/pom.xml" "$ROOT/pom.xml" -newer "$JAR" -type f 2>/dev/null | head -1)" ]]; then
  echo "building $JAR (missing or older than its sources)" >&2
  (cd "$ROOT" && mvn -B -q -pl ingest -am package -DskipTests)
fi
RUN_DIR=$(mktemp -d /tmp/millrace-durable-jar.XXXXXX)
cp -r "$JAR" "$ROOT/ingest/target/lib" "$RUN_DIR/"
JAR=$RUN_DIR/millrace-ingest.jar
declare -A JARS OPTS
for q in $ORDER; do
  [[ $q == *@* ]] || continue
  label=${q#*@}; var=JAR_$label
  [[ -n "${!var:-}" && -f "${!var}" ]] || { echo "phase $q: \$$var must name a jar" >&2; exit 2; }
  cp "${!var}" "$RUN_DIR/millrace-ingest-$label.jar"; JARS[$label]=$RUN_DIR/millrace-ingest-$label.jar
  opts=JAVA_OPTS_$label; OPTS[$label]=${!opts:-$JAVA_OPTS}
done

# --- measuring (as run-jetstream.sh) ---------------------------------------------------------
metrics() { curl -s "http://127.0.0.1:$PORT/metrics"; }
# sum FILE METRIC: the sum of a metric's series (labelled or not) in a saved /metrics
sum() { awk -v m="$2" '(index($0, m " ") == 1 || index($0, m "{") == 1) {s+=$NF} END{printf "%.6f", s}' "$1"; }
status_count() { awk -v s="status=\"$2\"" '/^millrace_http_responses_total/ && index($0,s){n+=$NF} END{printf "%.0f", n}' "$1"; }
LUA_P999=$OUT/payloads-p999.lua
lua_with_p999 "$PAYLOADS_LUA" "$LUA_P999"
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN{if (b+0 == 0) print "n/a"; else printf f, a/b}'; }
sub_() { awk -v a="$1" -v b="$2" -v f="${3:-%.0f}" 'BEGIN{printf f, a-b}'; }

SVC_PID=""; DATAS=()
cleanup() {
  [[ -n "$SVC_PID" ]] && { kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; }
  rm -rf "${RUN_DIR:-/nonexistent}" "${DATAS[@]}"
}
trap cleanup EXIT

declare -A R
run_phase() {  # PHASE QUEUE [JAR [JAVA_OPTS]]
  local ph=$1 queue=$2 jar=${3:-$JAR} opts=${4:-$JAVA_OPTS} t0 data url="http://127.0.0.1:$PORT/v1/payloads"
  data=$(mktemp -d "$DATA_ROOT/millrace-durable-$ph.XXXXXX"); DATAS+=("$data")
  t0=$(date +%s%N)
  env MILLRACE_HOST=127.0.0.1 MILLRACE_PORT="$PORT" MILLRACE_DATA_DIR="$data" MILLRACE_MODE=batched \
    MILLRACE_QUEUE="$queue" "$JAVA" $opts -jar "$jar" > "$OUT/service-$ph.log" 2>&1 &
  SVC_PID=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"; do
    kill -0 "$SVC_PID" 2>/dev/null || { echo "$ph died; see $OUT/service-$ph.log" >&2; tail -20 "$OUT/service-$ph.log" >&2; exit 1; }
    (( ($(date +%s%N) - t0) / 1000000 < 60000 )) || { echo "$ph not ready after 60 s" >&2; exit 1; }
    sleep 0.02
  done
  R[$ph.ready]=$(( ($(date +%s%N) - t0) / 1000000 ))
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --latency -s "$LUA_P999" "$url" > "$OUT/wrk-$ph-warmup.txt"
  local c0 c1 m0=$OUT/metrics-$ph-0.txt m1=$OUT/metrics-$ph-1.txt
  c0=$(cpu_seconds "$SVC_PID"); metrics > "$m0"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA_P999" "$url" > "$OUT/wrk-$ph.txt"
  c1=$(cpu_seconds "$SVC_PID"); metrics > "$m1"
  R[$ph.hwm]=$(vm "$SVC_PID" VmHWM); R[$ph.rss]=$(vm "$SVC_PID" VmRSS)
  local rps p50 p99 req bad
  read -r rps p50 p99 req bad < <(wrk_parse "$OUT/wrk-$ph.txt")
  R[$ph.rps]=$rps; R[$ph.p50]=$p50; R[$ph.p99]=$p99; R[$ph.p999]=$(p999 "$OUT/wrk-$ph.txt"); R[$ph.req]=$req; R[$ph.bad]=$bad
  R[$ph.cpu]=$(sub_ "$c1" "$c0" %.1f)
  R[$ph.h202]=$(sub_ "$(status_count "$m1" 202)" "$(status_count "$m0" 202)")
  R[$ph.h429]=$(sub_ "$(status_count "$m1" 429)" "$(status_count "$m0" 429)")
  R[$ph.h503]=$(sub_ "$(status_count "$m1" 503)" "$(status_count "$m0" 503)")
  R[$ph.fsyncs]=$(sub_ "$(sum "$m1" "${FSYNC_METRIC}_count")" "$(sum "$m0" "${FSYNC_METRIC}_count")")
  local fsum; fsum=$(sub_ "$(sum "$m1" "${FSYNC_METRIC}_sum")" "$(sum "$m0" "${FSYNC_METRIC}_sum")" %.6f)
  R[$ph.fsync_ms]=$(awk -v s="$fsum" -v n="${R[$ph.fsyncs]}" 'BEGIN{if (n+0 == 0) print "-"; else printf "%.2f", s*1000/n}')
  R[$ph.fsync_s]=$(div "${R[$ph.fsyncs]}" "$DURATION" %.0f)
  R[$ph.writes]=$(sub_ "$(sum "$m1" millrace_queue_log_writes_total)" "$(sum "$m0" millrace_queue_log_writes_total)")
  R[$ph.per_fsync]=$( (( ${R[$ph.fsyncs]} > 0 )) && div "${R[$ph.h202]}" "${R[$ph.fsyncs]}" %.1f || echo -)
  R[$ph.acc_s]=$(div "$(sub_ "$(sum "$m1" millrace_payloads_accepted_total)" "$(sum "$m0" millrace_payloads_accepted_total)")" "$DURATION" %.0f)
  R[$ph.st_s]=$(div "$(sub_ "$(sum "$m1" millrace_payloads_stored_total)" "$(sum "$m0" millrace_payloads_stored_total)")" "$DURATION" %.0f)
  # catch up, stop, count what the store holds
  local t1 a s; t1=$(date +%s%N)
  while :; do
    metrics > "$OUT/metrics-$ph-end.txt"
    a=$(sum "$OUT/metrics-$ph-end.txt" millrace_payloads_accepted_total); s=$(sum "$OUT/metrics-$ph-end.txt" millrace_payloads_stored_total)
    awk -v a="$a" -v s="$s" 'BEGIN{exit !(s >= a)}' && break
    (( ($(date +%s%N) - t1) / 1000000000 < CATCHUP )) || break
    sleep 0.2
  done
  R[$ph.catchup]=$(( ($(date +%s%N) - t1) / 1000000 )); R[$ph.acc]=$(printf %.0f "$a")
  R[$ph.queue_bytes]=$(du -sb "$data/queue" 2>/dev/null | cut -f1 || echo 0)
  kill -TERM "$SVC_PID"; wait "$SVC_PID" 2>/dev/null || true; SVC_PID=""
  R[$ph.lines]=$(find "$data" -name '*.ndjson.gz' -print0 | xargs -0 -r zcat | wc -l)
  say "$ph (MILLRACE_QUEUE=$queue, ready in ${R[$ph.ready]} ms), measured ${DURATION}s: ${R[$ph.rps]} req/s; p50 ${R[$ph.p50]} ms, p99 ${R[$ph.p99]} ms, p99.9 ${R[$ph.p999]} ms; ${R[$ph.req]} requests, non-2xx ${R[$ph.bad]}"
  say "  202s ${R[$ph.h202]}, 429s ${R[$ph.h429]}, 503s ${R[$ph.h503]}; payloads accepted ${R[$ph.acc_s]}/s, stored ${R[$ph.st_s]}/s"
  say "  fsyncs ${R[$ph.fsyncs]} = ${R[$ph.fsync_s]}/s, mean ${R[$ph.fsync_ms]} ms; requests (202s) per fsync ${R[$ph.per_fsync]}; log writes ${R[$ph.writes]}"
  say "  service CPU ${R[$ph.cpu]} s = $(div "${R[$ph.cpu]}" "$DURATION" %.2f) cores; peak RSS (VmHWM) ${R[$ph.hwm]} MiB, VmRSS at the end of the window ${R[$ph.rss]} MiB"
  say "  after the load: stored caught up in ${R[$ph.catchup]} ms; after SIGTERM: accepted ${R[$ph.acc]}, stored lines ${R[$ph.lines]}, accepted - stored = $(( ${R[$ph.acc]} - ${R[$ph.lines]} )); log folder at catch-up ${R[$ph.queue_bytes]} bytes"
  say ""
}

say "# millrace-ingest: durable default (disk) vs memory, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)); wrk on the same box; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "data folders under $DATA_ROOT ($(df -T "$DATA_ROOT" | awk 'NR==2{print $2 " on " $1}'))"
say "java: $("$JAVA" -version 2>&1 | head -1); JAVA_OPTS: $JAVA_OPTS; repo HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "workload: $(basename "$PAYLOADS_LUA") (10 payloads/request), wrk -t$THREADS -c$CONNECTIONS, warm-up ${WARMUP}s, measured ${DURATION}s; phases: $ORDER"
say ""

declare -A N
PHASES=()
for q in $ORDER; do
  N[$q]=$(( ${N[$q]:-0} + 1 )); ph=${q/@/-}${N[$q]}; PHASES+=("$ph")
  if [[ $q == *@* ]]; then run_phase "$ph" "${q%@*}" "${JARS[${q#*@}]}" "${OPTS[${q#*@}]}"; else run_phase "$ph" "$q"; fi
done

say "summary (measured ${DURATION}s each)"
printf '%-14s %9s %7s %8s %9s %10s %9s %8s %8s %8s %9s\n' phase req/s p50_ms p99_ms fsyncs/s req/fsync fsync_ms cores us/req rss_MiB lost | tee -a "$SUMMARY"
for ph in "${PHASES[@]}"; do
  printf '%-14s %9s %7s %8s %9s %10s %9s %8s %8s %8s %9s\n' "$ph" "${R[$ph.rps]}" "${R[$ph.p50]}" "${R[$ph.p99]}" \
    "${R[$ph.fsync_s]}" "${R[$ph.per_fsync]}" "${R[$ph.fsync_ms]}" "$(div "${R[$ph.cpu]}" "$DURATION" %.2f)" \
    "$(awk -v c="${R[$ph.cpu]}" -v n="${R[$ph.req]}" 'BEGIN{if (n+0 == 0) print "-"; else printf "%.0f", c*1e6/n}')" \
    "${R[$ph.hwm]}" "$(( ${R[$ph.acc]} - ${R[$ph.lines]} ))" | tee -a "$SUMMARY"
done
for ph in "${PHASES[@]}"; do
  [[ $ph == disk* ]] || continue
  say "$ph against the targets: req/s ${R[$ph.rps]} $(awk -v v="${R[$ph.rps]}" 'BEGIN{print (v >= 33333 ? "met" : "NOT met")}') (>= 33,333); p99 ${R[$ph.p99]} ms $(awk -v v="${R[$ph.p99]}" 'BEGIN{print (v <= 20 ? "met" : "NOT met")}') (<= 20); peak RSS ${R[$ph.hwm]} MiB = $(awk -v v="${R[$ph.hwm]}" 'BEGIN{printf "%.0f", v*1.048576}') MB $(awk -v v="${R[$ph.hwm]}" 'BEGIN{print (v*1.048576 <= 400 ? "met" : "NOT met")}') (<= 400 MB)"
done
say ""
say "raw output: $OUT"
