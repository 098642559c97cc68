package io.github.ds4j.cuda.internal;

import io.github.ds4j.DType;

/** The dtype codes the kernels take for real tensors (kernels/cuda/include/ds4j_rows.cuh). */
public final class DTypeCodes {
    public static final int F32 = 0;
    public static final int BF16 = 1;
    public static final int F16 = 2;

    private DTypeCodes() {
    }

    /** The code of a real dtype; other dtypes are rejected. */
    public static int real(DType t) {
        return switch (t) {
            case F32 -> F32;
            case BF16 -> BF16;
            case F16 -> F16;
            default -> throw new IllegalArgumentException("expected a real dtype (F32, BF16, F16), got " + t);
        };
    }
}
