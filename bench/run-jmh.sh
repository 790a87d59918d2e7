#!/usr/bin/env bash
# Reproduces the tables of BENCHMARKS.md: builds bench/target/benchmarks.jar, runs benchmarks A-D
# in one JMH run (A, C: fork 1, 3 warm-ups x 2 s, 5 measurements x 2 s; B: 10 + 10 single runs;
# D: 3 forks x (2 + 3) x 2 s), writes
# bench/target/jmh-result.csv and prints the Markdown tables. About 10 minutes on 2 cores.
#
#   bench/run-jmh.sh                      # everything
#   bench/run-jmh.sh ChainBenchmark       # extra arguments go to JMH (a regex, -p threads=1, ...)
#
# Needs a JDK 21+ as JAVA_HOME (Gatherers.mapConcurrent is skipped below JDK 24); the tables in
# BENCHMARKS.md were made on JDK 25. Run nothing else CPU-heavy meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."

JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export JAVA_HOME
java="$JAVA_HOME/bin/java"

mvn -B -q -pl bench -am -DskipTests package

feature=$("$java" -XshowSettings:properties -version 2>&1 \
  | awk -F' = ' '/java.specification.version/ {print $2; exit}' | cut -d. -f1)
skip=()
if [ "$feature" -lt 24 ]; then
  skip=(-e gatherersMapConcurrent)
fi

result=bench/target/jmh-result.csv
"$java" -jar bench/target/benchmarks.jar -rf csv -rff "$result" "${skip[@]}" "$@"

echo
echo "JDK: $("$java" -version 2>&1 | head -1); cores: $(nproc)"
echo
"$java" -cp bench/target/benchmarks.jar io.millrace.bench.Tables "$result"
