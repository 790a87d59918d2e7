#!/usr/bin/env bash
# Reproduces the upload-path tables of BENCHMARKS.md (section U): builds the service and the
# benchmarks, then runs, on the service's own class path (ingest/target/lib: its versions):
#   U1/U2  JMH: EncodeBenchmark (gzip vs zstd vs none per payload) and KeyTemplateBenchmark
#          (1 fork, 3 x 2 s warm-up, 5 x 2 s measured), results in bench/target/upload-jmh.csv;
#   sizes  EncodedSizes: bytes per stored payload for each codec;
#   U3     PutHarness: 1 KB PUTs/s and CPU per PUT of the S3 client, today's settings vs tuned
#          ones, against a standalone S3Proxy (its own JVM); JFR profiles with jfr=true.
# Holds the build lock for the whole run (no build or other measurement overlaps it).
#
#   bench/run-upload.sh                       # everything (~8 minutes)
#   bench/run-upload.sh jmh [JMH args...]     # only U1/U2
#   bench/run-upload.sh sizes                 # only the sizes
#   bench/run-upload.sh puts [key=value...]   # only U3, e.g. puts seconds=20 rounds=2 jfr=true
set -euo pipefail
source "$(dirname "$0")/load/lib.sh"
hold_build_lock "$@"
cd "$(dirname "$0")/.."

JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export JAVA_HOME
java="$JAVA_HOME/bin/java"
what=${1:-all}
[[ $# -gt 0 ]] && shift

mvn -B -q -pl bench -am -DskipTests package dependency:build-classpath \
  -Dmdep.includeScope=provided -Dmdep.outputFile=target/provided-classpath.txt
# the service's jars first, so its versions win; then the benchmarks; then what only the
# benchmarks add (Apache's HTTP client, for the harness's comparison)
cp="ingest/target/millrace-ingest.jar:ingest/target/lib/*:bench/target/benchmarks.jar"
cp="$cp:$(cat bench/target/provided-classpath.txt)"

echo "JDK: $("$java" -version 2>&1 | head -1); cores: $(nproc)"
if [[ $what == all || $what == jmh ]]; then
  "$java" -cp "$cp" org.openjdk.jmh.Main -rf csv -rff bench/target/upload-jmh.csv \
    "${@:-EncodeBenchmark|KeyTemplateBenchmark}"
fi
if [[ $what == all || $what == sizes ]]; then
  "$java" -cp "$cp" io.millrace.bench.EncodedSizes
fi
if [[ $what == all || $what == puts ]]; then
  "$java" -cp "$cp" io.millrace.bench.PutHarness "$@"
fi
