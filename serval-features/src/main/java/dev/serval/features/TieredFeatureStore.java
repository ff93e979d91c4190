package dev.serval.features;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The {@link FeatureStore}: L1 (in process), L2 (RocksDB) and an optional remote L3, composed by a
 * {@link FeatureStoreConfig}.
 *
 * <p><b>Reads</b> go L1, then L2, then L3, each tier asked only for the entities the one above did not
 * have; what a lower tier returns is promoted into the tiers above it. The L1 Bloom filter answers
 * "never seen" without touching L2 (and L3 when {@link FeatureStoreConfig#bloomSkipsRemote()}). A
 * remote read waits at most the read timeout and goes through the tier's circuit breaker. L1 and L2
 * have no timeout: they are in-process calls (a RocksDB read from its block cache or an SST file), and
 * a JNI call cannot be interrupted, so handing it to another thread to time it would cost more than
 * the read.
 *
 * <p><b>Writes</b> ({@link #record}) with L2: the batch's entities are locked together, their states
 * updated, and the new states with their outbox marks written in one RocksDB batch before the call
 * returns; the remote tier gets them later from the write-behind drainer ({@link WriteBehind}). An
 * entity the store does not hold locally is first read from the remote tier (outside the locks); if
 * that read fails, its new state is marked an unsynced base and merged with the remote value before
 * it is ever written there, so a remote history is never overwritten by a partial one. Without L2
 * (remote only, with or without L1) recording writes through to the remote tier synchronously and
 * fails with {@link FeatureStoreException} when it cannot.
 *
 * <p><b>Degraded.</b> A lookup is degraded while the remote tier's breaker is not closed (the local
 * tiers may lack what other nodes wrote, and write-behind is behind), when a remote read it needed
 * failed, or when a row's state still awaits its remote base.
 *
 * <p><b>Consistency.</b> L3 values are whole-state overwrites: an entity should be recorded by one
 * node at a time (route events by entity). The remote tier is then where a node restarting on an
 * empty disk, or taking over entities, finds their history.
 *
 * <p>Thread-safe. {@link #close} waits for calls in flight; calls after it throw {@link IllegalStateException}.
 */
public final class TieredFeatureStore implements FeatureStore {

    /** A base the remote tier could not be asked for (compared by identity). */
    private static final byte[] UNREAD = new byte[0];

    private final FeatureStoreConfig config;
    private final MemoryTier memory;
    private final DiskTier disk;
    private final RemoteCalls remote;
    private final WriteBehind writeBehind;
    private final EntityLocks locks = new EntityLocks();
    /** Read-held by every call, write-held by close, so native handles never close under a call. */
    private final ReentrantReadWriteLock open = new ReentrantReadWriteLock();
    private boolean closed;
    private long sequence;

    private final LongAdder lookups = new LongAdder();
    private final LongAdder l1Hits = new LongAdder();
    private final LongAdder l2Hits = new LongAdder();
    private final LongAdder l3Hits = new LongAdder();
    private final LongAdder bloomSkips = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder degradedLookups = new LongAdder();
    private final LongAdder eventsRecorded = new LongAdder();

    private TieredFeatureStore(FeatureStoreConfig config, MemoryTier memory, DiskTier disk, RemoteCalls remote) {
        this.config = config;
        this.memory = memory;
        this.disk = disk;
        this.remote = remote;
        if (disk != null && remote != null) {
            long[] extent = disk.outboxExtent();
            this.sequence = extent[1];
            this.writeBehind = new WriteBehind(disk, memory, remote, locks, config.writeBehindBatch(),
                    config.drainInterval().toNanos(), extent[0]);
        } else {
            this.writeBehind = null;
        }
    }

    /**
     * Opens the tiers the config names: creates or reopens L2 (filling the Bloom filter from its keys)
     * and starts the write-behind drainer, which first drains what an earlier store on the same
     * directory left.
     *
     * @throws FeatureStoreException when L2 cannot be opened (the message names the directory); the
     *                               remote tier is closed then too
     */
    public static TieredFeatureStore open(FeatureStoreConfig config) {
        DiskTier disk = null;
        RemoteCalls remote = null;
        try {
            disk = config.l2Path() == null ? null : DiskTier.open(config.l2Path(), config.l2Sync());
            MemoryTier memory = config.l1Enabled()
                    ? new MemoryTier(config.l1MaxEntities(), config.bloomExpectedEntities(), config.bloomFalsePositiveRate())
                    : null;
            if (memory != null && disk != null) {
                disk.forEachEntity(memory::markSeen);
            }
            if (config.remote() != null) {
                CircuitBreaker breaker = new CircuitBreaker(config.breakerFailures(),
                        config.breakerOpenFor().toNanos(), config.ticker());
                remote = new RemoteCalls(config.remote(), breaker, config.remoteReadTimeout(),
                        config.remoteWriteTimeout(), config.remoteThreads());
            }
            TieredFeatureStore store = new TieredFeatureStore(config, memory, disk, remote);
            if (store.writeBehind != null) {
                remote.onRecovery(store.writeBehind::wake);
                store.writeBehind.start();
            }
            return store;
        } catch (RuntimeException e) {
            if (remote != null) {
                remote.close();
            } else if (config.remote() != null) {
                config.remote().close();
            }
            if (disk != null) {
                disk.close();
            }
            throw e;
        }
    }

    @Override
    public Lookup lookup(List<String> entities, long[] atMillis) {
        if (entities.size() != atMillis.length) {
            throw new IllegalArgumentException(entities.size() + " entities but " + atMillis.length + " times");
        }
        for (int i = 0; i < entities.size(); i++) {
            if (entities.get(i) == null) {
                throw new IllegalArgumentException("entities[" + i + "] is null");
            }
        }
        Lock shared = enter();
        try {
            int rows = entities.size();
            float[] values = new float[rows * Lookup.WIDTH];
            LookupRows read = new LookupRows(entities, atMillis, values);
            lookups.add(rows);
            for (int row = 0; row < rows; row++) {
                readLocal(read, row);
            }
            if (read.l2Rows != null) {
                readDisk(read);
            }
            if (read.l3Rows != null) {
                readRemote(read);
            }
            boolean degraded = read.degraded
                    || (remote != null && remote.breaker().state() != FeatureStoreStats.BreakerState.CLOSED);
            if (degraded) {
                degradedLookups.increment();
            }
            return new Lookup(values, rows, degraded);
        } finally {
            shared.unlock();
        }
    }

    /** L1, or the Bloom filter's "never seen"; otherwise hands the row down. */
    private void readLocal(LookupRows read, int row) {
        String entity = read.entities.get(row);
        boolean neverSeen = false;
        if (memory != null) {
            Lock lock = locks.lock(entity);
            try {
                EntityState state = memory.get(entity);
                if (state != null) {
                    read.answer(row, state);
                    l1Hits.increment();
                    return;
                }
            } finally {
                lock.unlock();
            }
            neverSeen = disk != null && !memory.mightHaveSeen(entity);
        }
        if (neverSeen && (remote == null || config.bloomSkipsRemote())) {
            EntityState.defaults(read.values, row * Lookup.WIDTH);
            bloomSkips.increment();
        } else if (disk != null && !neverSeen) {
            read.toL2(row);
        } else if (remote != null) {
            read.toL3(row);
        } else {
            EntityState.defaults(read.values, row * Lookup.WIDTH);
            misses.increment();
        }
    }

    /** L2 for the rows L1 lacked, under their locks so a promotion cannot overwrite a newer L1 state. */
    private void readDisk(LookupRows read) {
        List<String> keys = new ArrayList<>(read.l2Count);
        for (int i = 0; i < read.l2Count; i++) {
            keys.add(read.entities.get(read.l2Rows[i]));
        }
        List<Lock> held = locks.lockAll(keys);
        try {
            awaitQueued(keys);
            List<byte[]> found = disk.getAll(keys);
            for (int i = 0; i < keys.size(); i++) {
                int row = read.l2Rows[i];
                String entity = keys.get(i);
                EntityState state = memory == null ? null : memory.get(entity);
                if (state == null && found.get(i) != null) {
                    state = StateCodec.decode(found.get(i), "entity '" + entity + "' in L2");
                    if (memory != null) {
                        memory.put(entity, state);
                    }
                }
                if (state != null) {
                    read.answer(row, state);
                    l2Hits.increment();
                } else if (remote != null && !config.bloomSkipsRemote()) {
                    read.toL3(row);
                } else {
                    EntityState.defaults(read.values, row * Lookup.WIDTH);
                    misses.increment();
                }
            }
        } finally {
            EntityLocks.unlockAll(held);
        }
    }

    /** L3 for the rows no local tier had; promotes what it finds into L2 and L1. */
    private void readRemote(LookupRows read) {
        List<String> keys = new ArrayList<>(read.l3Count);
        for (int i = 0; i < read.l3Count; i++) {
            keys.add(read.entities.get(read.l3Rows[i]));
        }
        List<byte[]> found = remote.getAll(keys);
        if (found == null) {
            read.degraded = true;
            for (int i = 0; i < read.l3Count; i++) {
                EntityState.defaults(read.values, read.l3Rows[i] * Lookup.WIDTH);
            }
            return;
        }
        if (memory == null && disk == null) {
            for (int i = 0; i < keys.size(); i++) {
                answerRemote(read, read.l3Rows[i], keys.get(i), found.get(i));
            }
            return;
        }
        List<Lock> held = locks.lockAll(keys);
        int promoted = 0;
        try (DiskTier.Batch promote = disk == null ? null : disk.batch()) {
            if (disk != null) {
                awaitQueued(keys);
            }
            for (int i = 0; i < keys.size(); i++) {
                int row = read.l3Rows[i];
                String entity = keys.get(i);
                EntityState local = localState(entity);
                if (local != null) {
                    // Recorded here since this lookup missed locally: the local state is the newer one.
                    read.answer(row, local);
                    l2Hits.increment();
                } else if (found.get(i) != null) {
                    EntityState state = answerRemote(read, row, entity, found.get(i));
                    if (promote != null) {
                        promote.putState(entity, found.get(i));
                        promoted++;
                    }
                    if (memory != null) {
                        memory.put(entity, state);
                    }
                } else {
                    answerRemote(read, row, entity, null);
                }
            }
            if (promoted > 0) {
                promote.commit();
            }
        } finally {
            EntityLocks.unlockAll(held);
        }
    }

    private EntityState answerRemote(LookupRows read, int row, String entity, byte[] value) {
        if (value == null) {
            EntityState.defaults(read.values, row * Lookup.WIDTH);
            misses.increment();
            return null;
        }
        EntityState state = StateCodec.decode(value, "entity '" + entity + "' from " + remote.name());
        read.answer(row, state);
        l3Hits.increment();
        return state;
    }

    /** The entity's state in L1 or L2, or null; the caller holds its lock. */
    private EntityState localState(String entity) {
        EntityState state = memory == null ? null : memory.get(entity);
        if (state == null && disk != null) {
            byte[] bytes = disk.get(entity);
            if (bytes != null) {
                state = StateCodec.decode(bytes, "entity '" + entity + "' in L2");
            }
        }
        return state;
    }

    @Override
    public void record(List<Event> events) {
        if (events.isEmpty()) {
            return;
        }
        Lock shared = enter();
        try {
            Map<String, EntityState> states = new LinkedHashMap<>();
            for (Event event : events) {
                states.putIfAbsent(event.entity(), null);
            }
            if (disk != null) {
                recordLocally(events, states);
            } else {
                WriteThrough.record(locks, memory, remote, events, states);
            }
            eventsRecorded.add(events.size());
        } finally {
            shared.unlock();
        }
    }

    /**
     * With L2: states and outbox marks in one RocksDB batch; the remote tier later, by write-behind.
     *
     * <p>The ingest path, so its costs are per entity, not per event: each entity of the batch is
     * looked up once, updated with all its events, encoded once and written once (with its outbox
     * mark) into the call's single {@link org.rocksdb.WriteBatch}. A state found in L1 stays there as
     * is (the same object, changed in place under its lock), so it is not put back; whether an entity
     * is already queued for write-behind is known from L1 ({@link EntityState#outbox}) and asked of
     * L2, in one multi-get, only for the entities L1 did not hold.
     *
     * <p>The batch is queued for L2 under the entities' locks and written after they are released
     * ({@link DiskTier.Batch#enqueue}): recording threads do not wait for each other's RocksDB writes
     * unless they need them (an entity read from L2 waits for its queued write first,
     * {@link #awaitQueued}). The call returns only once its batch is in RocksDB (WAL included). A
     * concurrent lookup may see the new state in L1 while the batch is still being written.
     */
    private void recordLocally(List<Event> events, Map<String, EntityState> states) {
        Map<String, byte[]> bases = remote == null ? Map.of() : prefetchBases(states.keySet());
        int queued = 0;
        long ticket;
        try (DiskTier.Batch batch = disk.batch()) {
            List<Lock> held = locks.lockAll(states.keySet());
            try {
                List<String> notInL1 = new ArrayList<>();
                List<String> inL2 = new ArrayList<>();
                for (Map.Entry<String, EntityState> entry : states.entrySet()) {
                    String entity = entry.getKey();
                    EntityState state = memory == null ? null : memory.get(entity);
                    if (state == null) {
                        notInL1.add(entity);
                        if (memory != null && !memory.mightHaveSeen(entity)) {
                            // never recorded nor promoted here, so neither in L2 nor queued for it
                            state = startState(entity, bases);
                            state.outbox = EntityState.OUTBOX_CLEAR;
                        } else {
                            inL2.add(entity);
                        }
                    }
                    entry.setValue(state);
                }
                List<String> unknownOutbox = null;
                if (!inL2.isEmpty()) {
                    awaitQueued(inL2);
                    List<byte[]> stored = disk.getAll(inL2);
                    for (int i = 0; i < inL2.size(); i++) {
                        String entity = inL2.get(i);
                        EntityState state;
                        if (stored.get(i) != null) {
                            state = StateCodec.decode(stored.get(i), "entity '" + entity + "' in L2");
                        } else {
                            state = startState(entity, bases);
                            state.outbox = EntityState.OUTBOX_CLEAR; // no state in L2, so no mark either
                        }
                        states.put(entity, state);
                    }
                }
                if (remote != null) {
                    for (Map.Entry<String, EntityState> entry : states.entrySet()) {
                        if (entry.getValue().outbox == EntityState.OUTBOX_UNKNOWN) {
                            if (unknownOutbox == null) {
                                unknownOutbox = new ArrayList<>();
                            }
                            unknownOutbox.add(entry.getKey());
                        }
                    }
                }
                if (unknownOutbox != null) {
                    awaitQueued(unknownOutbox);
                    boolean[] marked = disk.areQueued(unknownOutbox);
                    for (int i = 0; i < marked.length; i++) {
                        states.get(unknownOutbox.get(i)).outbox = marked[i] ? EntityState.OUTBOX_QUEUED : EntityState.OUTBOX_CLEAR;
                    }
                }
                for (Event event : events) {
                    states.get(event.entity()).add(event);
                }
                long mark = remote == null ? 0 : nextSequence();
                // In key order (String order: RocksDB's bytewise order for ASCII keys, close enough
                // otherwise): each memtable insert then searches near the last one, so its skip list
                // path is in the CPU cache (about 10-15% less CPU per event, BENCHMARKS.md).
                String[] sorted = states.keySet().toArray(new String[0]);
                Arrays.sort(sorted);
                for (String entity : sorted) {
                    batch.putState(entity, StateCodec.encode(states.get(entity)));
                    if (remote != null) {
                        batch.queue(entity, mark);
                    }
                }
                ticket = batch.enqueue();
                for (String entity : sorted) {
                    locks.queuedUnder(entity, ticket);
                }
                if (remote != null) {
                    for (EntityState state : states.values()) {
                        if (state.outbox != EntityState.OUTBOX_QUEUED) {
                            queued++;
                            state.outbox = EntityState.OUTBOX_QUEUED;
                        }
                    }
                }
                if (memory != null) {
                    for (String entity : notInL1) {
                        memory.put(entity, states.get(entity));
                    }
                }
            } catch (RuntimeException e) {
                forget(states);
                throw e;
            } finally {
                EntityLocks.unlockAll(held);
            }
            try {
                disk.awaitWritten(ticket);
            } catch (RuntimeException e) {
                forget(states);
                throw e;
            }
        }
        if (writeBehind != null && queued > 0) {
            writeBehind.queued(queued);
        }
    }

    /**
     * Waits until every L2 write queued for {@code entities} is written, so an L2 read of them sees
     * it; the caller holds their locks (so no newer one can be queued meanwhile).
     */
    private void awaitQueued(Iterable<String> entities) {
        disk.awaitWritten(locks.lastQueued(entities));
    }

    /**
     * The remote values of the entities not held locally, read before taking the locks so a slow
     * remote tier does not hold them: null where the tier has none, {@link #UNREAD} where it could not
     * be asked. Entities held locally, or ruled out by the Bloom filter alone, are not in the map.
     */
    private Map<String, byte[]> prefetchBases(Iterable<String> entities) {
        List<String> unknown = new ArrayList<>();
        for (String entity : entities) {
            if (memory != null && memory.get(entity) != null) {
                continue;
            }
            boolean neverSeen = memory != null && !memory.mightHaveSeen(entity);
            if (neverSeen && config.bloomSkipsRemote()) {
                continue;
            }
            if (neverSeen || disk.get(entity) == null) {
                unknown.add(entity);
            }
        }
        if (unknown.isEmpty()) {
            return Map.of();
        }
        List<byte[]> found = remote.getAll(unknown);
        Map<String, byte[]> bases = new HashMap<>();
        for (int i = 0; i < unknown.size(); i++) {
            bases.put(unknown.get(i), found == null ? UNREAD : found.get(i));
        }
        return bases;
    }

    /**
     * A new local state for an entity no local tier holds: its remote value if read, else empty, and
     * then an unsynced base if the remote tier could not be asked.
     */
    private EntityState startState(String entity, Map<String, byte[]> bases) {
        byte[] base = bases.get(entity);
        if (base == UNREAD) {
            EntityState state = new EntityState();
            state.unsyncedBase = true;
            return state;
        }
        return base == null ? new EntityState()
                : StateCodec.decode(base, "entity '" + entity + "' from " + remote.name());
    }

    /** After a failed record: L1's states may hold its events, unacknowledged; the next read reloads them. */
    private void forget(Map<String, EntityState> states) {
        if (memory != null) {
            for (String entity : states.keySet()) {
                memory.invalidate(entity);
            }
        }
    }

    private synchronized long nextSequence() {
        return ++sequence;
    }

    /** The counters so far; cheap enough to call per metrics scrape. */
    public FeatureStoreStats stats() {
        return new FeatureStoreStats(lookups.sum(), l1Hits.sum(), l2Hits.sum(), l3Hits.sum(), bloomSkips.sum(),
                misses.sum(), degradedLookups.sum(), eventsRecorded.sum(),
                remote == null ? 0 : remote.failures(),
                writeBehind == null ? 0 : writeBehind.backlog(),
                writeBehind == null ? 0 : writeBehind.drained(),
                remote == null ? FeatureStoreStats.BreakerState.NONE : remote.breaker().state());
    }

    /** The configuration this store was opened with. */
    public FeatureStoreConfig config() {
        return config;
    }

    private Lock enter() {
        Lock shared = open.readLock();
        shared.lock();
        if (closed) {
            shared.unlock();
            throw new IllegalStateException("the feature store is closed");
        }
        return shared;
    }

    /**
     * Waits for calls in flight, stops the drainer (its marks stay in L2 for the next start), closes
     * the remote tier and L2. Idempotent.
     */
    @Override
    public void close() {
        Lock exclusive = open.writeLock();
        exclusive.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            if (writeBehind != null) {
                writeBehind.close();
            }
            if (remote != null) {
                remote.close();
            }
            if (disk != null) {
                disk.close();
            }
            if (memory != null) {
                memory.clear();
            }
        } finally {
            exclusive.unlock();
        }
    }
}
