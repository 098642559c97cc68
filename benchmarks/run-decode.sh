#!/usr/bin/env bash
# Runs the decode benchmark (about 4 minutes): one decode step of a Flash-sized V4 block at context
# 4096 for a CSA, an HCA and a window-only layer, and the read bandwidth in the same run; prints
# each step's time, the weight bytes it reads, their rate and its ratio to the bandwidth, per part.
# Builds benchmarks/target/benchmarks.jar first when it is missing or stale.
# Extra arguments go to JMH, e.g.: benchmarks/run-decode.sh -p kind=CSA
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh
jar=benchmarks/target/benchmarks.jar
if [ ! -f "$jar" ] || [ -n "$(find java-api/src benchmarks/src benchmarks/pom.xml java-api/pom.xml -newer "$jar" -type f | head -n1)" ]; then
    ci/mvn.sh -q package -pl benchmarks -am -DskipTests -Dds4j.skipKernels=true
fi
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp "$jar" io.github.ds4j.bench.cpu.DecodeReport "$@"
