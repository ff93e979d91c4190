package dev.serval.testing;

import dev.serval.features.Event;
import dev.serval.features.FeatureStore;
import dev.serval.features.FeatureStoreException;
import dev.serval.features.Lookup;
import java.util.ArrayList;
import java.util.List;

/**
 * A feature store for transport tests: keeps every recorded batch in memory, in order, and can be
 * told to fail the next batches as a broken local tier would. Lookups answer the defaults (zeros).
 * Thread-safe; the tests check after each request what it holds.
 */
public final class RecordingFeatureStore implements FeatureStore {
    private final List<List<Event>> batches = new ArrayList<>();
    private String failure;
    private boolean closed;

    /** Every event recorded, batch after batch. */
    public synchronized List<Event> events() {
        return batches.stream().flatMap(List::stream).toList();
    }

    /** The batches recorded, each as it was handed over. */
    public synchronized List<List<Event>> batches() {
        return List.copyOf(batches);
    }

    /** From now on, {@link #record} throws {@link FeatureStoreException} with this message; null to heal. */
    public synchronized void failWith(String message) {
        failure = message;
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public synchronized void record(List<Event> events) {
        if (closed) {
            throw new IllegalStateException("the store is closed");
        }
        if (failure != null) {
            throw new FeatureStoreException(failure);
        }
        batches.add(List.copyOf(events));
    }

    @Override
    public synchronized Lookup lookup(List<String> entities, long[] atMillis) {
        return new Lookup(new float[entities.size() * Lookup.WIDTH], entities.size(), false);
    }

    @Override
    public synchronized void close() {
        closed = true;
    }
}
