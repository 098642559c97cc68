#!/usr/bin/env bash
# Checks the CUDA number-format helpers (kernels/cuda/include/ds4j_formats.cuh) against the Java
# reference without a GPU: builds them for the host, runs every f32 bit pattern through each
# encoder and compares with io.github.ds4j.format.* (needs a C++ compiler and java-api built).
#   usage: native/check-formats.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/ci/jdk.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
c++ -std=c++17 -O2 -I "$root/kernels/cuda/include" -o "$tmp/formats" "$root/native/check/formats_host.cpp"
"$tmp/formats" >"$tmp/out.txt"
"$JAVA_HOME/bin/java" -cp "$root/java-api/target/classes" "$root/native/check/CheckFormats.java" "$tmp/out.txt"
