package dev.serval.server;

import dev.serval.features.Event;
import dev.serval.features.FeatureStore;
import dev.serval.features.FeatureStoreException;
import dev.serval.features.FeatureStoreStats;
import dev.serval.features.Lookup;
import dev.serval.features.TieredFeatureStore;
import java.util.List;
import java.util.function.Supplier;

/**
 * A feature store opened on its first lookup or recording, for a server none of whose models looks
 * features up when it starts.
 *
 * <p>Design note: the embedded store (RocksDB's library, its threads and memtable, L1) costs a
 * server 15-20 MB of resident memory (BENCHMARKS.md, issue 5), which a server of plain models pays
 * for nothing. Opening it when the first event arrives, or when a pipeline model loaded later first
 * looks features up, keeps that memory for the servers that use it. The price is where an opening
 * failure shows: in that first call (a {@link FeatureStoreException}, which the transports answer
 * 503 with its reason; nothing is recorded and a later call tries again), not at start. So
 * {@code serve} opens the store at start, as before, whenever its repository holds a pipeline model.
 *
 * <p>Thread-safe.
 */
public final class LazyFeatureStore implements FeatureStore {
    private static final FeatureStoreStats UNOPENED = new FeatureStoreStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            FeatureStoreStats.BreakerState.NONE);

    private final Supplier<TieredFeatureStore> opener;
    private volatile TieredFeatureStore store;
    private boolean closed; // guarded by this

    /** @param opener opens the store; it may throw, and is called again on the next use if it does */
    public LazyFeatureStore(Supplier<TieredFeatureStore> opener) {
        this.opener = opener;
    }

    /**
     * The store, opened now if it was not yet.
     *
     * @throws FeatureStoreException when it cannot be opened (the cause says why)
     * @throws IllegalStateException after {@link #close}
     */
    public TieredFeatureStore open() {
        TieredFeatureStore opened = store;
        if (opened != null) {
            return opened;
        }
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("the feature store is closed");
            }
            if (store == null) {
                try {
                    store = opener.get();
                } catch (FeatureStoreException e) {
                    throw e;
                } catch (RuntimeException e) {
                    throw new FeatureStoreException("the feature store could not be opened: " + e.getMessage(), e);
                }
            }
            return store;
        }
    }

    /** Whether the store has been opened. */
    public boolean isOpen() {
        return store != null;
    }

    /** The store's counters, all zero until it opens. */
    public FeatureStoreStats stats() {
        TieredFeatureStore opened = store;
        return opened == null ? UNOPENED : opened.stats();
    }

    @Override
    public Lookup lookup(List<String> entities, long[] atMillis) {
        return open().lookup(entities, atMillis);
    }

    @Override
    public void record(List<Event> events) {
        open().record(events);
    }

    /** Closes the store if it was opened; it is never opened afterwards. */
    @Override
    public synchronized void close() {
        closed = true;
        if (store != null) {
            store.close();
        }
    }
}
