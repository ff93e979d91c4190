package dev.serval.features.testing;

/**
 * A real server process on 127.0.0.1 that a test starts, crashes, freezes and stops
 * ({@link RedisServer}, {@link PostgresServer}): what the fault tests of a remote tier drive,
 * whichever server backs it.
 */
public interface LoopbackServer extends AutoCloseable {
    /** Starts it (again: same port, same data) and returns when it answers. */
    LoopbackServer start();

    boolean isRunning();

    /** SIGKILL, as a crash. */
    void kill();

    /** SIGSTOP: connections stay open and go unanswered until {@link #resume()}. */
    void pause();

    /** SIGCONT after {@link #pause()}. */
    void resume();

    /** Stops it if it runs and deletes its data. */
    @Override
    void close();
}
