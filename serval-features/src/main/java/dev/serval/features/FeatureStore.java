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
     */
    Lookup lookup(List<String> entities, long[] atMillis);

    /**
     * Applies the events to their entities' aggregates. When this returns, the events are durable:
     * they survive a crash or restart of this process, and they reach the remote tier (if any) even if
     * it is down now, once it is back.
     *
     * @throws FeatureStoreException when the local tiers cannot record them (nothing of the batch is
     *                               then acknowledged)
     */
    void record(List<Event> events);

    /** Releases every tier's resources; pending write-behind stays durable for the next start. */
    @Override
    void close();
}
