package dev.serval.schedule;

import static org.assertj.core.api.Assertions.fail;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link Ticker} that only moves when the test moves it.
 *
 * <p>It can also watch threads whose name starts with a prefix: each time such a thread reads the
 * time a permit is released, so a test can wait until a batcher has looked at the queue (it reads
 * the ticker under the queue's lock, right before deciding whether to run or to wait).
 */
public final class ManualTicker implements Ticker {
    private final AtomicLong now;
    private final String watchedPrefix;
    private final Semaphore reads = new Semaphore(0);

    public ManualTicker() {
        this(0, null);
    }

    /**
     * @param start         the first time read
     * @param watchedPrefix thread name prefix whose reads are counted, or null
     */
    public ManualTicker(long start, String watchedPrefix) {
        this.now = new AtomicLong(start);
        this.watchedPrefix = watchedPrefix;
    }

    @Override
    public long nanoTime() {
        if (watchedPrefix != null && Thread.currentThread().getName().startsWith(watchedPrefix)) {
            reads.release();
        }
        return now.get();
    }

    public void advance(long nanos) {
        now.addAndGet(nanos);
    }

    public void advanceMicros(long micros) {
        advance(TimeUnit.MICROSECONDS.toNanos(micros));
    }

    public long now() {
        return now.get();
    }

    /** Waits until a watched thread has read the time once more (generous bound, fails the test). */
    public void awaitRead() {
        try {
            if (!reads.tryAcquire(30, TimeUnit.SECONDS)) {
                fail("no watched thread ('" + watchedPrefix + "*') read the ticker");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
