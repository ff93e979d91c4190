package dev.serval.features;

import java.util.List;

/**
 * Features by entity key, kept up to date from recorded events; the tiers (in process, local disk,
 * remote) are behind this one interface and composed by configuration.
 *
 * <p>Thread-safe. Neither method throws because a remote tier is slow or down: lookups answer from
 * the tiers that answer and say so ({@link Lookup#degraded()}); recording needs only the local tiers.
 */
public interface FeatureStore extends AutoCloseable {

    /**
     * The features of each entity as of the matching time.
     *
     * @param entities     entity keys; an unknown one gets the defaults described in {@link Feature}
     * @param atMillis     for each entity, the time its windows are judged at (epoch milliseconds)
     * @return one row per entity, in order
     * @throws IllegalArgumentException when the two lengths differ or an entity is null
     * @throws FeatureStoreException    when a local tier fails or a stored value cannot be read
     * @throws IllegalStateException    after {@link #close}
     */
    Lookup lookup(List<String> entities, long[] atMillis);

    /**
     * Applies the events to their entities' aggregates. When this returns, the events are durable:
     * they survive a crash or restart of this process, and they reach the remote tier (if any) even if
     * it is down now, once it is back.
     *
     * <p>A batch is applied under its entities' locks, all or nothing; callers keep batches modest
     * (hundreds to a few thousand events) so lookups of the same entities do not wait long. A lookup
     * concurrent with this call may already see its events before the call returns (their durable
     * write still in progress); one that starts after it returned always does.
     *
     * @throws FeatureStoreException when the durable tiers cannot record them (nothing of the batch is
     *                               then acknowledged): the local ones, or the remote one in a store
     *                               configured without local disk
     * @throws IllegalStateException after {@link #close}
     */
    void record(List<Event> events);

    /** Releases every tier's resources; pending write-behind stays durable for the next start. */
    @Override
    void close();
}
