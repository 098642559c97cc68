#!/usr/bin/env bash
# Runs the decode benchmark (about 2 minutes): one decode step of a Flash-sized V4 block at context
# 4096 for a CSA, an HCA and a window-only layer, and the read bandwidth in the same run; prints
# each step's time, the weight bytes it reads, their rate and its ratio to the bandwidth, per part.
# Builds benchmarks/target/benchmarks.jar first when it is missing or stale.
# Extra arguments go to JMH, e.g.: benchmarks/run-decode.sh -p kind=CSA
. "$(dirname "$0")/jar.sh"
run_report io.github.ds4j.bench.cpu.DecodeReport "$@"
