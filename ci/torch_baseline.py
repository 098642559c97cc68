#!/usr/bin/env python3
"""PyTorch baselines for ds4j's CUDA numbers, run by ci/gpu-test.sh when torch sees a GPU.

Prints table rows in the format of CudaOpsBench:
  - a device-to-device copy (bytes read + written): the memory-bandwidth ceiling;
  - torch._scaled_mm FP8 E4M3 (cuBLASLt) at the FP8 GEMM shapes of CudaOpsBench, with per-tensor
    scales and, where this torch supports it, DeepSeek-style 1x128 / 128x128 block scales;
  - a bf16 matmul at 8192^3 for the tensor-core ceiling.
Times are the median of CUDA-event-timed runs after warm-up, on random (never zero) inputs.
"""
import sys

import torch

QUICK = "--quick" in sys.argv
WARMUP, RUNS = 5, 30


def median_ms(fn):
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(RUNS):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def row(op, shape, ms, rate, note=""):
    print(f"| {op:<22} | {shape:<30} | {'-':<9} | {ms * 1e3:8.1f} us | {rate:<14} | {note} |", flush=True)


def main():
    dev = torch.device("cuda")
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(dev)}", flush=True)

    n = (1 << 28) if QUICK else (1 << 31)
    a = torch.randint(0, 255, (n,), dtype=torch.uint8, device=dev)
    b = torch.empty_like(a)
    ms = median_ms(lambda: b.copy_(a))
    row("torch copy d2d", f"{n >> 20} MiB", ms, f"{2 * n / (ms * 1e-3) / 1e12:.2f} TB/s", "bandwidth ceiling")
    del a, b

    shapes = [(1024, 4096, 4096)] if QUICK else [(4096, 4096, 4096), (4096, 4096, 7168), (4096, 16384, 7168),
                                                 (4096, 32768, 4096)]
    one = torch.tensor(1.0, device=dev)
    for m, nn, k in shapes:
        x = (torch.randn(m, k, device=dev) * 4).to(torch.float8_e4m3fn)
        w = (torch.randn(nn, k, device=dev) * 4).to(torch.float8_e4m3fn)
        flops = 2.0 * m * nn * k
        try:
            ms = median_ms(lambda: torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16))
            row("torch fp8 _scaled_mm", f"{m}x{nn}x{k}", ms, f"{flops / (ms * 1e-3) / 1e12:.1f} TFLOP/s",
                "per-tensor scales (cuBLASLt)")
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"torch fp8 _scaled_mm {m}x{nn}x{k}: not run: {e}", flush=True)
        try:
            sa = torch.rand(m, k // 128, device=dev, dtype=torch.float32) + 0.5
            sb = torch.rand(nn // 128, k // 128, device=dev, dtype=torch.float32) + 0.5
            # blockwise scaling wants A's scales K-major (column-major) and B as its transpose
            sa = sa.t().contiguous().t()
            ms = median_ms(lambda: torch._scaled_mm(x, w.t(), scale_a=sa, scale_b=sb.t(), out_dtype=torch.bfloat16))
            row("torch fp8 blockwise", f"{m}x{nn}x{k}", ms, f"{flops / (ms * 1e-3) / 1e12:.1f} TFLOP/s",
                "1x128 / 128x128 scales")
        except Exception as e:  # noqa: BLE001
            print(f"torch fp8 blockwise {m}x{nn}x{k}: not supported here: {str(e).splitlines()[0][:160]}", flush=True)
        del x, w

    s = 4096 if QUICK else 8192
    x = torch.randn(s, s, device=dev, dtype=torch.bfloat16)
    y = torch.randn(s, s, device=dev, dtype=torch.bfloat16)
    ms = median_ms(lambda: x @ y)
    row("torch bf16 matmul", f"{s}x{s}x{s}", ms, f"{2.0 * s ** 3 / (ms * 1e-3) / 1e12:.1f} TFLOP/s", "tensor-core ceiling")


if __name__ == "__main__":
    main()
