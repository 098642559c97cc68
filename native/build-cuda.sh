#!/usr/bin/env bash
# Compiles every kernels/cuda/*.cu into <out>/<family>.fatbin (sm_80 and sm_90a machine code plus
# compute_80 PTX, which newer GPUs JIT) and <out>/<family>.sm80.ptx (loaded on purpose to test the
# sm_80 code paths on a Hopper machine). Prints ptxas's register/spill report; fails on errors.
#   usage: native/build-cuda.sh OUT_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: build-cuda.sh OUT_DIR}
mkdir -p "$out"
if ! command -v nvcc >/dev/null 2>&1; then
    echo "[ds4j] nvcc not found: CUDA kernels skipped (the Java side still builds; the CUDA backend will report no kernels)"
    exit 0
fi
shopt -s nullglob
sources=("$root"/kernels/cuda/*.cu)
if [ ${#sources[@]} -eq 0 ]; then
    echo "[ds4j] no CUDA kernels to compile"
    exit 0
fi
flags=(-std=c++17 -O3 -I "$root/kernels/cuda/include" -lineinfo)
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

compile() { # one family: fatbin and the sm80 PTX
    local src=$1 out=$2 log=$3 name
    name=$(basename "$src" .cu)
    {
        nvcc "${flags[@]}" --fatbin -Xptxas -v \
            -gencode arch=compute_80,code=sm_80 \
            -gencode arch=compute_90a,code=sm_90a \
            -gencode arch=compute_80,code=compute_80 \
            -o "$out/$name.fatbin" "$src" &&
        nvcc "${flags[@]}" --ptx -arch=compute_80 -o "$out/$name.sm80.ptx" "$src"
    } >"$log/$name.log" 2>&1
}
export -f compile
export flags_str="${flags[*]}"

status=0
pids=()
jobs=$(nproc 2>/dev/null || echo 2)
i=0
for src in "${sources[@]}"; do
    compile "$src" "$out" "$log" &
    pids+=($!)
    i=$((i + 1))
    if [ $((i % jobs)) -eq 0 ]; then
        for p in "${pids[@]}"; do wait "$p" || status=1; done
        pids=()
    fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done

spills=0
for src in "${sources[@]}"; do
    name=$(basename "$src" .cu)
    f="$log/$name.log"
    [ -f "$f" ] || continue
    # Keep the report short: one line per kernel and arch with registers, spills, shared memory.
    awk -v fam="$name" '
        /Compiling entry function/ { match($0, /'"'"'[^'"'"']*'"'"'/); fn = substr($0, RSTART + 1, RLENGTH - 2); match($0, /sm_[0-9a]+/); arch = substr($0, RSTART, RLENGTH) }
        /spill stores/ { sp = $0; sub(/^.*: */, "", sp) }
        /Used [0-9]+ registers/ { u = $0; sub(/^.*Used/, "Used", u); printf "[ds4j] %-12s %-6s %-48s %s | %s\n", fam, arch, fn, u, sp }
        /error|warning/ { print }
    ' "$f"
    if grep -qE '[1-9][0-9]* bytes stack frame' "$f"; then
        echo "[ds4j] note: $name uses a local-memory stack frame (see the report above)" >&2
    fi
    if grep -qE '[1-9][0-9]* bytes spill (stores|loads)' "$f"; then
        spills=1
        echo "[ds4j] WARNING: $name spills registers to local memory" >&2
    fi
    if grep -q 'error' "$f"; then
        cat "$f" >&2
        status=1
    fi
done
if [ $status -ne 0 ]; then
    echo "[ds4j] CUDA kernel build FAILED" >&2
    exit 1
fi
if [ $spills -ne 0 ] && [ "${DS4J_ALLOW_SPILLS:-0}" != 1 ]; then
    echo "[ds4j] CUDA kernel build FAILED: register spills (set DS4J_ALLOW_SPILLS=1 to allow)" >&2
    exit 1
fi
# The index the backend reads to report which families the jar holds (ds4j info).
{
    echo "# $(nvcc --version | tail -n1)"
    for src in "${sources[@]}"; do basename "$src" .cu; done
} >"$out/index.txt"
echo "[ds4j] compiled ${#sources[@]} CUDA kernel famil$([ ${#sources[@]} -eq 1 ] && echo y || echo ies) into $out"
