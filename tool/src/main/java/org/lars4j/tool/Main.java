package org.lars4j.tool;

import java.util.concurrent.Callable;
import org.lars4j.Backend;
import org.lars4j.Engines;
import org.lars4j.engine.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code ./lars4j} tool. */
@Command(name = "lars4j", mixinStandardHelpOptions = true, version = "lars4j 0.1.0",
        description = "Layer-wise adaptive optimizers (LARS family, LAMB) for the JVM.",
        subcommands = {StepCommand.class, BenchCommand.class, VerifyCommand.class, Main.Info.class, DemoCommand.class,
                org.lars4j.tool.train.TrainCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Callable<Integer> {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the tool and returns its exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        // Bad input: one line on stderr and a non-zero exit, never a stack trace.
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("lars4j " + cmd.getCommandName() + ": " + oneLine(ex));
            return 1;
        });
        cl.setParameterExceptionHandler((ex, parsed) -> {
            ex.getCommandLine().getErr().println("lars4j: " + ex.getMessage() + " (see --help)");
            return 2;
        });
        return cl.execute(args);
    }

    private static String oneLine(Throwable ex) {
        String m = ex.getMessage();
        if (ex instanceof java.nio.file.NoSuchFileException) m = "no such file: " + m;
        else if (ex instanceof java.nio.file.AccessDeniedException) m = "permission denied: " + m;
        else if (ex instanceof java.nio.file.FileSystemException) {
            // The JDK's form is "path: reason" only when it knows a reason; name the path either way.
            java.nio.file.FileSystemException f = (java.nio.file.FileSystemException) ex;
            m = f.getFile() + ": " + (f.getReason() != null ? f.getReason() : ex.getClass().getSimpleName());
        }
        if (m == null) m = ex.getClass().getSimpleName();
        return m.replace('\n', ' ');
    }

    @Override
    public Integer call() {
        new CommandLine(this).usage(System.out);
        return 0;
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "Say which backends are available and, where one is not, why.")
    static final class Info implements Callable<Integer> {
        @Override
        public Integer call() {
            System.out.println("lars4j 0.1.0 on Java " + Runtime.version() + ", "
                    + Runtime.getRuntime().availableProcessors() + " processors");
            for (Backend b : Backend.values()) {
                if (b == Backend.AUTO) continue;
                String why = Engines.unavailableReason(b);
                System.out.printf("  %-14s %s%n", b.cliName(), why == null ? "available" : "unavailable: " + why);
            }
            Engine auto = Engines.select(Backend.AUTO);
            System.out.println("  auto           -> " + auto.name());
            return 0;
        }
    }
}
