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
 * whole job is these twenty lines; Resilience4j would bring a registry, events and a config DSL for
 * them. Failures are counted in a row, not as a rate, because a remote tier here fails whole
 * (killed, partitioned), and a row of timeouts is the cheapest reliable signal of that.
 *
 * <p>Thread-safe: the closed state is read without a lock, so the common path costs a volatile read.
 */
final class CircuitBreaker {

    private final int threshold;
    private final long openForNanos;
    private final Ticker ticker;

    private volatile FeatureStoreStats.BreakerState state = FeatureStoreStats.BreakerState.CLOSED;
    @GuardedBy("this")
    private int failures;
    @GuardedBy("this")
    private long openedAt;

    CircuitBreaker(int threshold, long openForNanos, Ticker ticker) {
        this.threshold = threshold;
        this.openForNanos = openForNanos;
        this.ticker = ticker;
    }

    /** True when the caller may call the tier now; it must then report {@link #success} or {@link #failure}. */
    boolean tryAcquire() {
        if (state == FeatureStoreStats.BreakerState.CLOSED) {
            return true;
        }
        synchronized (this) {
            if (state == FeatureStoreStats.BreakerState.OPEN && ticker.read() - openedAt >= openForNanos) {
                state = FeatureStoreStats.BreakerState.HALF_OPEN;
                return true;
            }
            return state == FeatureStoreStats.BreakerState.CLOSED;
        }
    }

    /** True while open and its period has not passed: {@link #tryAcquire} would refuse. */
    boolean refusing() {
        if (state != FeatureStoreStats.BreakerState.OPEN) {
            return state == FeatureStoreStats.BreakerState.HALF_OPEN;
        }
        synchronized (this) {
            return state == FeatureStoreStats.BreakerState.OPEN && ticker.read() - openedAt < openForNanos;
        }
    }

    /** Closes the breaker; true when it was not closed (the tier just came back). */
    synchronized boolean success() {
        boolean recovered = state != FeatureStoreStats.BreakerState.CLOSED;
        failures = 0;
        state = FeatureStoreStats.BreakerState.CLOSED;
        return recovered;
    }

    synchronized void failure() {
        failures++;
        if (state == FeatureStoreStats.BreakerState.HALF_OPEN
                || (state == FeatureStoreStats.BreakerState.CLOSED && failures >= threshold)) {
            state = FeatureStoreStats.BreakerState.OPEN;
            openedAt = ticker.read();
        }
    }

    /**
     * The caller gave up for a reason of its own (interrupted): a half-open probe is handed back so
     * the next caller probes at once, without judging the tier either way.
     */
    synchronized void abandon() {
        if (state == FeatureStoreStats.BreakerState.HALF_OPEN) {
            state = FeatureStoreStats.BreakerState.OPEN;
            openedAt = ticker.read() - openForNanos;
        }
    }

    FeatureStoreStats.BreakerState state() {
        return state;
    }
}
