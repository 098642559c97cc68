package io.github.ds4j.cli;

import io.github.ds4j.BackendUnavailableException;
import io.github.ds4j.safetensors.SafeTensorsException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The {@code ds4j} command line (contract: cli.md). Each command is one class listed in
 * {@code subcommands}; a new command is added there. Exit codes: 0 success, 2 a usage or input
 * error (bad flag, missing tensor, wrong shape or dtype, unreadable file, absent device), 1 a
 * failed check or an internal error. The last line printed is {@code ok: ...} (stdout) or
 * {@code error: ...} (stderr).
 */
@Command(name = "ds4j", mixinStandardHelpOptions = true, versionProvider = Ds4jCommand.Version.class,
        description = "DeepSeek-V4 layers and ops on CUDA GPUs, Ascend NPUs and the CPU.",
        subcommands = {InfoCommand.class, OpCommand.class, GemmCommand.class, LayerCommand.class, MakeCheckpointCommand.class, DemoCommand.class,
                CommandLine.HelpCommand.class})
public final class Ds4jCommand implements Runnable {
    /** Exit code of a usage or input error. */
    public static final int USAGE = 2;
    /** Exit code of a failed check or an internal error. */
    public static final int FAILED = 1;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "no command given: expected one of "
                + String.join(", ", spec.subcommands().keySet()));
    }

    public static void main(String[] args) {
        int code = run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
        System.exit(code);
    }

    /** Runs the command line with the given streams and returns the exit code (used by tests). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        int code = commandLine(out, err).execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** A configured picocli command line writing to {@code out} and {@code err}. */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Ds4jCommand());
        cl.setOut(out);
        cl.setErr(err);
        cl.setUsageHelpAutoWidth(true);
        // A later flag overrides an earlier one, so scripts can append to a base command line.
        cl.setOverwrittenOptionsAllowed(true);
        cl.setExitCodeExceptionMapper(e -> isUserError(e) ? USAGE : FAILED);
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            c.getOut().flush();
            PrintWriter e = c.getErr();
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, e);
            e.println("error: " + ex.getMessage() + " (see '" + c.getCommandSpec().qualifiedName() + " --help')");
            e.flush();
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            c.getOut().flush();
            PrintWriter e = c.getErr();
            boolean user = isUserError(ex);
            if (!user) {
                ex.printStackTrace(e);
            }
            e.println("error: " + (user ? "" : "internal error: ") + oneLine(ex));
            e.flush();
            return user ? USAGE : FAILED;
        });
        return cl;
    }

    /** Errors the user can fix: bad arguments, bad files, absent devices. */
    static boolean isUserError(Throwable e) {
        return e instanceof IllegalArgumentException || e instanceof SafeTensorsException
                || e instanceof BackendUnavailableException || e instanceof UncheckedIOException
                || e instanceof CommandLine.ParameterException;
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        return m.replace('\n', ' ').replace('\r', ' ');
    }

    /** The library version, from the build. */
    public static String version() {
        try (InputStream in = Ds4jCommand.class.getResourceAsStream("version.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "unknown");
            return v.startsWith("${") ? "unknown" : v;
        } catch (IOException e) {
            return "unknown";
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"ds4j " + version() + " (Java " + Runtime.version() + ")"};
        }
    }
}
