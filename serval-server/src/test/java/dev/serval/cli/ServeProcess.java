package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code serval serve} in a JVM of its own (this test JVM's java and class path, the server's own
 * logging to standard output), with its output collected and its HTTP port read from the start-up
 * line. The tests stop it with SIGTERM ({@code process().toHandle().destroy()}); {@link #close()}
 * kills what is still alive.
 */
final class ServeProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("on http://127\\.0\\.0\\.1:(\\d+)");

    private final Process process;
    private final StringBuffer output = new StringBuffer();
    private final CountDownLatch listening = new CountDownLatch(1);
    private final AtomicInteger port = new AtomicInteger();
    private final Thread reader;

    private ServeProcess(Process process) {
        this.process = process;
        this.reader = Thread.ofVirtual().start(this::read);
    }

    /**
     * Starts {@code serve} with {@code systemProperties} (as {@code -Dname=value}) and {@code serveArgs},
     * and waits up to {@code startTimeout} for it to listen.
     */
    static ServeProcess start(List<String> systemProperties, List<String> serveArgs, Duration startTimeout)
            throws IOException, InterruptedException {
        return start(List.of(), systemProperties, serveArgs, startTimeout);
    }

    /** As {@link #start(List, List, Duration)}, with more options for the JVM (such as {@code -javaagent}). */
    static ServeProcess start(List<String> jvmOptions, List<String> systemProperties, List<String> serveArgs,
                              Duration startTimeout) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-XX:+UseZGC", "-Xmx256m", "--enable-native-access=ALL-UNNAMED",
                // The server's own logging (to standard output), not the tests' file.
                "-Dlogback.configurationFile=logback.xml"));
        command.addAll(jvmOptions);
        systemProperties.forEach(property -> command.add("-D" + property));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ServalCommand.class.getName(), "serve"));
        command.addAll(serveArgs);
        ServeProcess serve = new ServeProcess(new ProcessBuilder(command).redirectErrorStream(true).start());
        assertThat(serve.listening.await(startTimeout.toMillis(), TimeUnit.MILLISECONDS))
                .as("the server started: %s", serve.output).isTrue();
        return serve;
    }

    private void read() {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = lines.readLine()) != null; ) {
                output.append(line).append('\n');
                Matcher matcher = LISTENING.matcher(line);
                if (port.get() == 0 && matcher.find()) {
                    port.set(Integer.parseInt(matcher.group(1)));
                    listening.countDown();
                }
            }
        } catch (IOException e) {
            // the process ended
        }
    }

    Process process() {
        return process;
    }

    /** The HTTP port the server announced. */
    int port() {
        return port.get();
    }

    /** What the process has written so far. */
    String output() {
        return output.toString();
    }

    /** Waits for the process to exit by itself and for its output to end; false if it did not exit in time. */
    boolean awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return false;
        }
        reader.join(Duration.ofSeconds(60));
        return true;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
