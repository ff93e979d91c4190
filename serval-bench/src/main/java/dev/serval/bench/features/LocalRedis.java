package dev.serval.bench.features;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A redis-server (the Debian package) the benchmark starts on a free port of 127.0.0.1, without
 * persistence (the benchmark measures the store, not Redis's disk), and stops by its own PID.
 * Not thread-safe: one benchmark trial drives it.
 */
final class LocalRedis implements AutoCloseable {
    private final int port;
    private final Path dir;
    private final Process process;
    private final Thread reaper;

    private LocalRedis(int port, Path dir, Process process) {
        this.port = port;
        this.dir = dir;
        this.process = process;
        // a benchmark JVM ended by a signal (bench/feature-store.sh's time bound) still stops its server
        this.reaper = new Thread(process::destroyForcibly, "redis-reaper-" + process.pid());
        Runtime.getRuntime().addShutdownHook(reaper);
    }

    /**
     * Starts redis-server and returns once it answers PING.
     *
     * @throws IllegalStateException when redis-server is not installed, exits, or does not answer within 30 s
     */
    static LocalRedis start() throws IOException, InterruptedException {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        Path dir = Files.createTempDirectory("serval-bench-redis-");
        Process process;
        try {
            process = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
                    "--dir", dir.toString(), "--save", "", "--appendonly", "no", "--daemonize", "no")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
        } catch (IOException e) {
            delete(dir);
            throw new IllegalStateException("cannot run redis-server (install the Debian package redis-server)", e);
        }
        LocalRedis redis = new LocalRedis(port, dir, process);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!redis.answersPing()) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                redis.close();
                throw new IllegalStateException("redis-server on 127.0.0.1:" + port + " did not come up; see "
                        + dir.resolve("redis.log"));
            }
            Thread.sleep(20);
        }
        return redis;
    }

    /** A Lettuce URI for database 0. */
    String uri() {
        return "redis://127.0.0.1:" + port + "/0";
    }

    long pid() {
        return process.pid();
    }

    /** SIGTERM to this server's PID (SIGKILL after 10 s), then deletes its directory. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook finds the server gone
        }
        delete(dir);
    }

    private boolean answersPing() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            socket.setSoTimeout(1000);
            socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            byte[] reply = new byte[5];
            return in.readNBytes(reply, 0, 5) == 5 && new String(reply, StandardCharsets.US_ASCII).equals("+PONG");
        } catch (IOException notYet) {
            return false;
        }
    }

    static void delete(Path root) {
        if (!Files.exists(root)) {
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
}
