package io.github.ds4j.spi;

import io.github.ds4j.BlockScaled;
import io.github.ds4j.Device;
import io.github.ds4j.RopeSpec;
import io.github.ds4j.Storage;
import io.github.ds4j.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * One open device: memory, copies and the kernels of every op. Implemented by the CPU, CUDA and
 * Ascend backends; users reach it through {@link io.github.ds4j.Compute}, which validates every
 * argument first. A backend may therefore assume:
 * <ul>
 *   <li>every tensor is open, lives on {@link #device()}, and has a row layout
 *       ({@link Tensor#rowStride()}) unless the method says it must be contiguous;</li>
 *   <li>shapes and dtypes are as documented on the method;</li>
 *   <li>outputs do not overlap inputs unless the method allows it (element-wise ops allow
 *       {@code y == x}).</li>
 * </ul>
 * Real-valued inputs and outputs are F32 or BF16 (BF16 outputs are rounded to nearest even).
 * Kernels run in stream order; {@link #synchronize()} waits for them.
 */
public interface Backend extends AutoCloseable {

    /** The device this backend drives. */
    Device device();

    /** One line for humans: device name, memory, capability, CPU path. */
    String description();

    /** Uninitialized device memory of {@code bytes} bytes, owned by the returned storage. */
    Storage allocate(long bytes);

    /** Copies host bytes into a contiguous tensor on this device. */
    void copyFromHost(MemorySegment src, Tensor dst);

    /** Copies a contiguous tensor on this device into host bytes. */
    void copyToHost(Tensor src, MemorySegment dst);

    /** Copies between two tensors on this device of equal dtype and shape. */
    void copy(Tensor src, Tensor dst);

    /** Waits until all queued work is done. */
    void synchronize();

    /** Frees what the backend holds (modules, streams, pools); tensors are freed by their owners. */
    @Override
    void close();

    // ---- element-wise and per-row ops; x [rows, cols] ----

    /** Converts between real dtypes (F32, BF16, F16), same shape. */
    void convert(Tensor x, Tensor y);

    /**
     * Per-row, per-{@code block}-column FP8 quantization (spec §2): amax = max(|x|, 1e-4),
     * s = 2^ceil(log2(amax/448)), q = e4m3(clamp(x/s, -448, 448)). {@code q} is F8_E4M3
     * [rows, cols], {@code scales} F8_E8M0 or F32 [rows, ceil(cols/block)], both contiguous; a
     * partial last block is quantized on its own columns. A block holding a NaN or an infinity
     * gets a NaN scale (UE8M0 0xFF, F32 NaN) and NaN codes (0x7F).
     */
    void quantizeActivations(Tensor x, Tensor q, Tensor scales, int block);

    /**
     * FP8 quantize-dequantize with {@code block}-column UE8M0 scales: y = e4m3(...) * s. A block
     * holding a NaN or an infinity becomes all NaN, here and in {@link #fp4Simulate}.
     */
    void fp8Simulate(Tensor x, Tensor y, int block);

    /**
     * FP4 quantize-dequantize: amax = max(|x|, 6*2^-126), s = 2^ceil(log2(amax/6)),
     * y = e2m1(clamp(x/s, -6, 6)) * s, per {@code block} columns.
     */
    void fp4Simulate(Tensor x, Tensor y, int block);

    /**
     * y[m, n] = sum over 128-column K blocks of (dot of the E4M3 values, f32) * sA[m, kb] *
     * sW[n/128, kb]. {@code a}: E4M3 [M, K] with 1x128 scales; {@code w}: E4M3 [N, K] with
     * 128x128 scales; y [M, N] F32 or BF16.
     */
    void fp8Gemm(BlockScaled a, BlockScaled w, Tensor y);

    /**
     * y[m, n] = sum over 32-column K blocks of (dot, f32) * sA[m, k/128] * sW[n, k/32].
     * {@code a}: E4M3 [M, K] with 1x128 scales; {@code w}: FP4_E2M1 [N, K] with 1x32 scales.
     */
    void fp4Gemm(BlockScaled a, BlockScaled w, Tensor y);

    /** y = x @ w^T with f32 accumulation; x [M, K] F32/BF16, w [N, K] F32/BF16, y [M, N]. */
    void linear(Tensor x, Tensor w, Tensor y);

    /** y = x * rsqrt(mean(x^2) + eps) * weight, in f32; {@code weight} [cols] or null for none. */
    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y);

    /**
     * Rotates interleaved pairs (2i, 2i+1) of the last dimension of x [S, ..., R] (R = rope.dims())
     * by angle pos * f_i, pos = startPos + s; the conjugate rotation when {@code inverse}.
     */
    void rope(Tensor x, Tensor y, RopeSpec rope, long startPos, boolean inverse);

    /** Normalized Walsh-Hadamard transform over the last dimension (a power of two), scale d^-0.5. */
    void hadamard(Tensor x, Tensor y);

    /** y = silu(min(g, limit)) * clamp(u, -limit, limit); {@code limit} 0 means no clamp. */
    void swiglu(Tensor gate, Tensor up, float limit, Tensor y);

    /** Softmax over the last dimension, in f32. */
    void softmax(Tensor x, Tensor y);

    /**
     * The {@code k} largest values of each row, descending, ties to the lower index; NaN ranks
     * below every number. {@code values} [rows, k] F32, {@code indices} [rows, k] I32, contiguous.
     */
    void topK(Tensor x, int k, Tensor values, Tensor indices);

    // ---- layer kernels (io.github.ds4j.v4); empty where a backend does not have them yet ----

    /** Kernels of the attention layer, if this backend has them. */
    default Optional<AttentionKernels> attentionKernels() {
        return Optional.empty();
    }

    /** Kernels of the MoE layer, if this backend has them. */
    default Optional<MoeKernels> moeKernels() {
        return Optional.empty();
    }

    /** Kernels of mHC, if this backend has them. */
    default Optional<HyperConnectionKernels> hyperConnectionKernels() {
        return Optional.empty();
    }
}
