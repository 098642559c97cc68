package io.github.ds4j.cuda.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * The parameters of one kernel launch, in the order of the kernel's C signature. Device pointers
 * are 64-bit addresses ({@code tensor.storage().segment().address() + tensor.byteOffset()}).
 */
public final class KernelArgs {
    /** One parameter: its C type and value. */
    public sealed interface Arg permits Ptr, I32, I64, F32 {
    }

    public record Ptr(long address) implements Arg {
    }

    public record I32(int value) implements Arg {
    }

    public record I64(long value) implements Arg {
    }

    public record F32(float value) implements Arg {
    }

    private final List<Arg> args = new ArrayList<>();

    public KernelArgs ptr(long address) {
        args.add(new Ptr(address));
        return this;
    }

    public KernelArgs i32(int v) {
        args.add(new I32(v));
        return this;
    }

    public KernelArgs i64(long v) {
        args.add(new I64(v));
        return this;
    }

    public KernelArgs f32(float v) {
        args.add(new F32(v));
        return this;
    }

    public List<Arg> list() {
        return List.copyOf(args);
    }
}
