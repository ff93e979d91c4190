package dev.serval.features.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * One server process a test started, and its directory: started from a fixed command line (so a
 * restart is the same server on the same port and data directory), signalled by PID, and never
 * outliving the JVM.
 *
 * <p>Signals go to the process and every descendant: PostgreSQL serves each connection from a child
 * process, so pausing or killing only the postmaster would leave the backends answering. Until
 * {@link #close()}, a shutdown hook stands ready to kill the server and delete the directory when
 * the JVM exits first (a test that died before its cleanup, a surefire timeout), so no server is
 * left holding a port. Not thread-safe: one test drives it.
 */
final class ServerProcess {
    private static final Duration READY_LIMIT = Duration.ofSeconds(60);
    private static final Duration STOP_LIMIT = Duration.ofSeconds(30);

    private final String name;
    private final List<String> command;
    private final Path dir;
    private final Path log;
    private final Thread reaper;
    private volatile Process process;

    /**
     * {@code name} is for messages; the process's output is appended to {@code log}; {@code dir} is
     * deleted on {@link #close()}.
     */
    ServerProcess(String name, List<String> command, Path dir, Path log) {
        this.name = name;
        this.command = List.copyOf(command);
        this.dir = dir;
        this.log = log;
        this.reaper = new Thread(this::killAndDelete, name + "-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
    }

    /**
     * Starts the command and waits until {@code ready} answers true (polled), the process exits, or a
     * minute passes; the latter two throw with the end of the server's log.
     */
    void start(BooleanSupplier ready) {
        if (isRunning()) {
            throw new IllegalStateException(name + " is already running (pid " + process.pid() + ")");
        }
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command.getFirst() + " for " + name, e);
        }
        Process started = process;
        long deadline = System.nanoTime() + READY_LIMIT.toNanos();
        while (!ready.getAsBoolean()) {
            if (!process.isAlive()) {
                String tail = logTail();
                process = null;
                throw new IllegalStateException(name + " exited with status " + started.exitValue()
                        + " while starting; its log ends:\n" + tail);
            }
            if (System.nanoTime() > deadline) {
                kill();
                throw new IllegalStateException(name + " did not answer within " + READY_LIMIT.toSeconds()
                        + " s of starting; its log ends:\n" + logTail());
            }
            pause(Duration.ofMillis(20));
        }
    }

    boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** The PID of the running server. */
    long pid() {
        if (!isRunning()) {
            throw new IllegalStateException(name + " is not running");
        }
        return process.pid();
    }

    /** Sends {@code signal} (e.g. {@code INT}) and waits for the exit; SIGKILL if it takes over 30 s. */
    void stop(String signal) {
        if (isRunning()) {
            List<ProcessHandle> tree = tree(process);
            signal(tree, "CONT"); // a paused server cannot act on the signal
            signal(List.of(process.toHandle()), signal);
            if (!awaitExit(tree, STOP_LIMIT)) {
                killTree(process);
            } else {
                awaitReaped(process);
            }
        }
        process = null;
    }

    /** SIGKILL to the server and its children, as a crash would; waits until they are gone. */
    void kill() {
        Process running = process;
        if (running != null) {
            killTree(running);
        }
        process = null;
    }

    /** SIGSTOP to the server and its children: it keeps its sockets but answers nothing. */
    void pause() {
        pid(); // throws if it is not running
        signal(tree(process), "STOP");
    }

    /** SIGCONT, undoing {@link #pause()}. */
    void resume() {
        signal(tree(process), "CONT");
    }

    /** The last lines of the server's output, for failure messages. */
    String logTail() {
        try {
            List<String> lines = new String(Files.readAllBytes(log), StandardCharsets.UTF_8).lines().toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /** Kills the server if it runs and deletes the directory. */
    void close() {
        try {
            killAndDelete();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(reaper);
            } catch (IllegalStateException alreadyShuttingDown) {
                // the hook runs anyway and finds nothing left to do
            }
        }
    }

    private void killAndDelete() {
        try {
            kill();
        } finally {
            deleteTree(dir);
        }
    }

    private static List<ProcessHandle> tree(Process process) {
        if (process == null || !process.isAlive()) {
            return List.of();
        }
        List<ProcessHandle> tree = new ArrayList<>();
        tree.add(process.toHandle());
        process.descendants().forEach(tree::add);
        return tree;
    }

    private static void killTree(Process process) {
        List<ProcessHandle> tree = tree(process);
        tree.forEach(ProcessHandle::destroyForcibly);
        awaitExit(tree, STOP_LIMIT);
        awaitReaped(process);
    }

    /**
     * Waits until the JDK has reaped our direct child: {@link #isGone} accepts a zombie, but until the
     * JDK's reaper collects it, its handle still reports alive (seen on a loaded machine).
     */
    private static void awaitReaped(Process process) {
        try {
            process.waitFor(STOP_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a server to exit", e);
        }
    }

    private static boolean awaitExit(List<ProcessHandle> tree, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        for (ProcessHandle handle : tree) {
            while (!isGone(handle)) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                pause(Duration.ofMillis(10));
            }
        }
        return true;
    }

    /**
     * Exited, or a zombie: a killed backend whose parent died first waits for PID 1 to reap it
     * (here up to about a second), though it holds no memory, port or file any more.
     */
    static boolean isGone(ProcessHandle handle) {
        if (!handle.isAlive()) {
            return true;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(handle.pid()), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 1).strip().startsWith("Z");
        } catch (IOException | RuntimeException noLongerThere) {
            return !handle.isAlive();
        }
    }

    /**
     * Signals by PID with the shell's kill (the JDK sends only TERM and KILL; a kill binary is not on
     * every machine, a shell is). A process that exited meanwhile is not an error.
     */
    private static void signal(List<ProcessHandle> targets, String signal) {
        List<String> pids = targets.stream().filter(ProcessHandle::isAlive).map(h -> Long.toString(h.pid())).toList();
        if (pids.isEmpty()) {
            return;
        }
        String kill = "kill -s " + signal + " " + String.join(" ", pids);
        try {
            Process shell = new ProcessBuilder("sh", "-c", kill + " 2>/dev/null; true").redirectErrorStream(true).start();
            shell.getInputStream().readAllBytes();
            if (!shell.waitFor(10, TimeUnit.SECONDS)) {
                shell.destroyForcibly();
                throw new IllegalStateException("'" + kill + "' did not finish");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run '" + kill + "'", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending SIG" + signal, e);
        }
    }

    /** A port nothing listens on at the moment, on 127.0.0.1. */
    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free port on 127.0.0.1", e);
        }
    }

    /** The first of {@code candidates} that is an executable file, or null. */
    static Path findExecutable(Stream<Path> candidates) {
        return candidates.filter(Files::isExecutable).findFirst().orElse(null);
    }

    /** {@code program} on the PATH, or null. */
    static Path onPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
        return findExecutable(Stream.of(path.split(":")).filter(d -> !d.isEmpty()).map(d -> Path.of(d, program)));
    }

    static void deleteTree(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + root, e);
        }
    }

    static void pause(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a server", e);
        }
    }
}
