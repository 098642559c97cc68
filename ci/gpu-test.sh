#!/usr/bin/env bash
# Runs on a GPU machine (CUDA driver, nvidia-smi, optionally PyTorch; no JDK, Maven or network)
# everything ci/stage-gpu.sh put in .gpu/: every CUDA test (then the op and GEMM tests again on the
# sm_80 PTX), the CUDA op benchmarks, the launch-overhead benchmark and, when torch is there, the
# PyTorch baselines. Ends with one table; logs and tables go to $OUT (or .gpu/out).
#   usage: ci/gpu-test.sh [--quick]
set -uo pipefail
cd "$(dirname "$0")/.."
g=.gpu
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"
if [ ! -x "$g/jre/bin/java" ]; then
    echo "error: $g/jre is missing: run ci/stage-gpu.sh on a machine with a JDK first" >&2
    exit 2
fi
out=${OUT:-$g/out}
mkdir -p "$out"
java=("$g/jre/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m)
cp="$g/test-classes:$g/lib/*"
status=0

echo "==== commit $(cat "$g/commit.txt" 2>/dev/null || echo unknown)"
{ nvidia-smi || echo "nvidia-smi not found"; } 2>&1 | tee "$out/nvidia-smi.txt"

echo "==== CUDA tests (fatbin)"
"${java[@]}" -Dds4j.kernels.dir=kernels/cuda -cp "$cp" io.github.ds4j.cuda.GpuTestMain 2>&1 | tee "$out/tests.txt" || status=1
echo "==== CUDA op and GEMM tests again from the compute_80 PTX (the sm_80 paths)"
"${java[@]}" -Dds4j.cuda.sm80=true -Dds4j.kernels.dir=kernels/cuda -cp "$cp" io.github.ds4j.cuda.GpuTestMain \
    --include 'CudaOpsTest|Gemm' 2>&1 | tee "$out/tests-sm80.txt" || status=1

echo "==== CUDA op benchmarks"
"${java[@]}" -cp "$g/benchmarks.jar" io.github.ds4j.bench.cuda.CudaOpsBench --out "$out/cuda-bench.txt" $quick 2>&1 \
    | tee "$out/bench.log" || status=1

echo "==== launch overhead (JMH)"
"${java[@]}" -Djmh.ignoreLock=true -jar "$g/benchmarks.jar" LaunchOverheadBenchmark -f 1 -wi 2 -i 3 -w 1s -r 1s \
    -jvm "$PWD/$g/jre/bin/java" 2>&1 | tee "$out/launch-overhead.txt" || status=1

if command -v python3 >/dev/null 2>&1 && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "==== PyTorch baselines"
    PYTHONUNBUFFERED=1 python3 ci/torch_baseline.py $quick 2>&1 | tee "$out/torch-baseline.txt" || status=1
else
    echo "==== PyTorch with CUDA not found: no baselines" | tee "$out/torch-baseline.txt"
fi

echo
echo "==== summary ($( [ $status -eq 0 ] && echo ok || echo FAILURES ))"
grep -h '^tests:' "$out/tests.txt" "$out/tests-sm80.txt" 2>/dev/null
grep -h 'LaunchOverheadBenchmark\.' "$out/launch-overhead.txt" 2>/dev/null | grep -v '^#' | tail -n 3
grep -h '^|' "$out/torch-baseline.txt" 2>/dev/null
[ -f "$out/cuda-bench.txt" ] && cat "$out/cuda-bench.txt"
exit $status
