# bench/load/lib.sh — what the load scripts share; sourced by them, not run.
#   hold_build_lock "$@"   re-runs the calling script under flock on $MILLRACE_LOCK
#                          (default /tmp/millrace-mvn.lock), so no build or other run overlaps it
#   say TEXT...            prints and appends to $SUMMARY
#   cpu_seconds PID        user+system CPU seconds of a process (0 once it is gone)
#   vm PID FIELD           a /proc/PID/status field (VmHWM, VmRSS...) in MiB
#   wrk_parse FILE         "req/s p50_ms p99_ms requests non_2xx" from wrk --latency output
#   lua_with_p999 SRC DEST the workload SRC with a done() hook that prints p99.9 and max
#   p999 FILE              the p99.9 (ms) printed by that hook
#   thread_cpu PID S OUT   CPU per thread name over S seconds, % of one core

hold_build_lock() {
  local lock=${MILLRACE_LOCK:-/tmp/millrace-mvn.lock}
  if [[ -z "${MILLRACE_LOAD_LOCK_HELD:-}" ]] && command -v flock >/dev/null; then
    export MILLRACE_LOAD_LOCK_HELD=1
    echo "waiting for $lock ..." >&2
    exec flock "$lock" "$0" "$@"
  fi
}

say() { echo "$*" | tee -a "$SUMMARY"; }

CLK_TCK=$(getconf CLK_TCK)
# fields 14 and 15 of /proc/PID/stat, counted after the command name (which may hold spaces)
cpu_seconds() { [[ -r /proc/$1/stat ]] && awk -v t="$CLK_TCK" '{sub(/^.*\) /,""); printf "%.2f", ($12+$13)/t}' "/proc/$1/stat" || echo 0; }
vm() { awk -v k="$2:" '$1==k{printf "%.0f", $2/1024}' "/proc/$1/status"; }   # MiB

wrk_parse() {
  awk '
    function ms(v){ if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /m$/) return v*60000; if (v ~ /s$/) return v*1000; return v }
    /^Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)}
    / requests in / {req=$1}
    /Non-2xx or 3xx responses/ {bad=$NF}
    END {printf "%s %.2f %.2f %s %s\n", rps, p50, p99, req, bad+0}' "$1"
}

# p99.9 needs wrk's own Lua done() hook, which the canonical workload lacks; append one.
lua_with_p999() {
  { cat "$1"; cat <<'LUA'

-- appended by the load scripts: print p99.9 (wrk --latency stops at p99)
function done(summary, latency, requests)
  io.write(string.format("p99.9: %.2f ms\n", latency:percentile(99.9) / 1000))
  io.write(string.format("max: %.2f ms\n", latency.max / 1000))
end
LUA
  } > "$2"
}
p999() { awk '/^p99.9:/{print $2}' "$1"; }

# thread_cpu PID SECONDS OUTFILE: CPU of each thread over SECONDS, from /proc/PID/task/*/stat,
# grouped by thread name with digits folded (ForkJoinPool-1-worker-3 -> ForkJoinPool-#-worker-#;
# the kernel keeps 15 characters of a name), as % of one core.
thread_cpu() {
  local pid=$1 secs=$2 out=$3 a b
  a=$(for t in /proc/$pid/task/*; do echo "${t##*/} $(awk '{sub(/^.*\) /,""); print $12+$13}' "$t/stat" 2>/dev/null) $(tr ' ' '_' < "$t/comm" 2>/dev/null)"; done)
  sleep "$secs"
  b=$(for t in /proc/$pid/task/*; do echo "${t##*/} $(awk '{sub(/^.*\) /,""); print $12+$13}' "$t/stat" 2>/dev/null) $(tr ' ' '_' < "$t/comm" 2>/dev/null)"; done)
  awk -v secs="$secs" -v tck="$CLK_TCK" 'NR==FNR{a[$1]=$2; next} NF==3{n=$3; gsub(/[0-9]+/,"#",n); d[n]+=($2-a[$1]); c[n]++}
    END{for (n in d) printf "%6.1f%%  %s (%d threads)\n", 100*d[n]/tck/secs, n, c[n]}' <(echo "$a") <(echo "$b") | sort -nr > "$out"
}
