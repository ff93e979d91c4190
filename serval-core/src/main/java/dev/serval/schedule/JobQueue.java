package dev.serval.schedule;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The bounded queue of one model version, by priority level, first in first out within a level,
 * and the dynamic batcher's decision of what to run next.
 *
 * <p>Design note: the instances themselves form batches, under the queue's lock: an instance that
 * becomes free looks at the best waiting request, gathers the requests that can share its run
 * (same shapes past the batch dimension, same outputs) up to the batch limit, and either takes
 * them or waits for more. It runs what it has at once when the batch is full, a preferred size is
 * reached, the oldest request has waited the maximum delay, or no other request is on its way to
 * this model (counted from the moment the transport has resolved the model until the request is
 * queued): then waiting could only add latency. Requests whose deadline passed, or whose caller
 * gave up, are dropped here and never reach the model.
 *
 * <p>The queue also counts the runs in progress against the model's instances ({@code slots}):
 * an instance takes a batch only while a slot is free, and a request may claim a free slot to run
 * in its own thread instead of being queued ({@link #claim}), which is only allowed while nothing
 * waits, so that no request overtakes a queued one.
 *
 * <p>Thread-safe.
 */
final class JobQueue {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Job>[] levels;
    private final int capacity;
    private final int slots;
    private final String model;
    private int size;
    private int arriving;
    private int running;
    private boolean closed;

    /** @param slots runs that may be in progress at once: the model's instances */
    @SuppressWarnings("unchecked")
    JobQueue(String model, int capacity, int priorityLevels, int slots) {
        this.model = model;
        this.capacity = capacity;
        this.slots = slots;
        this.levels = new ArrayDeque[priorityLevels];
        for (int i = 0; i < priorityLevels; i++) {
            levels[i] = new ArrayDeque<>();
        }
    }

    /**
     * A request for this model is on its way (its body is being read and decoded). Requests on
     * their way count against the queue's capacity, so that a full queue refuses new requests
     * before their bodies are read: under overload, refusing must cost next to nothing.
     *
     * @throws ServalException RESOURCE_EXHAUSTED when queued and arriving requests fill the queue,
     *                         UNAVAILABLE once closed
     */
    void arrive() {
        lock.lock();
        try {
            if (closed) {
                throw ServalException.unavailable("model '%s' is shutting down", model);
            }
            if (size + arriving >= capacity) {
                throw full();
            }
            arriving++;
        } finally {
            lock.unlock();
        }
    }

    private ServalException full() {
        return new ServalException(ErrorCode.RESOURCE_EXHAUSTED, "model '" + model + "' has " + size
                + " requests waiting and " + arriving + " arriving, its limit (max_queue_size " + capacity
                + "); retry later");
    }

    /** A request that arrived will not be queued after all (it failed before). */
    void leave() {
        lock.lock();
        try {
            if (--arriving == 0 && size > 0) {
                changed.signalAll(); // see enqueue
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Queues a job; {@code arrived} says whether it was counted by {@link #arrive()}.
     *
     * @throws ServalException RESOURCE_EXHAUSTED when full, UNAVAILABLE once closed
     */
    void offer(Job job, boolean arrived) {
        enqueue(job, arrived, false);
    }

    /**
     * Takes a free run slot for {@code job} if nothing is queued, else queues it like
     * {@link #offer}. A caller that got true runs the job itself and then calls {@link #done()}.
     *
     * @return true when the job holds a slot and was not queued
     * @throws ServalException RESOURCE_EXHAUSTED when full, UNAVAILABLE once closed
     */
    boolean claim(Job job, boolean arrived) {
        return enqueue(job, arrived, true);
    }

    private boolean enqueue(Job job, boolean arrived, boolean mayClaim) {
        lock.lock();
        try {
            if (arrived && --arriving == 0 && size > 0) {
                // Even if this job is refused below, batches waiting for it must not wait on. Only a
                // forming batch waits for arrivals, and there is none while nothing is queued: an
                // idle instance woken here only parks again, and on one core that wake-up cost a
                // context switch per request of a model run inline (iris: 1.9 switches and 8 us of
                // CPU per request, measured 2026-12-07).
                changed.signalAll();
            }
            if (closed) {
                throw ServalException.unavailable("model '%s' is shutting down", model);
            }
            if (mayClaim && size == 0 && running < slots) {
                running++;
                return true;
            }
            if (size >= capacity) {
                throw full();
            }
            levels[job.level].addLast(job);
            size++;
            changed.signal();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** A run that held a slot (from {@link #takeBatch} or {@link #claim}) ended. */
    void done() {
        lock.lock();
        try {
            running--;
            if (size > 0) {
                changed.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    int size() {
        lock.lock();
        try {
            return size;
        } finally {
            lock.unlock();
        }
    }

    /** How long the longest-waiting request has waited, 0 when none waits. */
    long oldestWaitNanos(long now) {
        lock.lock();
        try {
            long oldest = Long.MAX_VALUE;
            for (ArrayDeque<Job> level : levels) {
                Job head = level.peekFirst();
                if (head != null) {
                    oldest = Math.min(oldest, head.enqueuedNanos);
                }
            }
            return oldest == Long.MAX_VALUE ? 0 : Math.max(0, now - oldest);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Blocks until there is something to run and a run slot is free, and returns it: one job, or
     * several that share a run. The caller holds a slot until it calls {@link #done()}.
     *
     * @param maxRows the most rows to gather now (the model's {@link BatchCeiling}); a job with more
     *                rows than this, up to the settings' maximum, still runs, alone
     * @param expired receives each job whose deadline passed while it waited (it is removed)
     * @return the jobs to run together, or null once the queue is closed and empty
     */
    List<Job> takeBatch(SchedulerSettings settings, int maxRows, Ticker ticker, Consumer<Job> expired)
            throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                if (size == 0 || running >= slots) {
                    if (size == 0 && closed) {
                        return null;
                    }
                    changed.await();
                    continue;
                }
                long now = ticker.nanoTime();
                dropDead(now, expired);
                Job head = head();
                if (head == null) {
                    continue;
                }
                if (!settings.batching()) {
                    remove(List.of(head));
                    running++;
                    return List.of(head);
                }
                List<Job> batch = new ArrayList<>();
                int limit = Math.max(maxRows, head.rows);
                boolean full = gather(head, limit, batch);
                int rows = 0;
                for (Job job : batch) {
                    rows += job.rows;
                }
                long flushAt = head.enqueuedNanos + settings.maxQueueDelayNanos();
                if (full || rows >= limit || now - flushAt >= 0 || arriving == 0 || closed
                        || settings.preferredBatchSizes().contains(rows)) {
                    remove(batch);
                    running++;
                    return batch;
                }
                changed.awaitNanos(flushAt - now);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Gathers {@code head} and the jobs that can share its run; true if one that could did not fit. */
    private boolean gather(Job head, int maxRows, List<Job> batch) {
        int rows = 0;
        boolean full = false;
        for (ArrayDeque<Job> level : levels) {
            for (Job job : level) {
                if (job != head && !job.key.equals(head.key)) {
                    continue;
                }
                if (rows + job.rows > maxRows) {
                    full = true;
                    continue;
                }
                rows += job.rows;
                batch.add(job);
            }
        }
        return full;
    }

    private Job head() {
        for (ArrayDeque<Job> level : levels) {
            Job head = level.peekFirst();
            if (head != null) {
                return head;
            }
        }
        return null;
    }

    private void dropDead(long now, Consumer<Job> expired) {
        for (ArrayDeque<Job> level : levels) {
            for (Iterator<Job> it = level.iterator(); it.hasNext(); ) {
                Job job = it.next();
                if (job.isAbandoned()) {
                    it.remove();
                    size--;
                } else if (job.deadlineNanos != Job.NO_DEADLINE && now - job.deadlineNanos >= 0) {
                    it.remove();
                    size--;
                    expired.accept(job);
                }
            }
        }
    }

    private void remove(List<Job> jobs) {
        for (Job job : jobs) {
            ArrayDeque<Job> level = levels[job.level];
            if (level.peekFirst() == job) {
                level.pollFirst();
            } else {
                level.removeFirstOccurrence(job);
            }
            size--;
        }
    }

    /** Refuses new jobs; queued ones are still taken, and takers return null once it is empty. */
    void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
