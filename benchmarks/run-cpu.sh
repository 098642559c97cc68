#!/usr/bin/env bash
# Runs the CPU benchmarks briefly (about 3 minutes) and prints one table: each GEMM's time,
# GFLOP/s and weight GB/s, and their ratios to the FMA peak and the read bandwidth measured in
# the same run. Builds benchmarks/target/benchmarks.jar first when it is missing or stale.
# Extra arguments go to JMH, e.g.: benchmarks/run-cpu.sh -p format=FP8 -p shape=1x4096x4096
. "$(dirname "$0")/jar.sh"
run_report io.github.ds4j.bench.cpu.CpuReport "$@"
