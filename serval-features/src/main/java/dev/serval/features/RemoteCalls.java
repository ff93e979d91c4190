package dev.serval.features;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls to the remote tier behind its circuit breaker, each with its timeout.
 *
 * <p><b>Why a pool.</b> The {@link RemoteTier} contract asks implementations to honour the timeout,
 * but a lookup on the scoring path must not depend on that: a client library that hangs in a
 * reconnect would hang every scorer. Each call therefore runs on a small bounded pool and the caller
 * waits at most the timeout, then interrupts and abandons it. The cost is one hand-off per remote
 * call, small beside a network round trip. A full pool queue counts as a failure: the tier is not
 * keeping up.
 *
 * <p>Thread-safe.
 */
final class RemoteCalls implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RemoteCalls.class);

    private final RemoteTier tier;
    private final CircuitBreaker breaker;
    private final Duration readTimeout;
    private final Duration writeTimeout;
    private final ThreadPoolExecutor pool;
    private final LongAdder failures = new LongAdder();
    private volatile Runnable onRecovery = () -> { };

    RemoteCalls(RemoteTier tier, CircuitBreaker breaker, Duration readTimeout, Duration writeTimeout, int threads) {
        this.tier = tier;
        this.breaker = breaker;
        this.readTimeout = readTimeout;
        this.writeTimeout = writeTimeout;
        this.pool = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(64 * threads), FeatureThreads.platform("serval-features-" + tier.name()));
    }

    String name() {
        return tier.name();
    }

    /** The stored values of {@code keys} (null where absent), or null when the tier was skipped or failed. */
    List<byte[]> getAll(List<String> keys) {
        try {
            return call(() -> {
                List<byte[]> values = tier.getAll(keys, readTimeout);
                if (values.size() != keys.size()) {
                    throw new RemoteTierException(tier.name() + " returned " + values.size() + " values for "
                            + keys.size() + " keys", null);
                }
                return values;
            }, readTimeout, "read");
        } catch (RemoteTierException e) {
            return null;
        }
    }

    /** @throws RemoteTierException when the tier was skipped (breaker open) or the write failed */
    void putAll(Map<String, byte[]> entries) {
        call(() -> {
            tier.putAll(entries, writeTimeout);
            return null;
        }, writeTimeout, "write");
    }

    private <T> T call(Callable<T> work, Duration timeout, String what) {
        CircuitBreaker.Permit permit = breaker.tryAcquire();
        if (permit == null) {
            throw new RemoteTierException("the " + tier.name() + " tier is skipped: its circuit breaker is open", null);
        }
        Future<T> future;
        try {
            future = pool.submit(work);
        } catch (RejectedExecutionException e) {
            throw failed(permit, what, new RemoteTierException("too many calls waiting for the " + tier.name() + " tier", e));
        }
        try {
            T result = future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (breaker.success(permit)) {
                onRecovery.run();
            }
            return result;
        } catch (TimeoutException e) {
            future.cancel(true);
            throw failed(permit, what, new RemoteTierException("the " + tier.name() + " tier did not answer a " + what
                    + " within " + timeout.toMillis() + " ms", e));
        } catch (ExecutionException e) {
            throw failed(permit, what, new RemoteTierException("the " + tier.name() + " tier failed a " + what + ": "
                    + e.getCause(), e.getCause()));
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            breaker.abandon(permit);
            throw new RemoteTierException("interrupted waiting for the " + tier.name() + " tier", e);
        }
    }

    private RemoteTierException failed(CircuitBreaker.Permit permit, String what, RemoteTierException e) {
        failures.increment();
        breaker.failure(permit);
        LOG.debug("remote {} failed", what, e);
        return e;
    }

    /** Runs (on the calling thread, briefly) when a call succeeds after the breaker was open. */
    void onRecovery(Runnable action) {
        this.onRecovery = action;
    }

    long failures() {
        return failures.sum();
    }

    CircuitBreaker breaker() {
        return breaker;
    }

    /** Stops the pool (interrupting calls in flight) and closes the tier. */
    @Override
    public void close() {
        pool.shutdownNow();
        try {
            if (!pool.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("remote calls to the {} tier did not stop within 5 s of close", tier.name());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        tier.close();
    }
}
