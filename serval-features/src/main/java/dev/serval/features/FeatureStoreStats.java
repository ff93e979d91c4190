package dev.serval.features;

/**
 * A snapshot of a {@link TieredFeatureStore}'s counters, for metrics. Counters are cumulative since
 * the store opened; {@code outboxBacklog} and {@code breaker} are the state at the snapshot.
 *
 * @param lookups         rows (entities) asked about
 * @param l1Hits          rows answered from L1
 * @param l2Hits          rows answered from L2
 * @param l3Hits          rows answered from L3
 * @param bloomSkips      rows answered with the defaults because the Bloom filter ruled the entity out
 * @param misses          rows answered with the defaults after the tiers asked had nothing
 * @param degradedLookups lookup calls answered with {@link Lookup#degraded()} set
 * @param eventsRecorded  events applied
 * @param remoteFailures  remote calls that failed or timed out
 * @param outboxBacklog   entities waiting for write-behind to the remote tier
 * @param drained         entity states written behind to the remote tier
 * @param breaker         the remote tier's breaker, or {@link BreakerState#NONE} without one
 */
public record FeatureStoreStats(long lookups, long l1Hits, long l2Hits, long l3Hits, long bloomSkips,
                                long misses, long degradedLookups, long eventsRecorded, long remoteFailures,
                                long outboxBacklog, long drained, BreakerState breaker) {

    /** The state of a remote tier's circuit breaker. */
    public enum BreakerState {
        /** Calls go through. */
        CLOSED,
        /** Calls are skipped after consecutive failures; lookups are degraded. */
        OPEN,
        /** One probe call is deciding whether to close again. */
        HALF_OPEN,
        /** There is no remote tier. */
        NONE
    }
}
