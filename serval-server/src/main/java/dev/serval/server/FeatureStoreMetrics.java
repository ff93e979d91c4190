package dev.serval.server;

import dev.serval.features.FeatureStoreStats;
import dev.serval.features.FeatureStoreStats.BreakerState;
import dev.serval.metrics.ServalMetrics;
import java.util.function.Supplier;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;

/**
 * The feature store's metrics on {@code /metrics}, read from its counters
 * ({@link FeatureStoreStats}) at each scrape, so the store's hot paths carry no metrics code:
 *
 * <pre>
 * serval_feature_lookup_rows_total{outcome}      rows (entities) looked up, by what answered them:
 *                                                l1_hit, l2_hit, l3_hit; bloom_skip and miss got the
 *                                                defaults (an entity never seen)
 * serval_feature_degraded_lookups_total          lookups answered degraded (L3 down, slow or behind)
 * serval_feature_events_applied_total            events applied to the aggregates
 * serval_feature_remote_failures_total           L3 calls that failed or timed out
 * serval_feature_write_behind_backlog            entities waiting to be written behind to L3
 * serval_feature_write_behind_drained_total      entity states written behind to L3
 * serval_feature_breaker_state{state}            1 for the L3 breaker's current state (closed, open,
 *                                                half_open), 0 for the others; absent without an L3
 * </pre>
 */
final class FeatureStoreMetrics {

    private FeatureStoreMetrics() {
    }

    /** Registers the metrics above in {@code metrics}; {@code stats} is called at each scrape (thread-safe). */
    static void register(ServalMetrics metrics, Supplier<FeatureStoreStats> stats) {
        metrics.register(CounterWithCallback.builder().name("serval_feature_lookup_rows_total")
                .help("Feature rows (entities) looked up, by what answered: l1_hit, l2_hit, l3_hit, "
                        + "or the defaults after bloom_skip or miss")
                .labelNames("outcome")
                .callback(callback -> {
                    FeatureStoreStats s = stats.get();
                    callback.call(s.l1Hits(), "l1_hit");
                    callback.call(s.l2Hits(), "l2_hit");
                    callback.call(s.l3Hits(), "l3_hit");
                    callback.call(s.bloomSkips(), "bloom_skip");
                    callback.call(s.misses(), "miss");
                }).build());
        metrics.register(CounterWithCallback.builder().name("serval_feature_degraded_lookups_total")
                .help("Feature lookups answered degraded: the L3 was down, slow or behind")
                .callback(callback -> callback.call(stats.get().degradedLookups())).build());
        metrics.register(CounterWithCallback.builder().name("serval_feature_events_applied_total")
                .help("Events applied to the feature aggregates")
                .callback(callback -> callback.call(stats.get().eventsRecorded())).build());
        metrics.register(CounterWithCallback.builder().name("serval_feature_remote_failures_total")
                .help("Calls to the L3 tier that failed or timed out")
                .callback(callback -> callback.call(stats.get().remoteFailures())).build());
        metrics.register(GaugeWithCallback.builder().name("serval_feature_write_behind_backlog")
                .help("Entities whose latest state waits to be written behind to the L3 tier")
                .callback(callback -> callback.call(stats.get().outboxBacklog())).build());
        metrics.register(CounterWithCallback.builder().name("serval_feature_write_behind_drained_total")
                .help("Entity states written behind to the L3 tier")
                .callback(callback -> callback.call(stats.get().drained())).build());
        metrics.register(GaugeWithCallback.builder().name("serval_feature_breaker_state")
                .help("The L3 tier's circuit breaker: 1 for its current state, 0 for the others")
                .labelNames("state")
                .callback(callback -> {
                    BreakerState now = stats.get().breaker();
                    if (now == BreakerState.NONE) {
                        return;
                    }
                    for (BreakerState state : BreakerState.values()) {
                        if (state != BreakerState.NONE) {
                            callback.call(state == now ? 1 : 0, state.name().toLowerCase(java.util.Locale.ROOT));
                        }
                    }
                }).build());
    }
}
