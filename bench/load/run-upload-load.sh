#!/usr/bin/env bash
# bench/load/run-upload-load.sh — the upload path under HTTP load (BENCHMARKS.md U4), one run, so
# every ratio is side by side: one standalone S3Proxy (filesystem backend, its own JVM) serves
#   seed        the seed's Go design (bench/load/seed-go: 64 workers, one PUT per payload, AWS SDK
#               for Go), built here from Debian's golang-go and golang-github-aws-aws-sdk-go-dev
#   per-payload millrace-ingest, MILLRACE_MODE=per-payload, defaults otherwise (the durable disk
#               queue); per-payload-memory: the same with MILLRACE_QUEUE=memory
#   batched     millrace-ingest batched, default template, gzip
#   source      batched, MILLRACE_KEY_TEMPLATE with {$.source} (99 values in payloads.lua)
#   type        batched, MILLRACE_KEY_TEMPLATE with {$.type} (one value in payloads.lua: the cost of
#               reading the field and splitting, without more objects)
#   zstd        batched, default template, MILLRACE_COMPRESSION=zstd
#   none        batched, default template, MILLRACE_COMPRESSION=none
# Each: a fresh process, $WARMUP s of wrk, then wrk -t2 -c64 -d${DURATION}s -s payloads.lua;
# stored payloads/s counted by the process itself over the measured window (the seed's /stats,
# the service's millrace_payloads_stored_total); the service's CPU seconds and object bytes over
# the window give CPU per stored payload and bytes per stored payload.
#
#   bench/load/run-upload-load.sh [phases]     # default: all six, in the order above
# Environment: DURATION=30 WARMUP=5 PAYLOADS_LUA (default: shared/bench/payloads.lua beside the repo)
#              JAR (default ingest/target/millrace-ingest.jar: another build, e.g. the commit before
#              a change, for before/after in one session), JAVA_OPTS (default -Xmx256m; e.g. add
#              -XX:StartFlightRecording=filename=...jfr for a profile), EXTRA_ENV (VAR=value ...
#              added to every service phase, e.g. EXTRA_ENV="MAX_QUEUE=200000")
#              OUT (default bench/load/results/upload-<UTC time>; not committed)
# Holds /tmp/millrace-mvn.lock for the whole run; builds nothing with Maven (run
# `mvn -B -q -pl bench -am -DskipTests package` and bench/run-upload.sh's class path step first:
# it needs ingest/target/millrace-ingest.jar, ingest/target/lib and bench/target/benchmarks.jar).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hold_build_lock "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PAYLOADS_LUA=${PAYLOADS_LUA:-$ROOT/../shared/bench/payloads.lua}
[[ -f $PAYLOADS_LUA ]] || { echo "workload not found: $PAYLOADS_LUA (set PAYLOADS_LUA)" >&2; exit 2; }
DURATION=${DURATION:-30}; WARMUP=${WARMUP:-5}
OUT=${OUT:-$HERE/results/upload-$(date -u +%Y%m%dT%H%M%SZ)}
PHASES=${*:-seed per-payload per-payload-memory batched source zstd}
mkdir -p "$OUT"; SUMMARY=$OUT/summary.txt; : > "$SUMMARY"
JAVA=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
CP="$ROOT/ingest/target/millrace-ingest.jar:$ROOT/ingest/target/lib/*:$ROOT/bench/target/benchmarks.jar"
PORT=18080; SEED_PORT=18090
JAR=${JAR:-$ROOT/ingest/target/millrace-ingest.jar}; JAVA_OPTS=${JAVA_OPTS:--Xmx256m}

need=()
command -v wrk >/dev/null || need+=(wrk)
SEED_BIN=$OUT/seed-go
if [[ " $PHASES " == *" seed "* ]]; then # Go and the SDK only for the seed phase
  command -v go >/dev/null || need+=(golang-go)
  [[ -d /usr/share/gocode/src/github.com/aws/aws-sdk-go ]] || need+=(golang-github-aws-aws-sdk-go-dev)
fi
if ((${#need[@]})); then apt-get update -qq; apt-get install -y -qq "${need[@]}" >/dev/null; fi
if [[ " $PHASES " == *" seed "* ]]; then
  (cd "$HERE/seed-go" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$OUT/gocache go build -o "$SEED_BIN" .)
fi

STORE_DIR=$(mktemp -d /tmp/millrace-upload-store.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$STORE_DIR" "$OUT/gocache"
}
trap cleanup EXIT
mkfifo "$OUT/store.in"
"$JAVA" -Xmx1g -cp "$CP" io.millrace.bench.PutHarness store "$STORE_DIR" < "$OUT/store.in" > "$OUT/store.out" 2> "$OUT/store.err" &
STORE_PID=$!; PIDS+=("$STORE_PID")
exec 9> "$OUT/store.in" # keeps the store's stdin open until we exit
for _ in $(seq 300); do grep -q READY "$OUT/store.out" && break; sleep 0.1; done
S3_PORT=$(awk '/READY/{print $2}' "$OUT/store.out")
ENDPOINT=http://127.0.0.1:$S3_PORT
say "# upload path under load, $(date -u '+%Y-%m-%d %H:%M UTC'); store $ENDPOINT; $(nproc) cores; load at start $(cut -d' ' -f1-3 /proc/loadavg)"
say "jar $JAR ($(sha256sum "$JAR" | cut -c1-12)); JAVA_OPTS $JAVA_OPTS"
say "phase | req/s | non-2xx | payloads stored/s | process CPU µs per stored payload | bytes/payload stored | p99 ms"

metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" 'index($0,m" ")==1{s+=$NF} END{printf "%.0f", s}'; }
# seconds the encode stage's calls ran (wall time summed over concurrent calls; on saturated cores
# it includes waiting for a core, so it bounds the encoders' CPU from above)
encode_busy() { curl -s "http://127.0.0.1:$PORT/metrics" | awk 'index($0,"millrace_pipeline_stage_busy_seconds_total{stage=\"encode\"")==1{s+=$NF} END{printf "%.3f", s}'; }
seed_stored() { curl -s "http://127.0.0.1:$SEED_PORT/stats" | awk '$1=="stored"{print $2}'; }

run_wrk() { # URL NAME -> wrk output in $OUT/NAME.wrk
  wrk -t2 -c64 -d"${WARMUP}s" -s "$PAYLOADS_LUA" "$1" > "$OUT/$2-warmup.wrk" 2>&1 || true
}

phase_seed() {
  S3_ENDPOINT=$ENDPOINT S3_BUCKET=bench AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-0123456789 \
    SEED_PORT=$SEED_PORT MAX_WORKERS=64 "$SEED_BIN" > "$OUT/seed.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  until curl -sf -o /dev/null "http://127.0.0.1:$SEED_PORT/stats"; do sleep 0.05; done
  local url=http://127.0.0.1:$SEED_PORT/v1/payloads
  run_wrk "$url" seed
  local s0 c0 s1 c1; s0=$(seed_stored); c0=$(cpu_seconds "$pid")
  wrk -t2 -c64 -d"${DURATION}s" --latency -s "$PAYLOADS_LUA" "$url" > "$OUT/seed.wrk" 2>&1
  s1=$(seed_stored); c1=$(cpu_seconds "$pid")
  read -r rps p50 p99 req bad < <(wrk_parse "$OUT/seed.wrk")
  say "seed (Go, 64 workers) | $rps | $bad | $(( (s1 - s0) / DURATION )) | $(awk -v a="$c0" -v b="$c1" -v n=$((s1 - s0)) 'BEGIN{printf "%.1f", n ? (b-a)*1000000/n : 0}') | - | $p99 (RSS $(vm "$pid" VmHWM) MiB)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

phase_millrace() { # NAME ENV...
  local name=$1; shift
  local data; data=$(mktemp -d /tmp/millrace-upload-svc.XXXXXX)
  env MILLRACE_S3_ENDPOINT=$ENDPOINT MILLRACE_BUCKET=bench AWS_ACCESS_KEY_ID=bench \
    AWS_SECRET_ACCESS_KEY=bench-secret-0123456789 AWS_REGION=us-east-1 MILLRACE_HOST=127.0.0.1 \
    MILLRACE_PORT=$PORT MILLRACE_DATA_DIR="$data" MILLRACE_PREFIX="$name" "$@" ${EXTRA_ENV:-} \
    "$JAVA" $JAVA_OPTS -jar "$JAR" > "$OUT/$name.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.05; done
  local url=http://127.0.0.1:$PORT/v1/payloads
  run_wrk "$url" "$name"
  local s0 c0 b0 o0 t0 e0 s1 c1 b1 o1 t1 e1
  s0=$(metric millrace_payloads_stored_total); b0=$(metric millrace_object_bytes_stored_total); c0=$(cpu_seconds "$pid")
  o0=$(metric millrace_objects_stored_total); t0=$(cpu_seconds "$STORE_PID"); e0=$(encode_busy)
  wrk -t2 -c64 -d"${DURATION}s" --latency -s "$PAYLOADS_LUA" "$url" > "$OUT/$name.wrk" 2>&1
  s1=$(metric millrace_payloads_stored_total); b1=$(metric millrace_object_bytes_stored_total); c1=$(cpu_seconds "$pid")
  o1=$(metric millrace_objects_stored_total); t1=$(cpu_seconds "$STORE_PID"); e1=$(encode_busy)
  local limit; limit=$(metric millrace_upload_concurrency_limit)
  read -r rps p50 p99 req bad < <(wrk_parse "$OUT/$name.wrk")
  local n=$((s1 - s0))
  say "$name ($*) | $rps | $bad | $(( n / DURATION )) | $(awk -v a="$c0" -v b="$c1" -v n=$n 'BEGIN{printf "%.1f", n ? (b-a)*1000000/n : 0}') | $(awk -v a="$b0" -v b="$b1" -v n=$n 'BEGIN{printf "%.1f", n ? (b-a)/n : 0}') | $p99 (objects/s $(( (o1 - o0) / DURATION )), encode stage $(awk -v a="$e0" -v b="$e1" -v n=$n 'BEGIN{printf "%.2f", n ? (b-a)*1000000/n : 0}') µs/payload, store CPU $(awk -v a="$t0" -v b="$t1" -v d="$DURATION" 'BEGIN{printf "%.0f", (b-a)*100/d}')% of a core, limit at end $limit, RSS $(vm "$pid" VmHWM) MiB)"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

for ph in $PHASES; do
  case $ph in
    seed) phase_seed ;;
    per-payload) phase_millrace per-payload MILLRACE_MODE=per-payload ;;
    per-payload-memory) phase_millrace per-payload-memory MILLRACE_MODE=per-payload MILLRACE_QUEUE=memory ;;
    batched) phase_millrace batched MILLRACE_MODE=batched ;;
    source) phase_millrace source MILLRACE_MODE=batched 'MILLRACE_KEY_TEMPLATE={prefix}/source={$.source}/dt={date}/hour={hour}/{batch}{ext}' ;;
    type) phase_millrace type MILLRACE_MODE=batched 'MILLRACE_KEY_TEMPLATE={prefix}/type={$.type}/dt={date}/hour={hour}/{batch}{ext}' ;;
    zstd) phase_millrace zstd MILLRACE_MODE=batched MILLRACE_COMPRESSION=zstd ;;
    none) phase_millrace none MILLRACE_MODE=batched MILLRACE_COMPRESSION=none ;;
    *) echo "unknown phase $ph" >&2; exit 2 ;;
  esac
done
say "results in $OUT"
