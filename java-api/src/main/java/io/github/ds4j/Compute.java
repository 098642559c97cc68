package io.github.ds4j;

import io.github.ds4j.internal.Check;
import io.github.ds4j.spi.Backend;

import java.lang.foreign.MemorySegment;

/**
 * ds4j on one device: allocation, copies and every op, with each argument checked (device,
 * dtype, shape, closed tensor) before any native call. Ops return new tensors the caller owns, or
 * write into given ones ({@code ...Into}). Work may run asynchronously on accelerators; reading a
 * result back ({@link Tensor#toFloatArray()}) or {@link #synchronize()} waits for it.
 *
 * <pre>{@code
 * try (Compute gpu = Compute.open("auto");
 *      Tensor x = gpu.upload(hostX);
 *      Tensor y = gpu.gemm(x, weight, DType.BF16)) {
 *     float[] out = y.toFloatArray();
 * }
 * }</pre>
 */
public final class Compute implements AutoCloseable {
    private final Backend backend;
    private final Device device;

    private Compute(Backend backend) {
        this.backend = backend;
        this.device = backend.device();
    }

    /** Opens "auto" (the best device present), "cpu", "cuda", "cuda:N", "ascend" or "ascend:N". */
    public static Compute open(String device) {
        String d = device.trim();
        return open(d.equalsIgnoreCase("auto") ? Backends.best() : Device.parse(d));
    }

    /** Opens a device; throws {@link BackendUnavailableException} with the reason if it is absent. */
    public static Compute open(Device device) {
        return new Compute(Backends.open(device));
    }

    /** Wraps an open backend (the SPI); closing the Compute closes it. */
    public static Compute of(Backend backend) {
        return new Compute(backend);
    }

    public Device device() {
        return device;
    }

    /** The backend behind this device, for layer code and tests that go below the checked API. */
    public Backend backend() {
        return backend;
    }

    /** One line: device name, memory, capability or CPU path. */
    public String description() {
        return backend.description();
    }

    /** Waits for all queued work on this device. */
    public void synchronize() {
        backend.synchronize();
    }

    @Override
    public void close() {
        backend.close();
    }

    // ---- memory ----

    /** A new uninitialized tensor on this device, owned by the caller. */
    public Tensor allocate(DType dtype, Shape shape) {
        long bytes = Tensor.checkDense(dtype, shape);
        return Tensor.of(backend.allocate(Math.max(bytes, 1)), dtype, shape, true);
    }

    /** A copy of any tensor (host or this device) on this device, owned by the caller. */
    public Tensor upload(Tensor src) {
        if (src == null) {
            throw new IllegalArgumentException("src: must not be null");
        }
        src.checkOpen("src");
        if (!src.device().isHost() && !src.device().equals(device)) {
            throw new IllegalArgumentException("src: expected a host tensor or one on " + device + ", got one on " + src.device());
        }
        Tensor t = allocate(src.dtype(), src.shape());
        try {
            if (src.isContiguous() || src.device().equals(device)) {
                t.copyFrom(src);
            } else {
                try (Tensor dense = src.toHost()) {
                    t.copyFrom(dense);
                }
            }
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** Uploads both tensors of a block-scaled tensor. */
    public BlockScaled upload(BlockScaled src) {
        if (src == null) {
            throw new IllegalArgumentException("src: must not be null");
        }
        Tensor v = upload(src.values());
        try {
            return new BlockScaled(v, upload(src.scales()), src.blockRows(), src.blockCols());
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    /** A new tensor on this device holding {@code values}, rounded to {@code dtype}. */
    public Tensor fromFloats(float[] values, DType dtype, Shape shape) {
        try (Tensor host = Tensor.fromFloats(values, dtype, shape)) {
            return device.isHost() ? host.toHost() : upload(host);
        }
    }

    /** Copies host memory into a contiguous tensor of this device. */
    public void copyFromHost(MemorySegment src, Tensor dst) {
        if (src == null) {
            throw new IllegalArgumentException("src: must not be null");
        }
        Check.contiguous("dst", dst, device);
        long bytes = dst.dtype().byteSize(dst.numel());
        if (src.byteSize() < bytes) {
            throw new IllegalArgumentException("src: expected at least " + bytes + " bytes, got " + src.byteSize());
        }
        backend.copyFromHost(src, dst);
    }

    // ---- quantization ----

    /**
     * FP8 activation quantization per row and {@code block} columns (spec §2), scales as
     * {@code scaleType} (F8_E8M0 or F32; both hold the same power of two).
     */
    public BlockScaled quantizeActivations(Tensor x, int block, DType scaleType) {
        checkQuantInput(x, block);
        if (scaleType != DType.F8_E8M0 && scaleType != DType.F32) {
            throw new IllegalArgumentException("scaleType: expected F8_E8M0 or F32, got " + scaleType);
        }
        Tensor q = allocate(DType.F8_E4M3, x.shape());
        Tensor s = allocate(scaleType, BlockScaled.expectedScaleShape(x.shape(), 1, block));
        BlockScaled out = BlockScaled.fp8Activations(q, s, block);
        try {
            backend.quantizeActivations(x, q, s, block);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** FP8 quantize-dequantize over {@code block} columns; y has x's dtype. */
    public Tensor fp8Simulate(Tensor x, int block) {
        checkQuantInput(x, block);
        return produce(x.dtype(), x.shape(), y -> backend.fp8Simulate(x, y, block));
    }

    /** Writes the FP8 quantize-dequantize of x into y (may be x itself). */
    public void fp8SimulateInto(Tensor x, int block, Tensor y) {
        checkQuantInput(x, block);
        checkSameRows("y", y, x);
        backend.fp8Simulate(x, y, block);
    }

    /** FP4 quantize-dequantize over {@code block} columns; y has x's dtype. */
    public Tensor fp4Simulate(Tensor x, int block) {
        checkQuantInput(x, block);
        return produce(x.dtype(), x.shape(), y -> backend.fp4Simulate(x, y, block));
    }

    /** Writes the FP4 quantize-dequantize of x into y (may be x itself). */
    public void fp4SimulateInto(Tensor x, int block, Tensor y) {
        checkQuantInput(x, block);
        checkSameRows("y", y, x);
        backend.fp4Simulate(x, y, block);
    }

    // ---- GEMM ----

    /**
     * y = x @ w^T for a block-scaled weight (FP8 128x128 or MXFP4 1x32): x [.., K] is quantized
     * to FP8 with 1x128 UE8M0 scales first, as the reference does before every such GEMM.
     */
    public Tensor gemm(Tensor x, BlockScaled w, DType outType) {
        Check.realOut("outType", outType);
        Check.rows("x", x, device);
        Check.real("x", x);
        checkWeight(w);
        if (x.dim(-1) != w.cols()) {
            throw new IllegalArgumentException("x: expected shape [*, " + w.cols() + "] to match the weight " + w.values().shape() + ", got " + x.shape());
        }
        try (BlockScaled a = quantizeActivations(x.rank() == 2 ? x : flatRows(x), 128, DType.F8_E8M0)) {
            Tensor y2 = gemm(a, w, outType);
            return x.rank() == 2 ? y2 : reshapeOwned(y2, x.shape().withLast(w.rows()));
        }
    }

    /** y [M, N] = a [M, K] (FP8, 1x128 scales) times w^T (FP8 128x128 or MXFP4 1x32). */
    public Tensor gemm(BlockScaled a, BlockScaled w, DType outType) {
        Check.realOut("outType", outType);
        checkGemmOperands(a, w);
        return produce(outType, Shape.of(a.rows(), w.rows()), y -> gemmInto(a, w, y));
    }

    /** Writes a @ w^T into y [M, N] (F32 or BF16). */
    public void gemmInto(BlockScaled a, BlockScaled w, Tensor y) {
        checkGemmOperands(a, w);
        Check.rows("y", y, device);
        Check.real("y", y);
        Check.shape("y", y, a.rows(), w.rows());
        if (w.values().dtype() == DType.F8_E4M3) {
            backend.fp8Gemm(a, w, y);
        } else {
            backend.fp4Gemm(a, w, y);
        }
    }

    /** y = x @ w^T for real weights (F32 or BF16), f32 accumulation; x [.., K], w [N, K]. */
    public Tensor linear(Tensor x, Tensor w, DType outType) {
        Check.realOut("outType", outType);
        checkLinear(x, w);
        Tensor x2 = x.rank() == 2 ? x : flatRows(x);
        Tensor y = produce(outType, Shape.of(x2.dim(0), w.dim(0)), out -> backend.linear(x2, w, out));
        return x.rank() == 2 ? y : reshapeOwned(y, x.shape().withLast(w.dim(0)));
    }

    /** Writes x @ w^T into y [M, N]. */
    public void linearInto(Tensor x, Tensor w, Tensor y) {
        checkLinear(x, w);
        Check.rows("y", y, device);
        Check.real("y", y);
        Check.shape("y", y, x.shape().rows(), w.dim(0));
        backend.linear(x, w, y);
    }

    // ---- per-row ops ----

    /** RMSNorm over the last dimension: x * rsqrt(mean(x^2) + eps) * weight (weight may be null). */
    public Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        checkRmsNorm(x, weight, eps);
        return produce(x.dtype(), x.shape(), y -> backend.rmsNorm(x, weight, eps, y));
    }

    /** Writes RMSNorm(x) into y (may be x). */
    public void rmsNormInto(Tensor x, Tensor weight, float eps, Tensor y) {
        checkRmsNorm(x, weight, eps);
        checkSameRows("y", y, x);
        backend.rmsNorm(x, weight, eps, y);
    }

    /** RoPE over the whole last dimension of x [S, ..., R]; row s has position startPos + s. */
    public Tensor rope(Tensor x, RopeSpec rope, long startPos) {
        checkRope(x, rope, startPos);
        return produce(x.dtype(), x.shape(), y -> backend.rope(x, y, rope, startPos, false));
    }

    /** The inverse (conjugate) rotation of {@link #rope}. */
    public Tensor inverseRope(Tensor x, RopeSpec rope, long startPos) {
        checkRope(x, rope, startPos);
        return produce(x.dtype(), x.shape(), y -> backend.rope(x, y, rope, startPos, true));
    }

    /** Writes the rotation (or its inverse) of x into y (may be x, or a view of the rope columns). */
    public void ropeInto(Tensor x, RopeSpec rope, long startPos, boolean inverse, Tensor y) {
        checkRope(x, rope, startPos);
        checkSameRows("y", y, x);
        backend.rope(x, y, rope, startPos, inverse);
    }

    /** Normalized Walsh-Hadamard transform over the last dimension (a power of two). */
    public Tensor hadamard(Tensor x) {
        checkHadamard(x);
        return produce(x.dtype(), x.shape(), y -> backend.hadamard(x, y));
    }

    /** Writes the Hadamard transform of x into y (may be x). */
    public void hadamardInto(Tensor x, Tensor y) {
        checkHadamard(x);
        checkSameRows("y", y, x);
        backend.hadamard(x, y);
    }

    /** silu(min(gate, limit)) * clamp(up, -limit, limit); limit 0 disables the clamp. */
    public Tensor swiglu(Tensor gate, Tensor up, float limit) {
        checkSwiglu(gate, up, limit);
        return produce(gate.dtype(), gate.shape(), y -> backend.swiglu(gate, up, limit, y));
    }

    /** Writes swiglu(gate, up) into y (may be gate). */
    public void swigluInto(Tensor gate, Tensor up, float limit, Tensor y) {
        checkSwiglu(gate, up, limit);
        checkSameRows("y", y, gate);
        backend.swiglu(gate, up, limit, y);
    }

    /** Softmax over the last dimension. */
    public Tensor softmax(Tensor x) {
        Check.rows("x", x, device);
        Check.real("x", x);
        return produce(x.dtype(), x.shape(), y -> backend.softmax(x, y));
    }

    /** The k largest values of each row with their indices, descending (ties: lower index first). */
    public TopK topK(Tensor x, int k) {
        Check.rows("x", x, device);
        Check.real("x", x);
        if (k < 1 || k > x.dim(-1)) {
            throw new IllegalArgumentException("k: expected 1.." + x.dim(-1) + " for x " + x.shape() + ", got " + k);
        }
        Shape out = x.shape().withLast(k);
        Tensor values = allocate(DType.F32, out);
        Tensor indices;
        try {
            indices = allocate(DType.I32, out);
        } catch (RuntimeException e) {
            values.close();
            throw e;
        }
        TopK r = new TopK(values, indices);
        try {
            backend.topK(x, k, values, indices);
            return r;
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
    }

    /** Converts a real tensor to another real dtype (F32, BF16, F16). */
    public Tensor convert(Tensor x, DType to) {
        Check.rows("x", x, device);
        Check.dtype("x", x, DType.F32, DType.BF16, DType.F16);
        if (to == null || !to.isReal()) {
            throw new IllegalArgumentException("to: expected F32, BF16 or F16, got " + to);
        }
        return produce(to, x.shape(), y -> backend.convert(x, y));
    }

    // ---- checks and helpers ----

    private void checkQuantInput(Tensor x, int block) {
        Check.rows("x", x, device);
        Check.real("x", x);
        Check.positive("block", block);
        Check.divisible("x", x.dim(-1), block, "last dimension");
    }

    private void checkWeight(BlockScaled w) {
        if (w == null) {
            throw new IllegalArgumentException("w: must not be null");
        }
        Check.contiguous("w.values", w.values(), device);
        Check.contiguous("w.scales", w.scales(), device);
        if (w.values().rank() != 2) {
            throw new IllegalArgumentException("w: expected a 2-D weight [N, K], got " + w.values().shape());
        }
        DType t = w.values().dtype();
        if (t == DType.F8_E4M3) {
            if (w.blockRows() != 128 || w.blockCols() != 128) {
                throw new IllegalArgumentException("w: expected 128x128 scale blocks for FP8 values, got " + w.blockRows() + "x" + w.blockCols());
            }
        } else if (t == DType.FP4_E2M1) {
            if (w.blockRows() != 1 || w.blockCols() != 32) {
                throw new IllegalArgumentException("w: expected 1x32 scale blocks for MXFP4 values, got " + w.blockRows() + "x" + w.blockCols());
            }
            Check.divisible("w", w.cols(), 32, "K");
        } else {
            throw new IllegalArgumentException("w: expected F8_E4M3 or FP4_E2M1 values, got " + t);
        }
        Check.dtype("w.scales", w.scales(), DType.F8_E8M0, DType.F32);
    }

    private void checkGemmOperands(BlockScaled a, BlockScaled w) {
        if (a == null) {
            throw new IllegalArgumentException("a: must not be null");
        }
        checkWeight(w);
        Check.contiguous("a.values", a.values(), device);
        Check.contiguous("a.scales", a.scales(), device);
        if (a.values().dtype() != DType.F8_E4M3 || a.values().rank() != 2) {
            throw new IllegalArgumentException("a: expected F8_E4M3 [M, K], got " + a.values().dtype() + " " + a.values().shape());
        }
        if (a.blockRows() != 1 || a.blockCols() != 128) {
            throw new IllegalArgumentException("a: expected 1x128 activation scale blocks, got " + a.blockRows() + "x" + a.blockCols());
        }
        if (a.cols() != w.cols()) {
            throw new IllegalArgumentException("a: expected K = " + w.cols() + " (the weight's), got " + a.values().shape());
        }
        Check.divisible("a", a.cols(), 128, "K");
    }

    private void checkLinear(Tensor x, Tensor w) {
        Check.rows("x", x, device);
        Check.real("x", x);
        Check.rows("w", w, device);
        Check.real("w", w);
        if (w.rank() != 2) {
            throw new IllegalArgumentException("w: expected [N, K], got " + w.shape());
        }
        if (x.dim(-1) != w.dim(1)) {
            throw new IllegalArgumentException("x: expected shape [*, " + w.dim(1) + "] to match w " + w.shape() + ", got " + x.shape());
        }
    }

    private void checkRmsNorm(Tensor x, Tensor weight, float eps) {
        Check.rows("x", x, device);
        Check.real("x", x);
        if (weight != null) {
            Check.contiguous("weight", weight, device);
            Check.real("weight", weight);
            Check.shape("weight", weight, Shape.of(x.dim(-1)));
        }
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("eps: expected a finite value >= 0, got " + eps);
        }
    }

    private void checkRope(Tensor x, RopeSpec rope, long startPos) {
        Check.rows("x", x, device);
        Check.real("x", x);
        if (rope == null) {
            throw new IllegalArgumentException("rope: must not be null");
        }
        if (x.rank() < 2) {
            throw new IllegalArgumentException("x: expected [S, ..., " + rope.dims() + "], got " + x.shape());
        }
        if (x.dim(-1) != rope.dims()) {
            throw new IllegalArgumentException("x: expected last dimension " + rope.dims() + " (the rope dims), got " + x.shape());
        }
        if (startPos < 0) {
            throw new IllegalArgumentException("startPos: expected a position >= 0, got " + startPos);
        }
    }

    private void checkHadamard(Tensor x) {
        Check.rows("x", x, device);
        Check.real("x", x);
        long d = x.dim(-1);
        if (d < 1 || (d & (d - 1)) != 0) {
            throw new IllegalArgumentException("x: expected a power-of-two last dimension, got " + x.shape());
        }
    }

    private void checkSwiglu(Tensor gate, Tensor up, float limit) {
        Check.rows("gate", gate, device);
        Check.real("gate", gate);
        Check.rows("up", up, device);
        Check.real("up", up);
        Check.shape("up", up, gate.shape());
        if (!(limit >= 0) || Float.isInfinite(limit)) {
            throw new IllegalArgumentException("limit: expected a finite value >= 0 (0 = no clamp), got " + limit);
        }
    }

    private void checkSameRows(String name, Tensor y, Tensor like) {
        Check.rows(name, y, device);
        Check.real(name, y);
        Check.shape(name, y, like.shape());
    }

    private interface Fill {
        void into(Tensor y);
    }

    /** Allocates an output, runs the op into it, and frees it if the op throws. */
    private Tensor produce(DType dtype, Shape shape, Fill fill) {
        Tensor y = allocate(dtype, shape);
        try {
            fill.into(y);
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    private static Tensor flatRows(Tensor x) {
        if (x.isContiguous()) {
            return x.reshape(x.shape().rows(), x.dim(-1));
        }
        throw new IllegalArgumentException("x: expected a contiguous tensor for rank " + x.rank() + " (it is flattened to rows), got "
                + x.shape() + " with strides " + java.util.Arrays.toString(x.strides()) + "; copy it first");
    }

    /** A reshaped view that owns the storage of {@code t} (which must own it and be dense). */
    private static Tensor reshapeOwned(Tensor t, Shape shape) {
        return Tensor.of(t.storage(), t.dtype(), shape, true);
    }
}
