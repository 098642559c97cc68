package io.github.ds4j.cuda.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The kernel images packed in this jar by native/build-cuda.sh: per family
 * {@code io/github/ds4j/cuda/kernels/<family>.fatbin} (sm_80 and sm_90a machine code, compute_80
 * PTX) and {@code <family>.sm80.ptx}, plus {@code index.txt} naming the families and the nvcc
 * that built them. A jar built without nvcc has none of them.
 */
public final class KernelImages {
    static final String DIR = "/io/github/ds4j/cuda/kernels/";

    private KernelImages() {
    }

    /** What the index says: the compiler line and the families; empty when the kernels were skipped. */
    public record Index(String compiler, List<String> families) {
        public Index {
            families = List.copyOf(families);
        }
    }

    public static Index index() {
        try (InputStream in = KernelImages.class.getResourceAsStream(DIR + "index.txt")) {
            if (in == null) {
                return new Index("", List.of());
            }
            String compiler = "";
            List<String> families = new ArrayList<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String l = line.strip();
                if (l.startsWith("#")) {
                    compiler = l.substring(1).strip();
                } else if (!l.isEmpty()) {
                    families.add(l);
                }
            }
            return new Index(compiler, families);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One line for ds4j info. */
    public static String describe() {
        Index ix = index();
        if (ix.families().isEmpty()) {
            return "kernels: not in this jar (it was built without nvcc); CUDA ops will fail";
        }
        return "kernels: " + ix.families().size() + " families in the jar (sm_80 + sm_90a SASS, compute_80 PTX"
                + (ix.compiler().isEmpty() ? "" : "; " + ix.compiler()) + ")";
    }

    /** The fatbin of {@code family}, or its compute_80 PTX when {@code sm80Ptx}. */
    public static byte[] read(String family, boolean sm80Ptx) {
        String file = family + (sm80Ptx ? ".sm80.ptx" : ".fatbin");
        try (InputStream in = KernelImages.class.getResourceAsStream(DIR + file)) {
            if (in == null) {
                throw new IllegalStateException("CUDA kernel image " + file + " is not in the ds4j-cuda jar"
                        + (index().families().isEmpty() ? ": the jar was built without nvcc (kernels skipped)"
                        : ": no kernel family \"" + family + "\" was built"));
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
