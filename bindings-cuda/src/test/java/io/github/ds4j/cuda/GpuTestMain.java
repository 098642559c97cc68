package io.github.ds4j.cuda;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.ClassNameFilter;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;

/**
 * Runs the CUDA tests without Maven (ci/gpu-test.sh on a GPU machine): every test class under
 * io.github.ds4j.cuda, or those whose name matches {@code --include REGEX}; prints one line per
 * test and a summary; exits 1 on any failure.
 */
public final class GpuTestMain {
    private GpuTestMain() {
    }

    public static void main(String[] args) {
        String include = ".*Test";
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--include")) {
                include = args[++i];
            } else {
                throw new IllegalArgumentException("unknown argument " + args[i] + " (use --include REGEX)");
            }
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(DiscoverySelectors.selectPackage("io.github.ds4j.cuda"))
                .filters(ClassNameFilter.includeClassNamePatterns(".*(" + include + ").*"))
                .build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        TestExecutionListener printer = new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (id.isTest() || result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                    String cause = result.getThrowable().map(t -> ": " + t).orElse("");
                    System.out.println("[" + result.getStatus() + "] " + name(id) + cause);
                }
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                System.out.println("[SKIPPED] " + name(id) + ": " + reason);
            }
        };
        launcher.execute(request, summary, printer);
        TestExecutionSummary s = summary.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 40);
        System.out.printf("tests: %d found, %d succeeded, %d failed, %d aborted (skipped), %d skipped%n",
                s.getTestsFoundCount(), s.getTestsSucceededCount(), s.getTotalFailureCount(), s.getTestsAbortedCount(),
                s.getTestsSkippedCount());
        System.exit(s.getTotalFailureCount() == 0 ? 0 : 1);
    }

    private static String name(TestIdentifier id) {
        return id.getUniqueId().replaceAll(".*class:([\\w.]+)\\].*method:(\\w+).*", "$1.$2")
                .replaceAll(".*class:([\\w.]+)\\].*", "$1");
    }
}
