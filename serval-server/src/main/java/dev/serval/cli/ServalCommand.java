package dev.serval.cli;

import dev.serval.server.ServalServer;
import org.slf4j.bridge.SLF4JBridgeHandler;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code serval}: the command line's entry point. */
@Command(name = "serval",
        mixinStandardHelpOptions = true,
        versionProvider = ServalCommand.Version.class,
        description = "Model serving for the JVM: ONNX models over the Open Inference Protocol.",
        subcommands = {ServeCommand.class, InspectCommand.class, CommandLine.HelpCommand.class})
public final class ServalCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        // Helidon logs through java.util.logging: route it to SLF4J so there is one log format.
        SLF4JBridgeHandler.removeHandlersForRootLogger();
        SLF4JBridgeHandler.install();
        int exit = commandLine().execute(args);
        if (exit != 0) {
            System.exit(exit);
        }
    }

    /** The command line as {@link #main} runs it: start-up errors the user can fix are one line, exit 1. */
    static CommandLine commandLine() {
        return new CommandLine(new ServalCommand())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(ServalCommand::startFailed);
    }

    /**
     * A server that cannot start for a reason the user can fix (a port in use, an unreadable
     * repository or TLS file) says so in one line; anything else keeps its stack trace.
     */
    private static int startFailed(Exception e, CommandLine command, CommandLine.ParseResult parsed) throws Exception {
        if (e instanceof IllegalStateException || e instanceof IllegalArgumentException
                || e instanceof java.io.UncheckedIOException) {
            command.getErr().println("serval: " + e.getMessage());
            return 1;
        }
        throw e;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"serval " + ServalServer.version(), "java " + Runtime.version()};
        }
    }
}
