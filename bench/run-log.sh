#!/usr/bin/env bash
# Compares durable local logs for the ingest service's default queue (ADR 0003): the
# purpose-built segment log (millrace), RocksDB with a synced WAL (its own write groups, and behind
# one group-commit writer thread: rocksdb-gc), H2 MVStore and Tape's
# QueueFile, each in its own JVM, ROUNDS times in alternation (the machine is shared and noisy).
# Workload: 64 virtual-thread appenders, requests of 10 payloads of ~110 B, each durable before
# it returns; one consumer reading in order and deleting what it read.
#
#   bench/run-log.sh                         # all five, 2 rounds, 5 s warm-up + 15 s each
#   BACKENDS="millrace rocksdb" ROUNDS=3 SECONDS_EACH=20 bench/run-log.sh
#   THREADS=platform BACKENDS="millrace rocksdb" bench/run-log.sh   # appenders on platform threads
#
# Holds the build lock for the whole run. Data goes to bench/target/log-bench (same disk as the
# service's MILLRACE_DATA_DIR would be).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/load/lib.sh
. bench/load/lib.sh
hold_build_lock "$@"

JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
BACKENDS=${BACKENDS:-millrace rocksdb rocksdb-gc mvstore tape}
ROUNDS=${ROUNDS:-2}
APPENDERS=${APPENDERS:-64}
WARMUP=${WARMUP:-5}
SECONDS_EACH=${SECONDS_EACH:-15}
THREADS=${THREADS:-virtual}

mvn -B -q -pl bench -am -DskipTests package dependency:build-classpath \
  -Dmdep.outputFile=target/log-classpath.txt -Dmdep.includeScope=runtime
cp="bench/target/classes:ingest/target/classes:$(cat bench/target/log-classpath.txt)"

echo "JDK: $(java -version 2>&1 | head -1); cores: $(nproc); disk: $(df -h bench/target | tail -1)"
for round in $(seq "$ROUNDS"); do
  for b in $BACKENDS; do
    java -Xmx1g --enable-native-access=ALL-UNNAMED -cp "$cp" io.millrace.bench.log.LogBench "$b" bench/target/log-bench/"$b" \
      "$APPENDERS" "$WARMUP" "$SECONDS_EACH" "$THREADS"
  done
done
