package io.github.ds4j.cuda.internal;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * The kernel images the build packs: one per kernels/cuda/*.cu, and the entry points of the
 * compiled PTX take exactly the parameters (count and width) their C declarations promise, so the
 * launch contract checked in LaunchContractTest holds for the compiled code too.
 */
class KernelImagesTest {
    private static final Pattern ENTRY = Pattern.compile("\\.visible \\.entry (ds4j_\\w+)\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\.param \\.(u64|u32|f32|b64|b32|s32|s64)");

    @Test
    void withoutKernelsTheProbeSaysSo() {
        KernelImages.Index ix = KernelImages.index();
        if (ix.families().isEmpty()) {
            assertTrue(KernelImages.describe().contains("not in this jar"), KernelImages.describe());
        } else {
            assertTrue(KernelImages.describe().startsWith("kernels: " + ix.families().size() + " families"), KernelImages.describe());
        }
    }

    @Test
    void everyKernelSourceIsPackedWithFatbinAndPtx() throws IOException {
        KernelImages.Index ix = KernelImages.index();
        assumeFalse(ix.families().isEmpty(), "the kernels were not built (no nvcc or -Dds4j.skipKernels=true)");
        List<String> sources = new ArrayList<>();
        try (Stream<Path> files = Files.list(KernelSignatures.kernelDir())) {
            files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu"))
                    .forEach(n -> sources.add(n.substring(0, n.length() - 3)));
        }
        assertEquals(sources.stream().sorted().toList(), ix.families().stream().sorted().toList());
        for (String family : ix.families()) {
            assertTrue(KernelImages.read(family, false).length > 0, family + ".fatbin");
            assertTrue(KernelImages.read(family, true).length > 0, family + ".sm80.ptx");
        }
    }

    @Test
    void compiledEntryPointsTakeTheDeclaredParameters() {
        KernelImages.Index ix = KernelImages.index();
        assumeFalse(ix.families().isEmpty(), "the kernels were not built (no nvcc or -Dds4j.skipKernels=true)");
        for (String family : LaunchContractTest.FAMILIES) {
            String ptx = new String(KernelImages.read(family, true), StandardCharsets.UTF_8);
            Map<String, KernelSignatures.Signature> declared = KernelSignatures.of(family);
            Matcher m = ENTRY.matcher(ptx);
            int found = 0;
            while (m.find()) {
                KernelSignatures.Signature s = declared.get(m.group(1));
                assertNotNull(s, family + ": the PTX has an entry point the source does not declare: " + m.group(1));
                List<Integer> widths = new ArrayList<>();
                Matcher p = PARAM.matcher(m.group(2));
                while (p.find()) {
                    widths.add(p.group(1).endsWith("64") ? 8 : 4);
                }
                List<Integer> expected = s.params().stream()
                        .map(k -> k == KernelSignatures.Kind.PTR || k == KernelSignatures.Kind.I64 ? 8 : 4).toList();
                assertEquals(expected, widths, m.group(1) + ": parameter widths in the PTX");
                found++;
            }
            assertEquals(declared.size(), found, family + ": entry points in the PTX");
        }
    }
}
