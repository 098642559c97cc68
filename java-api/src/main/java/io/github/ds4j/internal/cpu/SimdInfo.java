package io.github.ds4j.internal.cpu;

import jdk.incubator.vector.FloatVector;

/** Touches the Vector API; loaded only after the incubator module is known to be present. */
final class SimdInfo {
    private SimdInfo() {
    }

    static int preferredBits() {
        return FloatVector.SPECIES_PREFERRED.vectorBitSize();
    }
}
