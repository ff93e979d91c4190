package dev.serval.features.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A real redis-server (the Debian package) on a free port of 127.0.0.1, with its data in a temporary
 * directory, for tests of the Redis tier and of the tiered store over it.
 *
 * <p>Persistence is the append-only file with {@code appendfsync no}: Redis writes each command to
 * the file before it replies, so every acknowledged write survives {@link #kill()} (the page cache
 * outlives the process; only a machine crash would lose it, and fsync would cost the tests time).
 * Snapshots are off. A restart with {@link #start()} replays the file, so a test can count events
 * across a kill and restart.
 *
 * <p>Constructing picks the port and the directory but starts nothing, so a test can point a client
 * at a server that is not up yet. Not thread-safe: one test drives it; {@link #close()} it (try
 * with resources or an after-all method) and the server stops and its directory is deleted.
 */
public final class RedisServer implements LoopbackServer {
    private final int port;
    private final Path dir;
    private final ServerProcess process;

    /** Picks a free port and a temporary directory; throws if redis-server is not installed. */
    public RedisServer() {
        Path binary = ServerProcess.onPath("redis-server");
        if (binary == null) {
            throw new IllegalStateException("redis-server is not on the PATH: install the Debian package "
                    + "redis-server (.ci/run does) to run the tests that need a real Redis");
        }
        this.port = ServerProcess.freePort();
        try {
            this.dir = Files.createTempDirectory("serval-redis-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make a directory for redis-server", e);
        }
        this.process = new ServerProcess("redis-server on 127.0.0.1:" + port, List.of(binary.toString(),
                "--port", Integer.toString(port), "--bind", "127.0.0.1", "--dir", dir.toString(),
                "--daemonize", "no", "--save", "", "--appendonly", "yes", "--appendfsync", "no",
                "--logfile", ""), dir, dir.resolve("redis.log"));
    }

    /**
     * Starts the server (again, after {@link #stop()} or {@link #kill()}: same port, same data) and
     * returns when it answers PING.
     *
     * @throws IllegalStateException if it is already running, exits, or does not answer within a minute
     */
    @Override
    public RedisServer start() {
        process.start(this::answersPing);
        return this;
    }

    /** The port it listens on (on 127.0.0.1), fixed for the life of this object. */
    public int port() {
        return port;
    }

    /** A Lettuce URI for database 0, e.g. {@code redis://127.0.0.1:40123/0}. */
    public String uri() {
        return "redis://127.0.0.1:" + port + "/0";
    }

    @Override
    public boolean isRunning() {
        return process.isRunning();
    }

    /** The PID of the running server. */
    public long pid() {
        return process.pid();
    }

    /** Shuts down cleanly (SIGTERM: Redis flushes its append-only file) and waits for the exit. */
    public void stop() {
        process.stop("TERM");
    }

    /** SIGKILL, as a crash; writes Redis acknowledged are in its append-only file and come back on {@link #start()}. */
    @Override
    public void kill() {
        process.kill();
    }

    /** SIGSTOP: connections stay open and commands go unanswered until {@link #resume()}. */
    @Override
    public void pause() {
        process.pause();
    }

    @Override
    public void resume() {
        process.resume();
    }

    /** Stops the server if it runs and deletes its directory. */
    @Override
    public void close() {
        process.close();
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
            return false; // not listening yet, or still loading its data ("-LOADING")
        }
    }
}
