package dev.serval.features;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write-behind drainer: one named platform thread that sends the states of entities marked in
 * L2's outbox to the remote tier, in batches, and clears the marks once the tier has them.
 *
 * <p><b>Design.</b> The outbox is in RocksDB, so what an earlier process left is drained by the next
 * one on the same directory. Each round reads up to {@code batch} marks, reads those entities'
 * current states from L2 (at least as new as the marks, since a state and its mark are written
 * together), sends them in one {@code putAll}, and then, under the entities' locks, clears each mark
 * whose sequence number is still the one it read: an entity recorded again meanwhile keeps its newer
 * mark and goes out in a later round. A failed round leaves every mark; replaying it is harmless
 * because remote writes are whole-value overwrites.
 *
 * <p><b>Unsynced bases.</b> A state that began locally while the remote tier could not be asked
 * ({@link EntityState#unsyncedBase}) would, written as is, overwrite the entity's remote history. Before
 * sending one, the drainer reads the remote value and merges it in (under the entity's lock, writing
 * the merged state back to L2 and L1); if that read fails, the round waits.
 *
 * <p><b>Pacing.</b> The thread sleeps {@code interval} between rounds, or less when a record wakes it
 * because a full batch is waiting. While the breaker is open each round fails at once without a
 * remote call, and the breaker's half-open probe is the first round after its open period (or a
 * lookup's remote read, which then wakes the drainer); a success closes it and the backlog drains
 * batch after batch without sleeping.
 */
final class WriteBehind implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WriteBehind.class);

    /**
     * While the backlog counter reads zero, the drainer reads the outbox only every this many rounds.
     * Reading an emptied outbox is not free: RocksDB steps over the deleted marks until they are
     * compacted away, and a tiered store with Redis spent 40% of a core doing that while idle after
     * an ingest. The counter is kept exact (marks added under the entity's lock, cleared by this
     * thread); the rare read is a safety net that bounds how late a mark it missed would drain.
     */
    static final int SAFETY_ROUNDS = 50;

    private final DiskTier disk;
    private final MemoryTier memory;
    private final RemoteCalls remote;
    private final EntityLocks locks;
    private final int batch;
    private final long intervalNanos;
    private final AtomicLong backlog;
    private final LongAdder drained = new LongAdder();
    private final Thread thread;
    private volatile boolean stopped;
    private String cursor;

    WriteBehind(DiskTier disk, MemoryTier memory, RemoteCalls remote, EntityLocks locks, int batch,
                long intervalNanos, long backlog) {
        this.disk = disk;
        this.memory = memory;
        this.remote = remote;
        this.locks = locks;
        this.batch = batch;
        this.intervalNanos = intervalNanos;
        this.backlog = new AtomicLong(backlog);
        this.thread = FeatureThreads.platform("serval-features-drain").newThread(this::run);
    }

    void start() {
        thread.start();
    }

    /** Counts marks added by a record; wakes the drainer once a full batch waits. */
    void queued(int added) {
        if (backlog.addAndGet(added) >= batch) {
            LockSupport.unpark(thread);
        }
    }

    /** Starts a round now (e.g. the remote tier is back). */
    void wake() {
        LockSupport.unpark(thread);
    }

    long backlog() {
        return backlog.get();
    }

    long drained() {
        return drained.sum();
    }

    private void run() {
        int idleRounds = 0;
        while (!stopped) {
            boolean full;
            try {
                // While the breaker is open a round could only fail: skip it without reading the outbox.
                // With no backlog counted, skip reading it too, but for one round in SAFETY_ROUNDS.
                boolean idle = backlog.get() <= 0 && ++idleRounds % SAFETY_ROUNDS != 0;
                full = !idle && !remote.breaker().refusing() && drainOnce();
            } catch (RemoteTierException e) {
                full = false;
            } catch (RuntimeException e) {
                LOG.warn("write-behind to the {} tier failed a round", remote.name(), e);
                full = false;
            }
            if (!full && !stopped) {
                LockSupport.parkNanos(this, intervalNanos);
            }
        }
    }

    /**
     * One round; true when it drained a full batch (so more may wait).
     *
     * @throws RemoteTierException when the remote tier was skipped or failed (every mark stays)
     */
    boolean drainOnce() {
        List<DiskTier.Queued> queued = disk.queued(cursor, batch);
        if (queued.isEmpty()) {
            return false;
        }
        List<String> entities = new ArrayList<>(queued.size());
        for (DiskTier.Queued q : queued) {
            entities.add(q.entity());
        }
        List<byte[]> states = new ArrayList<>(disk.getAll(entities));
        resolveBases(entities, states);
        Map<String, byte[]> entries = new LinkedHashMap<>();
        for (int i = 0; i < entities.size(); i++) {
            if (states.get(i) != null) {
                entries.put(entities.get(i), states.get(i));
            }
        }
        if (!entries.isEmpty()) {
            remote.putAll(entries);
        }
        List<String> cleared;
        List<Lock> held = locks.lockAll(entities);
        try {
            // a record queued before we took the locks may carry a newer mark: let it land first
            disk.awaitWritten(locks.lastQueued(entities));
            cleared = disk.clearOutbox(queued);
            if (memory != null) {
                for (String entity : cleared) {
                    EntityState state = memory.get(entity);
                    if (state != null) {
                        state.outbox = EntityState.OUTBOX_CLEAR;
                    }
                }
            }
        } finally {
            EntityLocks.unlockAll(held);
        }
        drained.add(entries.size());
        backlog.addAndGet(-cleared.size());
        cursor = entities.get(entities.size() - 1);
        return queued.size() == batch;
    }

    /** Merges the remote value into every state of the round that began without it; replaces them in {@code states}. */
    private void resolveBases(List<String> entities, List<byte[]> states) {
        List<String> unsynced = new ArrayList<>();
        for (int i = 0; i < entities.size(); i++) {
            byte[] state = states.get(i);
            if (state != null && StateCodec.isUnsyncedBase(state)) {
                unsynced.add(entities.get(i));
            }
        }
        if (unsynced.isEmpty()) {
            return;
        }
        List<byte[]> bases = remote.getAll(unsynced);
        if (bases == null) {
            throw new RemoteTierException("cannot read the " + remote.name() + " tier to merge "
                    + unsynced.size() + " unsynced states", null);
        }
        List<Lock> held = locks.lockAll(unsynced);
        try (DiskTier.Batch write = disk.batch()) {
            disk.awaitWritten(locks.lastQueued(unsynced));
            for (int i = 0; i < unsynced.size(); i++) {
                String entity = unsynced.get(i);
                byte[] current = disk.get(entity);
                EntityState state = StateCodec.decode(current, "entity '" + entity + "' in L2");
                if (state.unsyncedBase) {
                    byte[] base = bases.get(i);
                    if (base != null) {
                        EntityState merged = StateCodec.decode(base, "entity '" + entity + "' from " + remote.name());
                        merged.merge(state);
                        state = merged;
                    }
                    state.unsyncedBase = false;
                    current = StateCodec.encode(state);
                    write.putState(entity, current);
                    if (memory != null) {
                        memory.put(entity, state);
                    }
                }
                states.set(entities.indexOf(entity), current);
            }
            write.commit();
        } finally {
            EntityLocks.unlockAll(held);
        }
    }

    /** Stops the thread and waits for its round in flight (bounded by the remote write timeout). */
    @Override
    public void close() {
        stopped = true;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("the write-behind drainer did not stop within 30 s");
        }
    }
}
