package dev.serval.schedule;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Runs one model version's work on its own platform threads, one per instance, fed by a bounded
 * queue.
 *
 * <p>Design note: request threads are virtual and must never enter the runtime's native code, so
 * they enqueue and park on a future. The queue is bounded so that overload turns into an
 * immediate, explicit rejection (RESOURCE_EXHAUSTED) rather than unbounded memory and latency.
 *
 * <p>Thread-safe. After {@link #close()} new work is refused with UNAVAILABLE; work already queued
 * still runs.
 */
public final class ModelExecutor implements AutoCloseable {
    private static final Job<Void> POISON = new Job<>(() -> null);

    private final String name;
    private final BlockingQueue<Job<?>> queue;
    private final List<Thread> instances;
    private volatile boolean closed;

    /**
     * @param name          used in thread names and messages, e.g. {@code iris:1}
     * @param instanceCount concurrent runs, at least 1
     * @param queueCapacity waiting work beyond the runs in progress, at least 1
     */
    public ModelExecutor(String name, int instanceCount, int queueCapacity, ThreadFactory threads) {
        if (instanceCount < 1 || queueCapacity < 1) {
            throw new IllegalArgumentException("instanceCount and queueCapacity must be at least 1");
        }
        this.name = name;
        this.queue = new ArrayBlockingQueue<>(queueCapacity);
        this.instances = new ArrayList<>(instanceCount);
        for (int i = 0; i < instanceCount; i++) {
            Thread thread = threads.newThread(this::work);
            instances.add(thread);
            thread.start();
        }
    }

    /**
     * Queues {@code task} to run on one of this executor's threads.
     *
     * @return a future completed with the task's result or exception
     * @throws ServalException RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE after close
     */
    public <T> CompletableFuture<T> submit(Supplier<T> task) {
        Job<T> job = new Job<>(task);
        if (closed) {
            throw ServalException.unavailable("model '%s' is shutting down", name);
        }
        if (!queue.offer(job)) {
            throw new ServalException(ErrorCode.RESOURCE_EXHAUSTED,
                    "model '" + name + "' has " + queue.size() + " requests waiting, its limit; retry later");
        }
        return job.future;
    }

    /** Requests waiting to run. */
    public int queueDepth() {
        return queue.size();
    }

    private void work() {
        while (true) {
            Job<?> job;
            try {
                job = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (job == POISON) {
                return;
            }
            job.run();
        }
    }

    /** Stops accepting work, lets queued work finish, and waits for the threads to end. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int i = 0; i < instances.size(); i++) {
            try {
                queue.put(POISON);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (Thread thread : instances) {
            try {
                thread.join(TimeUnit.MINUTES.toMillis(1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        // A submit that raced with close may have queued behind the poison: answer it.
        for (Job<?> job; (job = queue.poll()) != null; ) {
            job.future.completeExceptionally(ServalException.unavailable("model '%s' is shutting down", name));
        }
    }

    private static final class Job<T> implements Runnable {
        final Supplier<T> task;
        final CompletableFuture<T> future = new CompletableFuture<>();

        Job(Supplier<T> task) {
            this.task = task;
        }

        @Override
        public void run() {
            try {
                future.complete(task.get());
            } catch (Throwable t) {
                future.completeExceptionally(t);
            }
        }
    }
}
