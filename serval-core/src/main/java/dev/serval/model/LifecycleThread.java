package dev.serval.model;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.schedule.ServalThreads;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ModelRegistry}'s single writer: one named platform thread that runs every change to
 * the served models (start, load, unload, each poll), one at a time, in the order they were
 * handed in.
 *
 * <p>Design note. With one writer, changes never race each other, so a change needs no lock of
 * its own: it reads the current models, loads beside them and publishes. The callers are request
 * threads (virtual threads of the transports) or the starting thread; they park in {@link #call}
 * until their change is done, and the native work never runs on them (a virtual thread blocked in
 * native code pins its carrier). Periodic work ({@link #every}) runs on the same thread, so a poll
 * and an API load never interleave either.
 *
 * <p>Thread-safe. After {@link #close()} every call is refused with UNAVAILABLE.
 */
final class LifecycleThread implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LifecycleThread.class);

    /** How long {@link #close()} waits for the change running at that moment. */
    private static final long CLOSE_WAIT_MINUTES = 5;

    private final ScheduledThreadPoolExecutor executor;
    private volatile boolean closed;

    LifecycleThread(String name) {
        this.executor = new ScheduledThreadPoolExecutor(1, ServalThreads.platform(name));
        this.executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    /**
     * Runs {@code work} on the lifecycle thread, after the changes handed in before it, and waits
     * for it. What {@code work} throws is rethrown as it was: IOException, unchecked exceptions
     * and errors.
     *
     * @throws ServalException UNAVAILABLE once closed, or when the waiting thread is interrupted
     *                         (its interrupt flag is restored; the work still runs to its end)
     */
    <T> T call(Callable<T> work) throws IOException {
        if (closed) {
            throw ServalException.unavailable("the model registry is shutting down");
        }
        Future<T> future;
        try {
            future = executor.submit(work);
        } catch (RejectedExecutionException e) {
            throw ServalException.unavailable("the model registry is shutting down");
        }
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ServalException.unavailable("interrupted while waiting for the model registry");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (cause instanceof Error error) {
                throw error;
            }
            throw ServalException.internal("model lifecycle failed: " + cause, cause);
        }
    }

    /**
     * {@link #call} for work whose IOException means the repository could not be read.
     *
     * @throws ServalException UNAVAILABLE for such an IOException, and as {@link #call}
     */
    <T> T callUnchecked(Callable<T> work) {
        try {
            return call(work);
        } catch (IOException e) {
            throw new ServalException(ErrorCode.UNAVAILABLE, "cannot read the model repository: " + e.getMessage(), e);
        }
    }

    /**
     * Runs {@code task} on the lifecycle thread every {@code interval} (the first time one interval
     * from now) until closed. The task handles its own failures: one it throws would end the
     * schedule.
     */
    void every(Duration interval, Runnable task) {
        long millis = interval.toMillis();
        executor.scheduleWithFixedDelay(task, millis, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Refuses further calls, drops changes not yet started and scheduled ones, interrupts the one
     * running and waits for it to end (up to five minutes). Idempotent.
     */
    @Override
    public void close() {
        closed = true;
        executor.shutdownNow();
        try {
            if (!executor.awaitTermination(CLOSE_WAIT_MINUTES, TimeUnit.MINUTES)) {
                log.warn("a model load was still running at close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
