package dev.serval.transport;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Limits on request bodies: the largest one accepted, and the bytes of all bodies being handled
 * at once.
 *
 * <p>Design note: each model's queue is bounded in requests, but requests are not all the same
 * size: two thousand clients each sending a 1 MB image would need 2 GB of heap before any queue
 * is reached. Refusing the excess at once (429) looks safe but is not: clients retry, and the
 * server spends its core draining megabytes it then refuses, until nothing succeeds. So a body
 * that does not fit waits, unread, for room (first come, first served), while TCP's own flow
 * control holds its client back; only after {@code maxWait} is it refused. Memory stays bounded
 * and the server keeps working at full speed under any number of clients. Thread-safe.
 */
public final class BodyBudget {
    private static final int UNIT = 1024;

    private final long maxRequestBytes;
    private final long maxInflightBytes;
    private final Duration maxWait;
    private final int totalUnits;
    private final Semaphore units;

    /**
     * @param maxRequestBytes  the largest body accepted (413 beyond)
     * @param maxInflightBytes the bytes of bodies that may be held at once
     * @param maxWait          how long a body may wait for room before it is refused with 429
     */
    public BodyBudget(long maxRequestBytes, long maxInflightBytes, Duration maxWait) {
        if (maxRequestBytes < 1 || maxInflightBytes < 1) {
            throw new IllegalArgumentException("body limits must be positive");
        }
        this.maxRequestBytes = maxRequestBytes;
        this.maxInflightBytes = maxInflightBytes;
        this.maxWait = maxWait;
        this.totalUnits = (int) Math.min(Integer.MAX_VALUE, Math.max(1, maxInflightBytes / UNIT));
        this.units = new Semaphore(totalUnits, true);
    }

    public long maxRequestBytes() {
        return maxRequestBytes;
    }

    /** A body larger than the whole budget may still come in alone. */
    private int units(long bytes) {
        return (int) Math.min(totalUnits, (bytes + UNIT - 1) / UNIT);
    }

    /**
     * Takes {@code bytes} from the budget, waiting up to the configured time for room; give them
     * back with {@link #release}.
     *
     * @throws ServalException RESOURCE_EXHAUSTED when no room came in time, UNAVAILABLE if interrupted
     */
    public void reserve(long bytes) {
        acquire(units(bytes), bytes);
    }

    /**
     * Turns a reservation of {@code reserved} bytes into one of {@code needed} bytes: gives back
     * what it no longer needs, or takes what it lacks, waiting as {@link #reserve} does. On a
     * refusal the reservation stays at {@code reserved}.
     *
     * @throws ServalException RESOURCE_EXHAUSTED when no room came in time, UNAVAILABLE if interrupted
     */
    public void resize(long reserved, long needed) {
        int more = units(needed) - units(reserved);
        if (more > 0) {
            acquire(more, needed);
        } else if (more < 0) {
            units.release(-more);
        }
    }

    private void acquire(int count, long bytes) {
        if (count == 0) {
            return;
        }
        try {
            if (!units.tryAcquire(count, maxWait.toNanos(), TimeUnit.NANOSECONDS)) {
                throw new ServalException(ErrorCode.RESOURCE_EXHAUSTED, "the server held " + maxInflightBytes
                        + " bytes of request bodies (--max-inflight-bytes) for " + maxWait.toMillis()
                        + " ms and this one (" + bytes + " bytes) found no room; retry later");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ServalException.unavailable("the server is stopping");
        }
    }

    /** Gives back a reservation of {@code bytes} ({@link #reserve} or the last {@link #resize}). */
    public void release(long bytes) {
        if (bytes > 0) {
            units.release(units(bytes));
        }
    }
}
