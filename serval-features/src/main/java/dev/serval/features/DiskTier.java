package dev.serval.features;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * L2: RocksDB on local disk, with two column families.
 * <ul>
 *   <li>{@code states}: entity key (UTF-8) to its encoded state ({@link StateCodec});</li>
 *   <li>{@code outbox}: entity key to the sequence number of its latest unsent change, one entry per
 *       entity however often it changes, so the write-behind queue is bounded by the number of entities
 *       even while the remote tier is down for hours. The drainer sends the entity's <i>current</i>
 *       state, so nothing is lost by keeping only the latest mark, and deletes the mark only if no
 *       newer one replaced it meanwhile ({@link #clearOutbox}).</li>
 * </ul>
 * A state and its outbox mark are written in one {@link WriteBatch}: an acknowledged change is
 * either wholly in L2 and queued for the remote tier, or not at all. Durability is RocksDB's
 * write-ahead log: without {@code sync} a write survives a process crash (the OS has it) but not a
 * power loss; with {@code sync} every commit waits for an fsync.
 *
 * <p><b>Queued writes.</b> A record hands its batch over with {@link Batch#enqueue} while it holds its
 * entities' locks, releases them, and then {@linkplain #awaitWritten waits} for it: batches are
 * written in the order they were queued, each with its own {@code RocksDB.write} (so with the WAL,
 * as durable as a direct commit), by whichever waiting caller finds no write in progress, taking
 * everything queued so far. So the locks are not held across the RocksDB write: another record's
 * state updates and encoding run while this one's batch is written, and two records of the same
 * entity still reach L2 in the order they changed it. A write that fails fails every batch queued
 * with or after it, and every later {@link Batch#enqueue} (the store must be reopened: RocksDB itself
 * refuses writes after most write errors).
 *
 * <p>Thread-safe (RocksDB is). Closing while another thread is inside a call is the caller's to
 * prevent: the store closes this only after its own calls have stopped.
 */
final class DiskTier implements AutoCloseable {
    static {
        RocksDB.loadLibrary();
    }

    private final Path directory;
    private final DBOptions dbOptions;
    private final ColumnFamilyOptions stateOptions;
    private final ColumnFamilyOptions outboxOptions;
    private final LRUCache blockCache;
    private final org.rocksdb.Filter bloom;
    private final WriteOptions writeOptions;
    private final RocksDB db;
    private final ColumnFamilyHandle defaultFamily;
    private final ColumnFamilyHandle states;
    private final ColumnFamilyHandle outbox;

    private final ReentrantLock queueLock = new ReentrantLock();
    private final Condition written = queueLock.newCondition();
    /** Batches queued and not yet taken by a writer, in ticket order; guarded by queueLock. */
    private final ArrayDeque<WriteBatch> queue = new ArrayDeque<>();
    private long lastTicket;
    private long lastWritten;
    private boolean writing;
    private FeatureStoreException writeFailure;

    private DiskTier(Path directory, boolean sync) throws RocksDBException {
        this.directory = directory;
        this.dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
                .setMaxBackgroundJobs(2);
        this.blockCache = new LRUCache(64L << 20);
        this.bloom = new BloomFilter(10);
        this.stateOptions = new ColumnFamilyOptions().setTableFormatConfig(
                new BlockBasedTableConfig().setBlockCache(blockCache).setFilterPolicy(bloom));
        this.outboxOptions = new ColumnFamilyOptions();
        this.writeOptions = new WriteOptions().setSync(sync);
        List<ColumnFamilyDescriptor> descriptors = List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY),
                new ColumnFamilyDescriptor("states".getBytes(StandardCharsets.UTF_8), stateOptions),
                new ColumnFamilyDescriptor("outbox".getBytes(StandardCharsets.UTF_8), outboxOptions));
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        RocksDB opened;
        try {
            opened = RocksDB.open(dbOptions, directory.toString(), descriptors, handles);
        } catch (RocksDBException e) {
            closeOptions();
            throw e;
        }
        this.db = opened;
        this.defaultFamily = handles.get(0);
        this.states = handles.get(1);
        this.outbox = handles.get(2);
    }

    /**
     * Opens (creating if missing) the store in {@code directory}.
     *
     * @throws FeatureStoreException naming the directory when it cannot be created, is not a writable
     *                               directory, or RocksDB cannot open it (e.g. another process holds it)
     */
    static DiskTier open(Path directory, boolean sync) {
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new FeatureStoreException("the L2 (RocksDB) directory " + directory + " cannot be created: " + e, e);
        }
        if (!Files.isWritable(directory)) {
            throw new FeatureStoreException("the L2 (RocksDB) directory " + directory + " is not writable");
        }
        try {
            return new DiskTier(directory, sync);
        } catch (RocksDBException e) {
            throw new FeatureStoreException("cannot open the L2 (RocksDB) directory " + directory + ": "
                    + e.getMessage(), e);
        }
    }

    byte[] get(String entity) {
        try {
            return db.get(states, key(entity));
        } catch (RocksDBException e) {
            throw failed("read", e);
        }
    }

    /** The encoded states of {@code entities} (null where absent), in order. */
    List<byte[]> getAll(List<String> entities) {
        return multiGet(states, entities);
    }

    /** For each of {@code entities}, whether it has an outbox mark (one multi-get; exact, unlike keyMayExist). */
    boolean[] areQueued(List<String> entities) {
        List<byte[]> marks = multiGet(outbox, entities);
        boolean[] queued = new boolean[marks.size()];
        for (int i = 0; i < queued.length; i++) {
            queued[i] = marks.get(i) != null;
        }
        return queued;
    }

    private List<byte[]> multiGet(ColumnFamilyHandle family, List<String> entities) {
        List<ColumnFamilyHandle> families = new ArrayList<>(entities.size());
        List<byte[]> keys = new ArrayList<>(entities.size());
        for (String entity : entities) {
            families.add(family);
            keys.add(key(entity));
        }
        try {
            return db.multiGetAsList(families, keys);
        } catch (RocksDBException e) {
            throw failed("read", e);
        }
    }

    /** One atomic write of states and outbox marks; reusable after {@link #commit}. Not thread-safe. */
    final class Batch implements AutoCloseable {
        private final WriteBatch batch = new WriteBatch();

        void putState(String entity, byte[] state) {
            try {
                batch.put(states, key(entity), state);
            } catch (RocksDBException e) {
                throw failed("write", e);
            }
        }

        void queue(String entity, long sequence) {
            try {
                batch.put(outbox, key(entity), ByteBuffer.allocate(8).putLong(0, sequence).array());
            } catch (RocksDBException e) {
                throw failed("write", e);
            }
        }

        /**
         * Queues this batch for writing, behind every batch queued before; returns its ticket for
         * {@link #awaitWritten}. Close the batch only after that returned or threw.
         *
         * @throws FeatureStoreException when an earlier queued write failed
         */
        long enqueue() {
            queueLock.lock();
            try {
                if (writeFailure != null) {
                    throw new FeatureStoreException(writeFailure.getMessage(), writeFailure);
                }
                queue.add(batch);
                return ++lastTicket;
            } finally {
                queueLock.unlock();
            }
        }

        /** Writes this batch now; the caller holds the locks of its entities and has awaited their queued writes. */
        void commit() {
            try {
                db.write(writeOptions, batch);
                batch.clear();
            } catch (RocksDBException e) {
                throw failed("write", e);
            }
        }

        @Override
        public void close() {
            batch.close();
        }
    }

    Batch batch() {
        return new Batch();
    }

    /**
     * Returns once the queued batch {@code ticket} (and every one before it) is written, writing the
     * queue itself when no other caller is; at once for ticket 0.
     *
     * @throws FeatureStoreException when it, or one queued before it, failed
     */
    void awaitWritten(long ticket) {
        queueLock.lock();
        try {
            while (lastWritten < ticket) {
                if (writeFailure != null) {
                    throw new FeatureStoreException(writeFailure.getMessage(), writeFailure);
                }
                if (writing) {
                    written.awaitUninterruptibly();
                    continue;
                }
                writing = true;
                List<WriteBatch> taken = new ArrayList<>(queue);
                queue.clear();
                // the queue holds exactly the tickets after lastWritten, in order
                FeatureStoreException failure = null;
                int count = 0;
                boolean done = false;
                queueLock.unlock();
                try {
                    for (WriteBatch batch : taken) {
                        db.write(writeOptions, batch);
                        count++;
                    }
                    done = true;
                } catch (RocksDBException e) {
                    failure = failed("write", e);
                } finally {
                    queueLock.lock();
                    writing = false;
                    lastWritten += count;
                    if (!done) {
                        writeFailure = failure != null ? failure
                                : new FeatureStoreException("L2 (RocksDB at " + directory + ") failed to write");
                        queue.clear();
                    }
                    written.signalAll();
                }
            }
        } finally {
            queueLock.unlock();
        }
    }

    /** An entity waiting for write-behind, with the sequence number of its mark. */
    record Queued(String entity, long sequence) {
    }

    /**
     * Up to {@code max} outbox marks, starting after {@code after} (null: from the start) and wrapping
     * around, so an entity changed over and over cannot starve the ones after it.
     */
    List<Queued> queued(String after, int max) {
        List<Queued> result = new ArrayList<>(Math.min(max, 1024));
        try (RocksIterator it = db.newIterator(outbox)) {
            byte[] start = after == null ? null : key(after);
            if (start == null) {
                it.seekToFirst();
            } else {
                it.seek(start);
                if (it.isValid() && Arrays.equals(it.key(), start)) {
                    it.next();
                }
            }
            collect(it, result, max, null);
            if (start != null && result.size() < max) {
                it.seekToFirst();
                collect(it, result, max, start);
            }
        }
        return result;
    }

    private static void collect(RocksIterator it, List<Queued> into, int max, byte[] stopAt) {
        for (; it.isValid() && into.size() < max; it.next()) {
            byte[] key = it.key();
            if (stopAt != null && Arrays.compareUnsigned(key, stopAt) > 0) {
                return;
            }
            into.add(new Queued(new String(key, StandardCharsets.UTF_8), ByteBuffer.wrap(it.value()).getLong()));
        }
    }

    /**
     * Deletes the marks of {@code drained} whose sequence number is still the one drained; returns
     * the entities whose marks it deleted. The caller holds the entities' locks, so no record can
     * queue in between.
     */
    List<String> clearOutbox(List<Queued> drained) {
        List<String> entities = new ArrayList<>(drained.size());
        for (Queued queued : drained) {
            entities.add(queued.entity());
        }
        List<byte[]> marks = multiGet(outbox, entities);
        List<String> cleared = new ArrayList<>(drained.size());
        try (WriteBatch batch = new WriteBatch()) {
            for (int i = 0; i < drained.size(); i++) {
                byte[] value = marks.get(i);
                if (value != null && ByteBuffer.wrap(value).getLong() == drained.get(i).sequence()) {
                    batch.delete(outbox, key(entities.get(i)));
                    cleared.add(entities.get(i));
                }
            }
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw failed("write", e);
        }
        return cleared;
    }

    /** The number of outbox marks and the highest sequence number among them (0 when empty). */
    long[] outboxExtent() {
        long count = 0;
        long max = 0;
        try (RocksIterator it = db.newIterator(outbox)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                count++;
                max = Math.max(max, ByteBuffer.wrap(it.value()).getLong());
            }
        }
        return new long[] {count, max};
    }

    /** Calls {@code action} with every entity that has a state (used to fill the Bloom filter at start). */
    void forEachEntity(Consumer<String> action) {
        try (RocksIterator it = db.newIterator(states)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                action.accept(new String(it.key(), StandardCharsets.UTF_8));
            }
        }
    }

    Path directory() {
        return directory;
    }

    private static byte[] key(String entity) {
        return entity.getBytes(StandardCharsets.UTF_8);
    }

    private FeatureStoreException failed(String what, RocksDBException e) {
        return new FeatureStoreException("L2 (RocksDB at " + directory + ") failed to " + what + ": "
                + e.getMessage(), e);
    }

    @Override
    public void close() {
        defaultFamily.close();
        states.close();
        outbox.close();
        db.close();
        closeOptions();
    }

    private void closeOptions() {
        writeOptions.close();
        stateOptions.close();
        outboxOptions.close();
        dbOptions.close();
        blockCache.close();
        bloom.close();
    }
}
