package dev.serval.features;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The binary form of an {@link EntityState}: what L2 and L3 store. Sparse (only buckets with events
 * are written), so a quiet entity costs tens of bytes; big-endian; its first byte is the version.
 *
 * <pre>
 * version 1:
 *   u8  version (1)          u8  flags (bit 0: unsynced base)
 *   i64 countTotal           f64 sumTotal            i64 lastSeenMillis (Long.MIN_VALUE: never)
 *   i64 secHead              u8  n, then n x (u8 seconds back from head, i32 count, f32 sum)
 *   i64 minHead              u8  n, then n x (u8 minutes back from head, i32 count, f32 sum)
 *   u8  n, then n x (i64 counterparty hash, u8 minutes back from minHead)
 * </pre>
 *
 * A value of another version, or one cut short, is rejected with {@link FeatureStoreException} rather
 * than read as something it is not.
 */
final class StateCodec {
    static final byte VERSION = 1;
    private static final int FLAG_UNSYNCED_BASE = 1;
    private static final int BUCKET_BYTES = 1 + 4 + 4;
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private StateCodec() {
    }

    /**
     * Writes through a byte-array view rather than a {@link ByteBuffer}: this runs once per entity per
     * {@code record} call, on the ingest path, and the view's writes skip the buffer's index checks.
     * The bytes are the same (big-endian, floats and doubles as their raw bits).
     */
    static byte[] encode(EntityState state) {
        state.pruneDistinct();
        int secBuckets = nonEmpty(state.secCount);
        int minBuckets = nonEmpty(state.minCount);
        int size = 2 + 8 + 8 + 8
                + 8 + 1 + secBuckets * BUCKET_BYTES
                + 8 + 1 + minBuckets * BUCKET_BYTES
                + 1 + state.distinctSize * 9;
        byte[] out = new byte[size];
        out[0] = VERSION;
        out[1] = (byte) (state.unsyncedBase ? FLAG_UNSYNCED_BASE : 0);
        LONG.set(out, 2, state.countTotal);
        LONG.set(out, 10, Double.doubleToRawLongBits(state.sumTotal));
        LONG.set(out, 18, state.lastSeenMillis);
        int at = putRing(out, 26, state.secHead, state.secCount, state.secSum, secBuckets);
        at = putRing(out, at, state.minHead, state.minCount, state.minSum, minBuckets);
        out[at++] = (byte) state.distinctSize;
        for (int i = 0; i < state.distinctSize; i++) {
            LONG.set(out, at, state.distinctHash[i]);
            out[at + 8] = (byte) (state.minHead - state.distinctMinute[i]);
            at += 9;
        }
        return out;
    }

    /**
     * @param what names the value in the error (e.g. {@code "entity 'card-1' from redis"})
     * @throws FeatureStoreException when the bytes are not a state of this version
     */
    static EntityState decode(byte[] bytes, String what) {
        if (bytes.length == 0 || bytes[0] != VERSION) {
            throw new FeatureStoreException("cannot read the state of " + what + ": encoding version "
                    + (bytes.length == 0 ? "(empty)" : Byte.toString(bytes[0])) + ", expected " + VERSION);
        }
        try {
            ByteBuffer in = ByteBuffer.wrap(bytes, 1, bytes.length - 1);
            EntityState state = new EntityState();
            state.unsyncedBase = (in.get() & FLAG_UNSYNCED_BASE) != 0;
            state.countTotal = in.getLong();
            state.sumTotal = in.getDouble();
            state.lastSeenMillis = in.getLong();
            state.secHead = getRing(in, state.secCount, state.secSum);
            state.minHead = getRing(in, state.minCount, state.minSum);
            int distinct = Byte.toUnsignedInt(in.get());
            if (distinct > EntityState.DISTINCT_CAP) {
                throw new IllegalArgumentException(distinct + " counterparties");
            }
            state.distinctHash = new long[Math.max(4, distinct)];
            state.distinctMinute = new long[Math.max(4, distinct)];
            for (int i = 0; i < distinct; i++) {
                state.distinctHash[i] = in.getLong();
                state.distinctMinute[i] = state.minHead - Byte.toUnsignedInt(in.get());
            }
            state.distinctSize = distinct;
            if (in.hasRemaining()) {
                throw new IllegalArgumentException(in.remaining() + " trailing bytes");
            }
            return state;
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new FeatureStoreException("cannot read the state of " + what + ": "
                    + (e.getMessage() == null ? "cut short at " + bytes.length + " bytes" : e.getMessage()), e);
        }
    }

    /** Whether an encoded state has {@link EntityState#unsyncedBase} set, without decoding it. */
    static boolean isUnsyncedBase(byte[] bytes) {
        return bytes.length > 1 && bytes[0] == VERSION && (bytes[1] & FLAG_UNSYNCED_BASE) != 0;
    }

    /** Writes a ring at {@code at}, newest bucket first; returns the index after it. */
    private static int putRing(byte[] out, int at, long head, int[] counts, float[] sums, int buckets) {
        LONG.set(out, at, head);
        out[at + 8] = (byte) buckets;
        at += 9;
        if (buckets == 0) {
            return at;
        }
        int slot = EntityState.slot(head);
        for (int back = 0; back < EntityState.SLOTS; back++) {
            if (counts[slot] != 0) {
                out[at] = (byte) back;
                INT.set(out, at + 1, counts[slot]);
                INT.set(out, at + 5, Float.floatToRawIntBits(sums[slot]));
                at += BUCKET_BYTES;
            }
            slot = slot == 0 ? EntityState.SLOTS - 1 : slot - 1;
        }
        return at;
    }

    private static long getRing(ByteBuffer in, int[] counts, float[] sums) {
        long head = in.getLong();
        int buckets = Byte.toUnsignedInt(in.get());
        if (buckets > EntityState.SLOTS || (head == EntityState.NONE && buckets != 0)) {
            throw new IllegalArgumentException(buckets + " buckets");
        }
        for (int i = 0; i < buckets; i++) {
            int back = Byte.toUnsignedInt(in.get());
            if (back >= EntityState.SLOTS) {
                throw new IllegalArgumentException("bucket " + back + " back from the head");
            }
            int slot = EntityState.slot(head - back);
            counts[slot] = in.getInt();
            sums[slot] = in.getFloat();
        }
        return head;
    }

    private static int nonEmpty(int[] counts) {
        int n = 0;
        for (int count : counts) {
            if (count != 0) {
                n++;
            }
        }
        return n;
    }
}
