package dev.serval.transport;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

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
 * and the server keeps working at full speed under any number of clients.
 *
 * <p>A reservation may also be made before the body's size is known (gRPC learns a message's size
 * only by reading it whole): the waiter's size is then an estimate, read again each time it could
 * be admitted, and corrected with {@link #resize} once the body is read. A correction upward is
 * granted at once, even past the budget: the bytes are already in memory, and waiting would only
 * hold them longer (two calls each waiting for the other's bytes would hold them until both were
 * refused). Newcomers then wait until the budget is back within its size.
 *
 * <p>Thread-safe.
 */
public final class BodyBudget {
    /**
     * The budget's grain: a reservation takes whole units. Reservations made in steps of whole
     * units add up to exactly the units their sum would take.
     */
    public static final int UNIT = 1024;

    private final long maxRequestBytes;
    private final long maxInflightBytes;
    private final Duration maxWait;
    private final long totalUnits;
    private final ReentrantLock lock = new ReentrantLock();
    /**
     * Reservations waiting for room, first come first served: only the first may take it, so only
     * the first is woken when room comes back (thousands may wait).
     */
    private final ArrayDeque<Condition> waiting = new ArrayDeque<>();
    /** Units not reserved; below zero after corrections upward. Taken without the lock while none waits. */
    private final AtomicLong free;
    /** {@code waiting}'s size, read without the lock: while it is 0, reservations need no lock. */
    private volatile int waiters;

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
        this.totalUnits = Math.max(1, maxInflightBytes / UNIT);
        this.free = new AtomicLong(totalUnits);
    }

    public long maxRequestBytes() {
        return maxRequestBytes;
    }

    public long maxInflightBytes() {
        return maxInflightBytes;
    }

    /** How long a body may wait for room before it is refused. */
    public Duration maxWait() {
        return maxWait;
    }

    /** A body larger than the whole budget may still come in alone. */
    private long units(long bytes) {
        return Math.min(totalUnits, (bytes + UNIT - 1) / UNIT);
    }

    /**
     * Takes {@code bytes} from the budget, waiting up to the configured time for room; give them
     * back with {@link #release}.
     *
     * @throws ServalException RESOURCE_EXHAUSTED when no room came in time, UNAVAILABLE if interrupted
     */
    public void reserve(long bytes) {
        if (!take(units(bytes), false)) {
            reserveWaiting(() -> bytes);
        }
    }

    /**
     * Takes what {@code bytes} says a body will need, asked again each time the reservation could
     * be admitted, waiting up to the configured time for room.
     *
     * @return the bytes reserved: give them back with {@link #release}, or correct them with {@link #resize}
     * @throws ServalException RESOURCE_EXHAUSTED when no room came in time, UNAVAILABLE if interrupted
     */
    public long reserve(LongSupplier bytes) {
        long wanted = bytes.getAsLong();
        return take(units(wanted), false) ? wanted : reserveWaiting(bytes);
    }

    /**
     * Takes {@code units} if they are free and, unless {@code first}, nobody waits (first come,
     * first served).
     */
    private boolean take(long units, boolean first) {
        if (!first && waiters > 0) {
            return false;
        }
        while (true) {
            long now = free.get();
            if (now < units) {
                return false;
            }
            if (free.compareAndSet(now, now - units)) {
                return true;
            }
        }
    }

    /**
     * Waits in line. A waiter counts itself before it looks at {@code free}, and a release adds to
     * {@code free} before it looks for waiters, so one of the two always sees the other.
     */
    private long reserveWaiting(LongSupplier bytes) {
        lock.lock();
        try {
            Condition turn = lock.newCondition();
            waiting.addLast(turn);
            waiters = waiting.size();
            boolean admitted = false;
            try {
                long deadline = System.nanoTime() + maxWait.toNanos();
                while (true) {
                    long wanted = bytes.getAsLong();
                    if (waiting.peekFirst() == turn && take(units(wanted), true)) {
                        admitted = true;
                        return wanted;
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new ServalException(ErrorCode.RESOURCE_EXHAUSTED, "the server held " + maxInflightBytes
                                + " bytes of request bodies (--max-inflight-bytes) for " + maxWait.toMillis()
                                + " ms and this one (" + wanted + " bytes) found no room; retry later");
                    }
                    turn.awaitNanos(left);
                }
            } finally {
                waiting.remove(turn);
                waiters = waiting.size();
                if (!admitted || free.get() > 0) {
                    wakeFirst(); // the next in line may fit now
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ServalException.unavailable("the server is stopping");
        } finally {
            lock.unlock();
        }
    }

    /**
     * Turns a reservation of {@code reserved} bytes into one of {@code needed} bytes, at once: what
     * it no longer needs goes back, what it lacks is granted even past the budget (see the class
     * notes).
     */
    public void resize(long reserved, long needed) {
        adjust(units(reserved) - units(needed));
    }

    /** Gives back a reservation of {@code bytes} ({@link #reserve} or the last {@link #resize}). */
    public void release(long bytes) {
        if (bytes > 0) {
            adjust(units(bytes));
        }
    }

    private void wakeFirst() {
        Condition first = waiting.peekFirst();
        if (first != null) {
            first.signal();
        }
    }

    private void adjust(long units) {
        if (units == 0) {
            return;
        }
        free.addAndGet(units);
        if (units > 0 && waiters > 0) {
            lock.lock();
            try {
                wakeFirst();
            } finally {
                lock.unlock();
            }
        }
    }
}
