package dev.serval.features;

import com.github.benmanes.caffeine.cache.Ticker;
import com.google.errorprone.annotations.concurrent.GuardedBy;

/**
 * A consecutive-failure circuit breaker for one remote tier.
 *
 * <p><b>Design.</b> Closed: every call goes through; {@code threshold} failures in a row open it.
 * Open: calls are refused (the caller answers from the local tiers, degraded) until {@code openFor}
 * has passed on the injected ticker; then the next caller becomes the single half-open probe, and
 * its outcome closes the breaker or opens it for another {@code openFor}. Hand-written because the
 * whole job is these lines; Resilience4j would bring a registry, events and a config DSL for them.
 * Failures are counted in a row, not as a rate, because a remote tier here fails whole (killed,
 * partitioned), and a row of timeouts is the cheapest reliable signal of that.
 *
 * <p><b>Permits.</b> Every admitted call holds a {@link Permit} and reports its outcome against it.
 * A permit belongs to one period of the breaker (one closed spell, or one half-open probe), and an
 * outcome counts only in the period that admitted it: a call let through while closed that answers
 * only after the breaker opened (it was slow, which is why the breaker opened) must not close the
 * breaker, nor decide a probe it is not; only the probe's own outcome closes or reopens it. Likewise
 * a late failure from a previous closed spell does not count against the current one.
 *
 * <p>Thread-safe: while closed, {@link #tryAcquire} costs a volatile read and hands out the closed
 * spell's shared permit without allocating.
 */
final class CircuitBreaker {

    /** The right to make one call; report it with {@link #success}, {@link #failure} or {@link #abandon}. */
    static final class Permit {
        private final boolean probe;

        private Permit(boolean probe) {
            this.probe = probe;
        }

        /** True for the half-open probe, whose outcome decides whether the breaker closes. */
        boolean probe() {
            return probe;
        }
    }

    private final int threshold;
    private final long openForNanos;
    private final Ticker ticker;

    private volatile FeatureStoreStats.BreakerState state = FeatureStoreStats.BreakerState.CLOSED;
    /** The permit of the current closed spell (one per spell, compared by identity), or null when not closed. */
    private volatile Permit closed = new Permit(false);
    @GuardedBy("this")
    private Permit probe;
    @GuardedBy("this")
    private int failures;
    @GuardedBy("this")
    private long openedAt;

    CircuitBreaker(int threshold, long openForNanos, Ticker ticker) {
        this.threshold = threshold;
        this.openForNanos = openForNanos;
        this.ticker = ticker;
    }

    /**
     * A permit when the caller may call the tier now (it must then report the outcome against it), or
     * null when the breaker refuses.
     */
    Permit tryAcquire() {
        Permit spell = closed;
        if (spell != null) {
            return spell;
        }
        synchronized (this) {
            if (state == FeatureStoreStats.BreakerState.OPEN && ticker.read() - openedAt >= openForNanos) {
                state = FeatureStoreStats.BreakerState.HALF_OPEN;
                probe = new Permit(true);
                return probe;
            }
            return closed;
        }
    }

    /** True while open and its period has not passed, or while the probe is out: {@link #tryAcquire} would refuse. */
    boolean refusing() {
        if (state != FeatureStoreStats.BreakerState.OPEN) {
            return state == FeatureStoreStats.BreakerState.HALF_OPEN;
        }
        synchronized (this) {
            return state == FeatureStoreStats.BreakerState.OPEN && ticker.read() - openedAt < openForNanos;
        }
    }

    /**
     * The call {@code permit} admitted succeeded. Resets the failure count of its closed spell, or
     * closes the breaker when it is the current probe; an outcome from another period is ignored.
     *
     * @return true when this closed the breaker (the tier just came back)
     */
    synchronized boolean success(Permit permit) {
        if (permit.probe) {
            if (permit != probe) {
                return false;
            }
            probe = null;
            failures = 0;
            state = FeatureStoreStats.BreakerState.CLOSED;
            closed = new Permit(false);
            return true;
        }
        if (permit == closed) {
            failures = 0;
        }
        return false;
    }

    /**
     * The call {@code permit} admitted failed. Counts against its closed spell (opening the breaker at
     * the threshold), or reopens the breaker when it is the current probe; an outcome from another
     * period is ignored.
     */
    synchronized void failure(Permit permit) {
        if (permit.probe) {
            if (permit == probe) {
                probe = null;
                open(ticker.read());
            }
        } else if (permit == closed && ++failures >= threshold) {
            open(ticker.read());
        }
    }

    /**
     * The caller gave up for a reason of its own (interrupted): a half-open probe is handed back so
     * the next caller probes at once, without judging the tier either way.
     */
    synchronized void abandon(Permit permit) {
        if (permit.probe && permit == probe) {
            probe = null;
            open(ticker.read() - openForNanos);
        }
    }

    @GuardedBy("this")
    private void open(long at) {
        closed = null;
        failures = 0;
        openedAt = at;
        state = FeatureStoreStats.BreakerState.OPEN;
    }

    FeatureStoreStats.BreakerState state() {
        return state;
    }
}
