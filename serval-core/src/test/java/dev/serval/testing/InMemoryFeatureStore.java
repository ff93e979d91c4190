package dev.serval.testing;

import dev.serval.features.Event;
import dev.serval.features.Feature;
import dev.serval.features.FeatureStore;
import dev.serval.features.FeatureStoreException;
import dev.serval.features.Lookup;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A feature store for tests that keeps every event and computes {@link Feature}s from them on
 * each lookup, by the definitions in Feature's Javadoc (and examples/fraud/transactions.py): a
 * window of W ms at time t holds the entity's events with {@code t - W < timestamp <= t};
 * seconds since the latest event at or before t, capped; totals over every recorded event.
 *
 * <p>It can be told to answer degraded, as the tiered store does when a remote tier is skipped,
 * or to fail as when a local tier fails, and counts its lookups. Thread-safe (synchronized); slow by design, small tests only.
 */
public final class InMemoryFeatureStore implements FeatureStore {
    private static final long MINUTE = 60_000;
    private static final long HOUR = 3_600_000;

    private final Map<String, List<Event>> events = new HashMap<>();
    private final AtomicInteger lookups = new AtomicInteger();
    private volatile boolean degraded;
    private volatile String failure;

    /** Lookups from now on report {@code degraded}. */
    public void degrade(boolean degraded) {
        this.degraded = degraded;
    }

    /** Lookups from now on throw {@link FeatureStoreException} with this message (null: they answer). */
    public void fail(String message) {
        this.failure = message;
    }

    /** Lookup calls so far (one per request when a pipeline batches its rows). */
    public int lookups() {
        return lookups.get();
    }

    @Override
    public synchronized Lookup lookup(List<String> entities, long[] atMillis) {
        lookups.incrementAndGet();
        if (failure != null) {
            throw new FeatureStoreException(failure);
        }
        float[] values = new float[entities.size() * Lookup.WIDTH];
        for (int row = 0; row < entities.size(); row++) {
            long at = atMillis[row];
            int count1m = 0;
            int count1h = 0;
            double sum1m = 0;
            double sum1h = 0;
            double sumTotal = 0;
            long last = Long.MIN_VALUE;
            Set<String> counterparties = new HashSet<>();
            List<Event> history = events.getOrDefault(entities.get(row), List.of());
            for (Event event : history) {
                long ts = event.timestampMillis();
                sumTotal += event.amount();
                if (ts > at) {
                    continue;
                }
                last = Math.max(last, ts);
                if (ts > at - MINUTE) {
                    count1m++;
                    sum1m += event.amount();
                }
                if (ts > at - HOUR) {
                    count1h++;
                    sum1h += event.amount();
                    counterparties.add(event.counterparty());
                }
            }
            int base = row * Lookup.WIDTH;
            values[base + Feature.COUNT_1M.ordinal()] = count1m;
            values[base + Feature.SUM_1M.ordinal()] = (float) sum1m;
            values[base + Feature.COUNT_1H.ordinal()] = count1h;
            values[base + Feature.SUM_1H.ordinal()] = (float) sum1h;
            values[base + Feature.DISTINCT_COUNTERPARTIES_1H.ordinal()] = counterparties.size();
            values[base + Feature.SECONDS_SINCE_LAST.ordinal()] = last == Long.MIN_VALUE ? Feature.SECONDS_CAP
                    : (float) Math.min(Feature.SECONDS_CAP, (at - last) / 1000.0);
            values[base + Feature.COUNT_TOTAL.ordinal()] = history.size();
            values[base + Feature.SUM_TOTAL.ordinal()] = (float) sumTotal;
        }
        return new Lookup(values, entities.size(), degraded);
    }

    @Override
    public synchronized void record(List<Event> batch) {
        for (Event event : batch) {
            events.computeIfAbsent(event.entity(), key -> new ArrayList<>()).add(event);
        }
    }

    @Override
    public void close() {
    }
}
