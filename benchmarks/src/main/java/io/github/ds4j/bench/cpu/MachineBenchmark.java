package io.github.ds4j.bench.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * What this machine can do, measured with the Vector API on all cores, as the yardsticks for the
 * GEMMs: (a) read bandwidth, a vector sum over a buffer far larger than the L3 cache; (b) the f32
 * FMA peak, independent accumulators held in registers. Both check their result.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 10, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MachineBenchmark {
    /** Bytes the bandwidth benchmark reads per call: 1 GiB. */
    public static final long BUFFER_BYTES = 1L << 30;
    /** FMA loop trips per thread per call. */
    public static final long FMA_ITERATIONS = 1L << 21;
    /** Independent accumulators in the FMA loop: enough to cover the FMA latency on two pipes. */
    public static final int FMA_CHAINS = 12;
    public static final int THREADS = Runtime.getRuntime().availableProcessors();

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private Arena arena;
    private MemorySegment buffer;
    private ExecutorService pool;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        buffer = arena.allocate(BUFFER_BYTES, 64);
        // 1.0f everywhere, so the sum is known exactly.
        long piece = 1 << 20;
        for (long i = 0; i < piece; i += 4) {
            buffer.set(ValueLayout.JAVA_FLOAT_UNALIGNED, i, 1f);
        }
        for (long at = piece; at < BUFFER_BYTES; at += piece) {
            MemorySegment.copy(buffer, 0, buffer, at, piece);
        }
        pool = Executors.newFixedThreadPool(THREADS);
        check(readBandwidth() == BUFFER_BYTES / 4, "the vector sum of the buffer is wrong");
        check(fmaPeak() == expectedFma(), "the FMA loop result is wrong");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.shutdown();
        arena.close();
    }

    /** Sums the 1 GiB buffer on all cores; returns the sum (exact: counts of 1.0 below 2^24 per lane). */
    @Benchmark
    public double readBandwidth() {
        long slice = BUFFER_BYTES / THREADS / 256 * 256;
        List<Future<Double>> parts = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            long from = t * slice;
            long to = t == THREADS - 1 ? BUFFER_BYTES : from + slice;
            parts.add(pool.submit(() -> sum(buffer, from, to)));
        }
        double total = 0;
        for (Future<Double> f : parts) {
            total += join(f);
        }
        return total;
    }

    /** FMA_ITERATIONS x FMA_CHAINS vector FMAs per thread on all cores; returns a checksum. */
    @Benchmark
    public double fmaPeak() {
        List<Future<Double>> parts = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            parts.add(pool.submit(() -> fma(FMA_ITERATIONS)));
        }
        double total = 0;
        for (Future<Double> f : parts) {
            total += join(f);
        }
        return total;
    }

    /** Floating-point operations of one {@link #fmaPeak()} call (an FMA is two). */
    public static double fmaFlops() {
        return 2.0 * S.length() * FMA_CHAINS * FMA_ITERATIONS * THREADS;
    }

    private static double sum(MemorySegment s, long from, long to) {
        int step = S.vectorByteSize();
        // Four accumulators, restarted every 2^19 loads each so that every lane and every lane
        // sum stays an exact integer in f32.
        double total = 0;
        long o = from;
        while (o < to) {
            long end = Math.min(to, o + (4L * step << 19));
            FloatVector a0 = FloatVector.zero(S);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (; o + 4L * step <= end; o += 4L * step) {
                a0 = a0.add(FloatVector.fromMemorySegment(S, s, o, ByteOrder.LITTLE_ENDIAN));
                a1 = a1.add(FloatVector.fromMemorySegment(S, s, o + step, ByteOrder.LITTLE_ENDIAN));
                a2 = a2.add(FloatVector.fromMemorySegment(S, s, o + 2L * step, ByteOrder.LITTLE_ENDIAN));
                a3 = a3.add(FloatVector.fromMemorySegment(S, s, o + 3L * step, ByteOrder.LITTLE_ENDIAN));
            }
            total += (double) a0.reduceLanes(VectorOperators.ADD) + a1.reduceLanes(VectorOperators.ADD)
                    + a2.reduceLanes(VectorOperators.ADD) + a3.reduceLanes(VectorOperators.ADD);
            for (; o < end; o += 4) {
                total += s.get(ValueLayout.JAVA_FLOAT_UNALIGNED, o);
            }
        }
        return total;
    }

    private static double fma(long iterations) {
        // x <- x * 1 + 1 on every chain: exact integers, so the result is known, and the JIT
        // cannot fold the loop because the multiplier is read from a vector, not a constant.
        FloatVector one = FloatVector.broadcast(S, 1f);
        FloatVector c0 = FloatVector.zero(S);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        FloatVector c4 = c0;
        FloatVector c5 = c0;
        FloatVector c6 = c0;
        FloatVector c7 = c0;
        FloatVector c8 = c0;
        FloatVector c9 = c0;
        FloatVector c10 = c0;
        FloatVector c11 = c0;
        double total = 0;
        for (long done = 0; done < iterations; ) {
            int chunk = (int) Math.min(iterations - done, 1 << 19); // lane sums stay exact in f32
            for (int i = 0; i < chunk; i++) {
                c0 = c0.fma(one, one);
                c1 = c1.fma(one, one);
                c2 = c2.fma(one, one);
                c3 = c3.fma(one, one);
                c4 = c4.fma(one, one);
                c5 = c5.fma(one, one);
                c6 = c6.fma(one, one);
                c7 = c7.fma(one, one);
                c8 = c8.fma(one, one);
                c9 = c9.fma(one, one);
                c10 = c10.fma(one, one);
                c11 = c11.fma(one, one);
            }
            total += lanes(c0) + lanes(c1) + lanes(c2) + lanes(c3) + lanes(c4) + lanes(c5)
                    + lanes(c6) + lanes(c7) + lanes(c8) + lanes(c9) + lanes(c10) + lanes(c11);
            c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = c10 = c11 = FloatVector.zero(S);
            done += chunk;
        }
        return total;
    }

    private static double lanes(FloatVector v) {
        return v.reduceLanes(VectorOperators.ADD);
    }

    private static double expectedFma() {
        return (double) FMA_ITERATIONS * FMA_CHAINS * S.length() * THREADS;
    }

    private static double join(Future<Double> f) {
        try {
            return f.get();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException(what);
        }
    }
}
