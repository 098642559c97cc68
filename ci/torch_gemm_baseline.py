#!/usr/bin/env python3
"""cuBLASLt FP8 baseline for ds4j's CUDA GEMMs: times torch._scaled_mm at the shapes CudaGemmBench
uses and prints one markdown table beside the device-to-device copy bandwidth.

Prefill: M = 4096, N in {4096, 7168, 16384, 32768}, K in {4096, 7168}, TFLOP/s, with cuBLAS's
default (periodically promoted) accumulation and with use_fast_accum=True. Decode: M in {1, 8, 64}
(cuBLASLt FP8 needs M padded to 16; the padded M is what runs), TB/s of weights streamed, rotating
among enough weight copies to overflow L2. Scales are per tensor (torch._scaled_mm has no 128x128
block scales), so this is the upper bound a block-scaled kernel is compared with. Timing: CUDA
events around batches of calls, median batch. Runs offline on the GPU machine:

    python3 ci/torch_gemm_baseline.py [--quick] [--out results.md]
"""
import argparse
import statistics
import sys

import torch

L2_OVERFLOW_BYTES = 200 << 20
BATCH = 20
BATCHES = 7


def median_seconds(fn, batch=BATCH):
    for _ in range(batch):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(BATCHES):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(batch):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / batch)
    return statistics.median(times)


def copy_bandwidth():
    n = 1 << 30
    src = torch.randint(0, 255, (n,), dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    s = median_seconds(lambda: dst.copy_(src), batch=3)
    return 2.0 * n / s / 1e12


def random_fp8(rows, cols, gen):
    # Gaussian values scaled into E4M3's range: never zeros (zeros can run faster than real data).
    x = torch.randn(rows, cols, device="cuda", generator=gen) * 64.0
    return x.clamp(-448, 448).to(torch.float8_e4m3fn)


def run(m, n, k, gen, copy_tbs):
    m_run = max(16, (m + 15) // 16 * 16)
    a = random_fp8(m_run, k, gen)
    w_bytes = n * k
    copies = 1 if m > 64 else max(1, min(16, -(-L2_OVERFLOW_BYTES // w_bytes)))
    ws = [random_fp8(n, k, gen) for _ in range(copies)]
    one = torch.ones((), device="cuda", dtype=torch.float32)
    rows = []
    for fast in (False, True):
        state = {"i": 0}

        def call():
            w = ws[state["i"]]
            state["i"] = (state["i"] + 1) % len(ws)
            return torch._scaled_mm(a, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=fast)

        # Sanity check of one result against a float32 matmul of the same values.
        ref = a.float() @ ws[0].float().t()
        got = torch._scaled_mm(a, ws[0].t(), scale_a=one, scale_b=one, out_dtype=torch.float32, use_fast_accum=fast)
        err = ((got - ref).norm() / ref.norm()).item()
        s = median_seconds(call)
        flops = 2.0 * m_run * n * k
        moved = w_bytes + m_run * k + 2 * m_run * n
        tbs = moved / s / 1e12
        label = f"{m} x {n} x {k}" + (f" (M run as {m_run})" if m_run != m else "")
        rows.append(f"| torch._scaled_mm{' fast_accum' if fast else ''} | {label} | {err:.1e} | {s * 1e6:.1f} | "
                    f"{flops / s / 1e12:.1f} | {tbs:.2f} | {100 * tbs / copy_tbs:.0f}% |")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="N in {4096, 16384}, K = 7168 only")
    p.add_argument("--out", help="also write the table to this file")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to time", file=sys.stderr)
        return 2
    ns = [4096, 16384] if args.quick else [4096, 7168, 16384, 32768]
    ks = [7168] if args.quick else [4096, 7168]
    gen = torch.Generator(device="cuda")
    gen.manual_seed(20261123)
    lines = [f"# {torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})"]
    copy_tbs = copy_bandwidth()
    lines.append(f"# device-to-device copy: {copy_tbs:.2f} TB/s (read + write)")
    lines.append("")
    lines.append("| op | shape (M x N x K) | rel err vs f32 | time (us) | TFLOP/s | TB/s | % of copy BW |")
    lines.append("|---|---|---|---|---|---|---|")
    for n in ns:
        for k in ks:
            for m in (4096, 1, 8, 64):
                lines.extend(run(m, n, k, gen, copy_tbs))
                print(lines[-1], flush=True)
    text = "\n".join(lines)
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
