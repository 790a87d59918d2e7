#!/usr/bin/env bash
# bench/load/run-jetstream.sh — the JetStream queue mode of millrace-ingest against the
# in-memory queue, in one run (so every ratio is same-run, same box, same minute).
#
# What it does:
#   0. installs wrk with apt-get if missing (needs root); builds ingest/target/millrace-ingest.jar
#      if it is missing or older than ingest/src/main or a pom (mvn -B -q -pl ingest -am package
#      -DskipTests), then runs a private copy of the jar and its lib/; checks that nats-server
#      answers on $NATS_URL with JetStream enabled, and finds its pid (pgrep -f 'nats-server.*-p PORT').
#   1. memory: MILLRACE_QUEUE=memory, role all, batched, embedded store, on 127.0.0.1:$PORT.
#   2. jetstream-all: MILLRACE_QUEUE=$NATS_URL, role all (admission + workers + embedded store
#      in one JVM), a fresh stream BENCH<time>A (subject bench<time>a.p, dead bench<time>a.dead).
#   3. jetstream-split: a fresh stream BENCH<time>S; one worker process (role worker, its own
#      embedded store, on $PORT+1; started first) and one ingest process (role ingest, no store,
#      on $PORT); wrk drives the ingest.
#   Each phase: wait for /readyz, warm up ($WARMUP s), then the measured window
#          wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency -s payloads.lua http://127.0.0.1:$PORT/v1/payloads
#   and report over that window: req/s, p50/p99/p99.9, payloads accepted and stored per second
#   (deltas of millrace_payloads_accepted_total / millrace_payloads_stored_total from /metrics),
#   CPU seconds of every service process and of nats-server (utime+stime from /proc/PID/stat),
#   of wrk (bash `times`) and of the whole machine (/proc/stat), so what other work on the box
#   took is visible; CPU per payload (CPU s / payloads of the window) and per request.
#   In the split phase also CPU by thread of the ingest and the worker over the window (from
#   /proc/PID/task; threads grouped by name with digits folded), which shows the embedded
#   store's share of the worker (S3Proxy's Jetty threads).
#   Then: wait until stored >= accepted (at most $CATCHUP s; how long it took is reported),
#   SIGTERM (ingest first, then the worker), wait (a JVM ended by SIGTERM exits 143), and compare accepted (metric, and 202s x 10)
#   with what is in the store's files (lines of the .ndjson.gz objects under the data folder)
#   and, for JetStream, with the messages left in the stream. The streams (and the workers' batch
#   ledgers, KV_<stream>_BATCHES; MILLRACE_NATS_LEDGER_TTL_MS=0 in the environment runs without one) are deleted at the end
#   (also on failure) with a single-file Java program and the jnats jar from ingest/target/lib.
#   Last: a table, and the cores each role would need per 1M payloads/s at the measured cost.
#
# Usage (from anywhere; holds /tmp/millrace-mvn.lock for the whole run, like run-load.sh, so no
# build or other measurement overlaps it):
#   bench/load/run-jetstream.sh [path/to/payloads.lua]
# Environment:
#   PAYLOADS_LUA  workload (default: bench/load/payloads.lua, the canonical workload; arg 1 wins)
#   NATS_URL=nats://127.0.0.1:4222   the JetStream server (must run already; not started here)
#   DURATION=30  measured window, seconds    WARMUP=10  warm-up, seconds
#   CATCHUP=120  at most this long to wait for the workers to store the backlog after the load
#   PORT=18080 (worker in the split phase: PORT+1)   THREADS=2   CONNECTIONS=64
#   JAVA_OPTS="-Xmx256m"   JVM flags for every service process (as run-load.sh)
#   SKIP_MEMORY=1 / SKIP_ALL=1 / SKIP_SPLIT=1   leave a phase out
#   OUT   results folder (default bench/load/results/<UTC time>-jetstream; not committed)
# Output: a summary on stdout and in $OUT/summary.txt; raw wrk output, metrics and logs in $OUT.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
hold_build_lock "$@"

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PAYLOADS_LUA=${1:-${PAYLOADS_LUA:-$HERE/payloads.lua}}
PAYLOADS_LUA=$(cd "$(dirname "$PAYLOADS_LUA")" && pwd)/$(basename "$PAYLOADS_LUA")
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
DURATION=${DURATION:-30}; WARMUP=${WARMUP:-10}; CATCHUP=${CATCHUP:-120}
PORT=${PORT:-18080}; WPORT=$((PORT + 1))
THREADS=${THREADS:-2}; CONNECTIONS=${CONNECTIONS:-64}; JAVA_OPTS=${JAVA_OPTS:--Xmx256m}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$HERE/results/$STAMP-jetstream}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt; : > "$SUMMARY"

[[ -f "$PAYLOADS_LUA" ]] || { echo "workload not found: $PAYLOADS_LUA (give its path as argument 1 or PAYLOADS_LUA)" >&2; exit 2; }

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
RUN_DIR=$(mktemp -d /tmp/millrace-js-jar.XXXXXX)
cp -r "$JAR" "$ROOT/ingest/target/lib" "$RUN_DIR/"
JAR=$RUN_DIR/millrace-ingest.jar
JNATS=$(ls "$RUN_DIR"/lib/jnats-*.jar | head -1)

# JetStream admin: check | info STREAM... | delete STREAM...  (jnats, single-file Java program)
cat > "$RUN_DIR/JsAdmin.java" <<'JAVA'
import io.nats.client.*;
import io.nats.client.api.*;

public class JsAdmin {
  public static void main(String[] a) throws Exception {
    Options o = new Options.Builder().server(a[0]).connectionTimeout(java.time.Duration.ofSeconds(5)).build();
    try (Connection nc = Nats.connect(o)) {
      JetStreamManagement jsm = nc.jetStreamManagement();
      if (a[1].equals("check")) {
        AccountStatistics s = jsm.getAccountStatistics();
        System.out.println("jetstream ok: " + s.getStreams() + " streams, " + s.getStorage() + " bytes on file");
        return;
      }
      for (int i = 2; i < a.length; i++) {
        String name = a[i];
        try {
          StreamState st = jsm.getStreamInfo(name).getStreamState();
          String c = "";
          for (String cn : jsm.getConsumerNames(name)) {
            ConsumerInfo ci = jsm.getConsumerInfo(name, cn);
            c += " consumer " + cn + " pending=" + ci.getNumPending() + " ack_pending=" + ci.getNumAckPending()
                + " redelivered=" + ci.getRedelivered();
          }
          if (a[1].equals("delete")) {
            jsm.deleteStream(name);
            System.out.println(name + " deleted (held " + st.getMsgCount() + " messages)");
          } else {
            System.out.println(name + " messages=" + st.getMsgCount() + " bytes=" + st.getByteCount()
                + " first_seq=" + st.getFirstSequence() + " last_seq=" + st.getLastSequence() + c);
          }
        } catch (JetStreamApiException e) {
          System.out.println(name + ": " + e.getMessage());
        }
      }
    }
  }
}
JAVA
js_admin() { "$JAVA" -cp "$JNATS" "$RUN_DIR/JsAdmin.java" "$NATS_URL" "$@" 2>&1; }

# --- measuring (the same approach as run-load.sh) -------------------------------------------
machine_busy() { awk -v t="$CLK_TCK" '$1=="cpu"{printf "%.2f", ($2+$3+$4+$7+$8+$9)/t}' /proc/stat; }   # all cores
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($0,m)==1{s+=$NF} END{printf "%.0f", s}'; }
status_count() { awk -v s="status=\"$2\"" '/^millrace_http_responses_total/ && index($0,s){n+=$NF} END{printf "%.0f", n}' "$1"; }
LUA_P999=$OUT/payloads-p999.lua
lua_with_p999 "$PAYLOADS_LUA" "$LUA_P999"
# bash `times` in the subshell that ran wrk: line 2 is the children's user and system time
times_seconds() { awk 'NR==2{s=0; for(i=1;i<=2;i++){split($i,p,"m"); sub(/s$/,"",p[2]); s+=p[1]*60+p[2]} printf "%.2f", s}' "$1"; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN{if (b+0 == 0) print "n/a"; else printf f, a/b}'; }
us_per() { awk -v c="$1" -v n="$2" 'BEGIN{if (n+0 == 0) print "n/a"; else printf "%.1f", c*1e6/n}'; }

# --- nats-server -------------------------------------------------------------------------------
NATS_HOSTPORT=${NATS_URL#*://}; NATS_HOSTPORT=${NATS_HOSTPORT%%,*}; NATS_PORT=${NATS_HOSTPORT##*:}; NATS_PORT=${NATS_PORT%%/*}
NATS_PID=$(pgrep -f "nats-server.*(-p|--port)[ =]$NATS_PORT( |$)" | head -1 || true)
[[ -z "$NATS_PID" && "$NATS_PORT" == 4222 ]] && NATS_PID=$(pgrep -x nats-server | head -1 || true)
NATS_CHECK=$(js_admin check | tail -1)
[[ "$NATS_CHECK" == "jetstream ok"* ]] || { echo "no JetStream at $NATS_URL: $NATS_CHECK" >&2; exit 2; }
nats_cpu() { if [[ -n "$NATS_PID" ]]; then cpu_seconds "$NATS_PID"; else echo 0; fi; }
STREAM_A=BENCH${STAMP//[TZ]/}A; SUBJ_A=bench${STAMP//[TZ]/}a
STREAM_S=BENCH${STAMP//[TZ]/}S; SUBJ_S=bench${STAMP//[TZ]/}s
STREAMS=()

PIDS=(); DATAS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  local s kv=(); for s in "${STREAMS[@]}"; do kv+=("KV_${s}_BATCHES"); done  # the batch ledgers
  if ((${#STREAMS[@]})); then js_admin delete "${STREAMS[@]}" "${STREAMS[@]/%/_DEAD}" "${kv[@]}" >> "$OUT/streams-deleted.txt" || true; fi
  rm -rf "${RUN_DIR:-/nonexistent}" "${DATAS[@]}"
}
trap cleanup EXIT

# start_svc NAME PORT [VAR=VALUE...] -> LAST_PID, LAST_DATA, READY_MS (launch -> first /readyz 200)
start_svc() {
  local name=$1 port=$2; shift 2
  local t0 data; t0=$(date +%s%N); data=$(mktemp -d "/tmp/millrace-js-$name.XXXXXX"); DATAS+=("$data")
  env MILLRACE_HOST=127.0.0.1 MILLRACE_PORT="$port" MILLRACE_DATA_DIR="$data" MILLRACE_MODE=batched "$@" \
    "$JAVA" $JAVA_OPTS -jar "$JAR" > "$OUT/service-$name.log" 2>&1 &
  LAST_PID=$!; LAST_DATA=$data; PIDS+=("$LAST_PID")
  until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do
    kill -0 "$LAST_PID" 2>/dev/null || { echo "$name died; see $OUT/service-$name.log" >&2; tail -20 "$OUT/service-$name.log" >&2; exit 1; }
    (( ($(date +%s%N) - t0) / 1000000 < 60000 )) || { echo "$name not ready after 60 s" >&2; exit 1; }
    sleep 0.02
  done
  READY_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stop_svc() {  # PID -> STOP_MS, STOP_RC
  local t0 p=$1; t0=$(date +%s%N); STOP_RC=0
  kill -TERM "$p"; wait "$p" 2>/dev/null || STOP_RC=$?
  local keep=(); for q in "${PIDS[@]}"; do [[ "$q" != "$p" ]] && keep+=("$q"); done; PIDS=("${keep[@]}")
  STOP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
stored_lines() { find "$@" -name '*.ndjson.gz' -print0 | xargs -0 -r zcat | wc -l; }
stored_objects() { find "$@" -name '*.ndjson.gz' | wc -l; }

declare -A R   # results for the table: R[phase.key]

# measure PHASE INGEST_PORT STORE_PORT INGEST_PID WORKER_PID (the same pid twice for role all)
measure() {
  local ph=$1 ip=$2 sp=$3 ipid=$4 wpid=$5 url="http://127.0.0.1:$2/v1/payloads"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --latency -s "$LUA_P999" "$url" > "$OUT/wrk-$ph-warmup.txt"
  local ci0 cw0 cn0 m0 a0 s0 ci1 cw1 cn1 m1 a1 s1 tp=()
  ci0=$(cpu_seconds "$ipid"); cw0=$(cpu_seconds "$wpid"); cn0=$(nats_cpu); m0=$(machine_busy)
  a0=$(metric "$ip" millrace_payloads_accepted_total); s0=$(metric "$sp" millrace_payloads_stored_total)
  if [[ "$ipid" != "$wpid" ]]; then
    ( thread_cpu "$ipid" $((DURATION - 1)) "$OUT/threads-$ph-ingest.txt" ) & tp+=($!)
    ( thread_cpu "$wpid" $((DURATION - 1)) "$OUT/threads-$ph-worker.txt" ) & tp+=($!)
  fi
  ( wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$LUA_P999" "$url" > "$OUT/wrk-$ph.txt"; times > "$OUT/wrk-$ph-times.txt" )
  ci1=$(cpu_seconds "$ipid"); cw1=$(cpu_seconds "$wpid"); cn1=$(nats_cpu); m1=$(machine_busy)
  a1=$(metric "$ip" millrace_payloads_accepted_total); s1=$(metric "$sp" millrace_payloads_stored_total)
  for p in "${tp[@]}"; do wait "$p" 2>/dev/null || true; done
  local rps p50 p99 req bad acc st
  read -r rps p50 p99 req bad < <(wrk_parse "$OUT/wrk-$ph.txt")
  acc=$((a1 - a0)); st=$((s1 - s0))
  R[$ph.rps]=$rps; R[$ph.p50]=$p50; R[$ph.p99]=$p99; R[$ph.p999]=$(p999 "$OUT/wrk-$ph.txt"); R[$ph.req]=$req; R[$ph.bad]=$bad
  R[$ph.acc]=$acc; R[$ph.st]=$st
  R[$ph.acc_s]=$(div "$acc" "$DURATION" %.0f); R[$ph.st_s]=$(div "$st" "$DURATION" %.0f)
  R[$ph.cpu_i]=$(awk -v a="$ci0" -v b="$ci1" 'BEGIN{printf "%.1f", b-a}')
  R[$ph.cpu_w]=$(awk -v a="$cw0" -v b="$cw1" 'BEGIN{printf "%.1f", b-a}')
  R[$ph.cpu_n]=$(awk -v a="$cn0" -v b="$cn1" 'BEGIN{printf "%.1f", b-a}')
  R[$ph.cpu_m]=$(awk -v a="$m0" -v b="$m1" 'BEGIN{printf "%.1f", b-a}')
  R[$ph.cpu_wrk]=$(times_seconds "$OUT/wrk-$ph-times.txt")
  R[$ph.hwm_i]=$(vm "$ipid" VmHWM); R[$ph.hwm_w]=$(vm "$wpid" VmHWM)
}

# settle PHASE INGEST_PORT STORE_PORT: after the load, wait until stored >= accepted (<= $CATCHUP s)
settle() {
  local ph=$1 ip=$2 sp=$3 t0 a s; t0=$(date +%s%N)
  while :; do
    a=$(metric "$ip" millrace_payloads_accepted_total); s=$(metric "$sp" millrace_payloads_stored_total)
    (( s >= a )) && break
    (( ($(date +%s%N) - t0) / 1000000000 < CATCHUP )) || break
    sleep 0.2
  done
  R[$ph.catchup_ms]=$(( ($(date +%s%N) - t0) / 1000000 )); R[$ph.acc_end]=$a; R[$ph.st_end]=$s
  curl -s "http://127.0.0.1:$ip/metrics" > "$OUT/metrics-$ph-ingest.txt"
  [[ "$ip" != "$sp" ]] && curl -s "http://127.0.0.1:$sp/metrics" > "$OUT/metrics-$ph-worker.txt"
  R[$ph.h202]=$(status_count "$OUT/metrics-$ph-ingest.txt" 202); R[$ph.h429]=$(status_count "$OUT/metrics-$ph-ingest.txt" 429)
  R[$ph.h503]=$(status_count "$OUT/metrics-$ph-ingest.txt" 503)
}

report() {  # PHASE LABEL
  local ph=$1 label=$2 split=${3:-}
  say "$label, measured ${DURATION}s: ${R[$ph.rps]} req/s; p50 ${R[$ph.p50]} ms, p99 ${R[$ph.p99]} ms, p99.9 ${R[$ph.p999]} ms; ${R[$ph.req]} requests, non-2xx ${R[$ph.bad]}"
  say "  payloads in the window (metrics): accepted ${R[$ph.acc]} = ${R[$ph.acc_s]}/s, stored ${R[$ph.st]} = ${R[$ph.st_s]}/s"
  if [[ -n "$split" ]]; then
    say "  CPU s in the window: ingest ${R[$ph.cpu_i]}, worker ${R[$ph.cpu_w]}, nats-server ${R[$ph.cpu_n]}, wrk ${R[$ph.cpu_wrk]}, whole machine ${R[$ph.cpu_m]} of $(( $(nproc) * DURATION )) (others: $(awk -v m="${R[$ph.cpu_m]}" -v a="${R[$ph.cpu_i]}" -v b="${R[$ph.cpu_w]}" -v c="${R[$ph.cpu_n]}" -v d="${R[$ph.cpu_wrk]}" 'BEGIN{printf "%.1f", m-a-b-c-d}'))"
    say "  CPU per payload: ingest $(us_per "${R[$ph.cpu_i]}" "${R[$ph.acc]}") µs (of payloads accepted), worker $(us_per "${R[$ph.cpu_w]}" "${R[$ph.st]}") µs (of payloads stored), nats-server $(us_per "${R[$ph.cpu_n]}" "${R[$ph.acc]}") µs (of payloads accepted)"
    say "  CPU per request (10 payloads): ingest $(us_per "${R[$ph.cpu_i]}" "$((${R[$ph.acc]} / 10))") µs, worker $(us_per "${R[$ph.cpu_w]}" "$((${R[$ph.st]} / 10))") µs, nats-server $(us_per "${R[$ph.cpu_n]}" "$((${R[$ph.acc]} / 10))") µs"
    say "  peak RSS (VmHWM): ingest ${R[$ph.hwm_i]} MiB, worker ${R[$ph.hwm_w]} MiB"
  else
    say "  CPU s in the window: service ${R[$ph.cpu_i]}, nats-server ${R[$ph.cpu_n]}, wrk ${R[$ph.cpu_wrk]}, whole machine ${R[$ph.cpu_m]} of $(( $(nproc) * DURATION )) (others: $(awk -v m="${R[$ph.cpu_m]}" -v a="${R[$ph.cpu_i]}" -v c="${R[$ph.cpu_n]}" -v d="${R[$ph.cpu_wrk]}" 'BEGIN{printf "%.1f", m-a-c-d}'))"
    say "  CPU per payload: service $(us_per "${R[$ph.cpu_i]}" "${R[$ph.st]}") µs (of payloads stored), nats-server $(us_per "${R[$ph.cpu_n]}" "${R[$ph.acc]}") µs; per request: service $(us_per "${R[$ph.cpu_i]}" "$((${R[$ph.st]} / 10))") µs"
    say "  peak RSS (VmHWM): ${R[$ph.hwm_i]} MiB"
  fi
  say "  after the load: stored caught up with accepted in ${R[$ph.catchup_ms]} ms (accepted ${R[$ph.acc_end]}, stored ${R[$ph.st_end]} by the metrics); responses over the life: 202 ${R[$ph.h202]} (x10 = $((${R[$ph.h202]} * 10))), 429 ${R[$ph.h429]}, 503 ${R[$ph.h503]} (all paths: /readyz polls during start-up count too)"
}

say "# millrace-ingest JetStream vs memory, $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); wrk, nats-server and the services on the same box; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say "java: $("$JAVA" -version 2>&1 | head -1); JAVA_OPTS: $JAVA_OPTS; jar built $(date -u -r "$ROOT/ingest/target/millrace-ingest.jar" '+%H:%M UTC'), repo HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "nats-server: $NATS_URL, pid ${NATS_PID:-not found (its CPU is not measured)} ($(tr '\0' ' ' < "/proc/${NATS_PID:-0}/cmdline" 2>/dev/null || true)); $NATS_CHECK; streams $STREAM_A, $STREAM_S (R1, file storage, work-queue; deleted at the end)"
say "workload: $(basename "$PAYLOADS_LUA") (10 payloads/request), wrk -t$THREADS -c$CONNECTIONS, warm-up ${WARMUP}s, measured ${DURATION}s"
say ""

# --- 1. memory, role all ------------------------------------------------------------------------
if [[ -z "${SKIP_MEMORY:-}" ]]; then
  start_svc memory "$PORT" MILLRACE_QUEUE=memory MILLRACE_ROLE=all
  PID=$LAST_PID; D=$LAST_DATA; R[mem.ready]=$READY_MS
  measure mem "$PORT" "$PORT" "$PID" "$PID"
  settle mem "$PORT" "$PORT"
  stop_svc "$PID"
  R[mem.lines]=$(stored_lines "$D"); R[mem.objects]=$(stored_objects "$D")
  R[mem.spilled]=$(find "$D/spill" -name '*.ndjson' -print0 2>/dev/null | xargs -0 -r cat | wc -l || true)
  report mem "memory queue, role all (ready in ${R[mem.ready]} ms)"
  say "  after SIGTERM (${STOP_MS} ms, exit $STOP_RC): stored lines ${R[mem.lines]} in ${R[mem.objects]} objects, spilled ${R[mem.spilled]}; accepted - stored - spilled = $(( ${R[mem.acc_end]} - ${R[mem.lines]} - ${R[mem.spilled]} ))"
  say ""
fi

# --- 2. JetStream, role all ------------------------------------------------------------------------
if [[ -z "${SKIP_ALL:-}" ]]; then
  STREAMS+=("$STREAM_A")
  start_svc js-all "$PORT" MILLRACE_QUEUE="$NATS_URL" MILLRACE_ROLE=all MILLRACE_NATS_STREAM="$STREAM_A" \
    MILLRACE_NATS_SUBJECT="$SUBJ_A.p" MILLRACE_NATS_DEAD_SUBJECT="$SUBJ_A.dead"
  PID=$LAST_PID; D=$LAST_DATA; R[all.ready]=$READY_MS
  measure all "$PORT" "$PORT" "$PID" "$PID"
  settle all "$PORT" "$PORT"
  stop_svc "$PID"
  R[all.lines]=$(stored_lines "$D"); R[all.objects]=$(stored_objects "$D")
  report all "JetStream, role all (ready in ${R[all.ready]} ms)"
  say "  after SIGTERM (${STOP_MS} ms, exit $STOP_RC): stored lines ${R[all.lines]} in ${R[all.objects]} objects; accepted - stored = $(( ${R[all.acc_end]} - ${R[all.lines]} )); stream: $(js_admin info "$STREAM_A" "${STREAM_A}_DEAD" | tr '\n' ';')"
  say ""
fi

# --- 3. JetStream, ingest + worker -------------------------------------------------------------------
if [[ -z "${SKIP_SPLIT:-}" ]]; then
  STREAMS+=("$STREAM_S")
  NATS_ENV=(MILLRACE_QUEUE="$NATS_URL" MILLRACE_NATS_STREAM="$STREAM_S" MILLRACE_NATS_SUBJECT="$SUBJ_S.p" MILLRACE_NATS_DEAD_SUBJECT="$SUBJ_S.dead")
  start_svc js-worker "$WPORT" "${NATS_ENV[@]}" MILLRACE_ROLE=worker
  WPID=$LAST_PID; WD=$LAST_DATA; R[split.ready_w]=$READY_MS
  start_svc js-ingest "$PORT" "${NATS_ENV[@]}" MILLRACE_ROLE=ingest
  IPID=$LAST_PID; R[split.ready]=$READY_MS
  measure split "$PORT" "$WPORT" "$IPID" "$WPID"
  settle split "$PORT" "$WPORT"
  stop_svc "$IPID"; R[split.stop_i]="$STOP_MS ms, exit $STOP_RC"
  stop_svc "$WPID"; R[split.stop_w]="$STOP_MS ms, exit $STOP_RC"
  R[split.lines]=$(stored_lines "$WD"); R[split.objects]=$(stored_objects "$WD")
  report split "JetStream, split: one ingest process + one worker process (ready in ${R[split.ready]} / ${R[split.ready_w]} ms)" split
  say "  after SIGTERM (ingest ${R[split.stop_i]}; worker ${R[split.stop_w]}): stored lines ${R[split.lines]} in ${R[split.objects]} objects; accepted - stored = $(( ${R[split.acc_end]} - ${R[split.lines]} )); stream: $(js_admin info "$STREAM_S" "${STREAM_S}_DEAD" | tr '\n' ';')"
  say "  CPU by thread over the window, % of one core (digits folded):"
  say "    ingest:"; head -6 "$OUT/threads-split-ingest.txt" | sed 's/^/      /' | tee -a "$SUMMARY"
  say "    worker:"; head -8 "$OUT/threads-split-worker.txt" | sed 's/^/      /' | tee -a "$SUMMARY"
  say ""
fi

# --- table -----------------------------------------------------------------------------------------
row() {  # PHASE LABEL
  local ph=$1
  [[ -n "${R[$ph.rps]:-}" ]] || return 0
  printf '%-22s %10s %8s %12s %9s %10s %10s %10s\n' "$2" "${R[$ph.rps]}" "${R[$ph.p99]}" "${R[$ph.st_s]}" \
    "$( [[ -n "${R[mem.rps]:-}" ]] && div "${R[$ph.rps]}" "${R[mem.rps]}" %.2f || echo n/a)" \
    "$(us_per "${R[$ph.cpu_i]}" "$( [[ $ph == split ]] && echo "${R[$ph.acc]}" || echo "${R[$ph.st]}")")" \
    "$( [[ $ph == split ]] && us_per "${R[$ph.cpu_w]}" "${R[$ph.st]}" || echo -)" \
    "$( [[ $ph == mem ]] && echo - || us_per "${R[$ph.cpu_n]}" "${R[$ph.acc]}")" | tee -a "$SUMMARY"
}
say "summary (measured ${DURATION}s each; CPU in µs per payload: 'service' is the whole process, ingest+worker for role all)"
printf '%-22s %10s %8s %12s %9s %10s %10s %10s\n' phase req/s p99_ms stored/s vs_memory svc/ingest worker nats | tee -a "$SUMMARY"
row mem "memory, all"; row all "jetstream, all"; row split "jetstream, split"
if [[ -n "${R[split.rps]:-}" ]]; then
  say "cores per 1M payloads/s at these costs (CPU only, same box): ingest $(awk -v u="$(us_per "${R[split.cpu_i]}" "${R[split.acc]}")" 'BEGIN{printf "%.1f", u}'), worker $(awk -v u="$(us_per "${R[split.cpu_w]}" "${R[split.st]}")" 'BEGIN{printf "%.1f", u}'), nats-server $(awk -v u="$(us_per "${R[split.cpu_n]}" "${R[split.acc]}")" 'BEGIN{printf "%.1f", u}')"
fi
if ((${#STREAMS[@]})); then
  KVS=(); for s in "${STREAMS[@]}"; do KVS+=("KV_${s}_BATCHES"); done  # the batch ledgers
  say "streams: $(js_admin delete "${STREAMS[@]}" "${STREAMS[@]/%/_DEAD}" "${KVS[@]}" | tr '\n' ';')"
  STREAMS=()
fi
say ""
say "raw output: $OUT"
