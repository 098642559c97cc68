#!/usr/bin/env bash
# Stages what ci/gpu-test.sh needs on a GPU machine that has no JDK, Maven or network, into the
# git-ignored folder .gpu/ (kept under 64 MiB so it can travel): a jlinked Java runtime, the ds4j
# jars (the CUDA one with the kernel fatbins), the CUDA test classes, JUnit, and the benchmarks.
# The runtime has the modules ds4j and JMH use, plus jdk.zipfs for JUnit's class-path scan of jars.
#   usage: ci/stage-gpu.sh [extra Maven flags, e.g. -o]
set -euo pipefail
cd "$(dirname "$0")/.."
DS4J_NEED_JAVAC=1 . ci/jdk.sh
out=.gpu
limit_mib=64

command -v nvcc >/dev/null 2>&1 || echo "[stage] WARNING: no nvcc here: the staged jar will have no kernels" >&2
rm -rf "$out"
mkdir -p "$out/lib"

# One reactor run: package the modules (tests compiled, not run) and copy the test-scope
# dependencies (JUnit and what it needs) next to them.
ci/mvn.sh -q package org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies -DskipTests -pl bindings-cuda,benchmarks -am \
    -DincludeScope=test -DexcludeGroupIds=io.github.ds4j,org.openjdk.jmh,net.sf.jopt-simple,org.apache.commons \
    -DoutputDirectory="$PWD/$out/lib" "$@"

cp java-api/target/ds4j-api-*-SNAPSHOT.jar "$out/lib/"
cp java-api/target/ds4j-api-*-tests.jar "$out/lib/"
cp bindings-cuda/target/ds4j-cuda-*-SNAPSHOT.jar "$out/lib/"
cp -r bindings-cuda/target/test-classes "$out/test-classes"
cp benchmarks/target/benchmarks.jar "$out/benchmarks.jar"

"$JAVA_HOME/bin/jlink" \
    --add-modules java.base,java.logging,java.management,jdk.incubator.vector,jdk.unsupported,java.xml,java.naming,jdk.management,jdk.zipfs \
    --compress=zip-9 --strip-debug --no-header-files --no-man-pages \
    --output "$out/jre"
# the JVM's own symbol table is a quarter of the runtime; the dynamic symbols it needs stay
if command -v strip >/dev/null 2>&1; then
    strip --strip-unneeded "$out/jre/lib/server/libjvm.so"
fi

git rev-parse HEAD >"$out/commit.txt" 2>/dev/null || true
listing=$(unzip -l "$out"/lib/ds4j-cuda-*.jar 2>/dev/null || true)
if grep -q 'kernels/index.txt' <<<"$listing"; then
    echo "[stage] kernels: $(grep -c '\.fatbin$' <<<"$listing") fatbins in the jar"
else
    echo "[stage] WARNING: the staged ds4j-cuda jar holds no kernels" >&2
fi
size=$(du -sm "$out" | cut -f1)
echo "[stage] $out: ${size} MiB ($(ls "$out/lib" | wc -l) jars, runtime $(du -sm "$out/jre" | cut -f1) MiB)"
if [ "$size" -ge "$limit_mib" ]; then
    echo "[stage] FAILED: $out is ${size} MiB, over the ${limit_mib} MiB a GPU run can carry" >&2
    exit 1
fi
