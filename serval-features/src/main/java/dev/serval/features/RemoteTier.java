package dev.serval.features;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A remote store (L3) of encoded entity state by key: Redis or PostgreSQL. The tiered store calls
 * it with a timeout and wraps it in a circuit breaker; an implementation only has to honour the
 * timeout and report failure by throwing.
 *
 * <p>Values are opaque bytes (the tiered store's encoding of an entity's aggregates); writes are
 * whole-value overwrites, so replaying a write after a failure is harmless.
 */
public interface RemoteTier extends AutoCloseable {

    /** A short name for logs and metrics, e.g. {@code redis}. */
    String name();

    /**
     * The stored value of each key, or null where there is none, in the order of {@code keys}.
     *
     * @throws RemoteTierException when the tier failed or did not answer within {@code timeout}
     */
    List<byte[]> getAll(List<String> keys, Duration timeout);

    /**
     * Stores every entry (overwriting), all or nothing as far as the tier allows.
     *
     * @throws RemoteTierException when the tier failed or did not answer within {@code timeout}
     */
    void putAll(Map<String, byte[]> entries, Duration timeout);

    @Override
    void close();
}
