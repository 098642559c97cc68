#!/usr/bin/env bash
# Runs the CPU benchmarks briefly (about 3 minutes) and prints one table: each GEMM's time,
# GFLOP/s and weight GB/s, and their ratios to the FMA peak and the read bandwidth measured in
# the same run. Builds benchmarks/target/benchmarks.jar first when it is missing or stale.
# Extra arguments go to JMH, e.g.: benchmarks/run-cpu.sh -p format=FP8 -p shape=1x4096x4096
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/jdk.sh
jar=benchmarks/target/benchmarks.jar
if [ ! -f "$jar" ] || [ -n "$(find java-api/src benchmarks/src benchmarks/pom.xml java-api/pom.xml -newer "$jar" -type f | head -n1)" ]; then
    ci/mvn.sh -q package -pl benchmarks -am -DskipTests -Dds4j.skipKernels=true
fi
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp "$jar" io.github.ds4j.bench.cpu.CpuReport "$@"
