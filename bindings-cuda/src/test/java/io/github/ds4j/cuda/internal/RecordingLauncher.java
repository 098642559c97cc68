package io.github.ds4j.cuda.internal;

import java.util.ArrayList;
import java.util.List;

/** A {@link KernelLauncher} that records launches instead of running them (tests without a GPU). */
final class RecordingLauncher implements KernelLauncher {
    record Launch(String family, String kernel, Dim3 grid, Dim3 block, int sharedBytes, List<KernelArgs.Arg> args) {
    }

    final List<Launch> launches = new ArrayList<>();
    private final int multiprocessors;
    private final int maxShared;

    /** An H100-like device: 132 SMs, 227 KiB of opt-in shared memory. */
    RecordingLauncher() {
        this(132, 232448);
    }

    RecordingLauncher(int multiprocessors, int maxShared) {
        this.multiprocessors = multiprocessors;
        this.maxShared = maxShared;
    }

    @Override
    public void launch(String family, String kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
        LaunchChecks.check(family, kernel, grid, block, sharedBytes, args, maxShared);
        launches.add(new Launch(family, kernel, grid, block, sharedBytes, args.list()));
    }

    @Override
    public int computeCapability() {
        return 90;
    }

    @Override
    public int multiprocessors() {
        return multiprocessors;
    }

    @Override
    public int maxSharedPerBlock() {
        return maxShared;
    }

    @Override
    public boolean sm80Mode() {
        return false;
    }
}
