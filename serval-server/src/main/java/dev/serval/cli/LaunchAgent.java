package dev.serval.cli;

import dev.serval.transport.http.ReaderNodes;
import java.lang.instrument.Instrumentation;

/**
 * Runs before {@link ServalCommand#main}: registers {@link ReaderNodes}' change to Helidon's
 * connection reader, which must be in place before Helidon's classes load. The server jar's
 * manifest names this class as its {@code Launcher-Agent-Class} (started by {@code java -jar}) and
 * its {@code Premain-Class} (for a launch with a class path of its own, add
 * {@code -javaagent:serval-server.jar}). {@code -Dserval.reader_patch=false} leaves Helidon as it is.
 */
public final class LaunchAgent {
    private LaunchAgent() {
    }

    /** The entry point for a jar's launcher agent ({@code java -jar}). */
    public static void agentmain(String arguments, Instrumentation instrumentation) {
        ReaderNodes.install(instrumentation);
    }

    /** The entry point for {@code -javaagent}. */
    public static void premain(String arguments, Instrumentation instrumentation) {
        ReaderNodes.install(instrumentation);
    }
}
