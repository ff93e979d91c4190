package dev.serval.features;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Per-entity mutual exclusion, striped: an entity's state is read and changed, and its outbox mark
 * set or cleared, only under its stripe's lock.
 *
 * <p>Each stripe also remembers the ticket of the last L2 write queued for its entities
 * ({@link #queuedUnder}, {@link #lastQueued}): a record queues its RocksDB batch and releases its
 * locks before the batch is written ({@link DiskTier#enqueue}), so whoever reads one of its entities
 * from L2 later first waits for that ticket ({@link DiskTier#awaitWritten}). Read and written only
 * under the stripe's lock.
 *
 * <p>Deadlock-free by construction: a thread holds either one stripe ({@link #lock}) or a set taken
 * in stripe order ({@link #lockAll}), never a second set or a set on top of a single one, and never
 * waits for a queued L2 write while it is the only one that could write it (the waiter writes it).
 */
final class EntityLocks {
    private static final int STRIPES = 1024;
    /**
     * Queued-write tickets are kept finer than the locks, so that an entity read from L2 rarely
     * waits for an unrelated write: slot {@code h & (SLOTS - 1)} lies in stripe {@code h & (STRIPES - 1)}
     * (the low bits are the same), so its stripe's lock guards it.
     */
    private static final int SLOTS = 1 << 16;
    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
    private final long[] queued = new long[SLOTS];

    EntityLocks() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    private static int hash(String entity) {
        int h = entity.hashCode();
        h ^= (h >>> 20) ^ (h >>> 12);
        return h ^ (h >>> 7) ^ (h >>> 4);
    }

    private static int stripe(String entity) {
        return hash(entity) & (STRIPES - 1);
    }

    private static int slot(String entity) {
        return hash(entity) & (SLOTS - 1);
    }

    /** The entity's lock, locked. */
    Lock lock(String entity) {
        Lock lock = stripes[stripe(entity)];
        lock.lock();
        return lock;
    }

    /** Locks every entity's stripe in a global order; release with {@link #unlockAll}. */
    List<Lock> lockAll(Iterable<String> entities) {
        int[] indices = new int[16];
        int count = 0;
        for (String entity : entities) {
            if (count == indices.length) {
                indices = Arrays.copyOf(indices, count * 2);
            }
            indices[count++] = stripe(entity);
        }
        Arrays.sort(indices, 0, count);
        List<Lock> held = new ArrayList<>(Math.min(count, STRIPES));
        try {
            for (int i = 0; i < count; i++) {
                if (i > 0 && indices[i] == indices[i - 1]) {
                    continue;
                }
                Lock lock = stripes[indices[i]];
                lock.lock();
                held.add(lock);
            }
        } catch (RuntimeException | Error e) {
            unlockAll(held);
            throw e;
        }
        return held;
    }

    static void unlockAll(List<Lock> held) {
        for (int i = held.size() - 1; i >= 0; i--) {
            held.get(i).unlock();
        }
    }

    /** Notes that an L2 write of {@code entity} was queued as {@code ticket}; the caller holds its lock. */
    void queuedUnder(String entity, long ticket) {
        int slot = slot(entity);
        queued[slot] = Math.max(queued[slot], ticket);
    }

    /**
     * The highest ticket of an L2 write queued for the entities or ones sharing their slots (0 if none); the caller
     * holds their locks, so no newer write of them can be queued meanwhile.
     */
    long lastQueued(Iterable<String> entities) {
        long last = 0;
        for (String entity : entities) {
            last = Math.max(last, queued[slot(entity)]);
        }
        return last;
    }
}
