package io.github.ds4j.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

/** Runs the ds4j command in-process with captured output. */
record Cli(int code, String out, String err) {
    static Cli run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Ds4jCommand.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Cli(code, out.toString(), err.toString());
    }

    /** The last non-empty line of stdout and stderr together: errors go to stderr after any output. */
    String lastLine() {
        List<String> e = err.lines().filter(l -> !l.isBlank()).toList();
        if (!e.isEmpty()) {
            return e.get(e.size() - 1);
        }
        List<String> o = out.lines().filter(l -> !l.isBlank()).toList();
        return o.isEmpty() ? "" : o.get(o.size() - 1);
    }

    @Override
    public String toString() {
        return "exit " + code + "\n--- out\n" + out + "--- err\n" + err;
    }
}
