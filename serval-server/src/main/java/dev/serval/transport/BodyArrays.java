package dev.serval.transport;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reusable arrays for large request bodies and messages, by power-of-two size class; shared by the
 * REST and gRPC transports.
 *
 * <p>Design note: a 1 MB image body read into a fresh array per request is a megabyte of garbage
 * per request, and with the heap kept small on purpose the collector then runs several times a
 * second on the same core that serves. A body is only needed until it is decoded, so its array is
 * returned right after. Small bodies (under 64 KB) are allocated plainly: young-generation garbage
 * is cheap. Bounded in bytes; thread-safe.
 */
public final class BodyArrays {
    private static final int MIN_SHIFT = 16;
    private static final int MAX_SHIFT = 28;

    private final ConcurrentLinkedQueue<byte[]>[] classes;
    private final AtomicLong pooledBytes = new AtomicLong();
    private final long maxPooledBytes;

    @SuppressWarnings("unchecked")
    /** @param maxPooledBytes the most bytes of arrays kept for reuse; more are left to the collector */
    public BodyArrays(long maxPooledBytes) {
        this.maxPooledBytes = maxPooledBytes;
        this.classes = new ConcurrentLinkedQueue[MAX_SHIFT + 1];
        for (int i = MIN_SHIFT; i <= MAX_SHIFT; i++) {
            classes[i] = new ConcurrentLinkedQueue<>();
        }
    }

    /** An array of at least {@code length} bytes. */
    public byte[] acquire(int length) {
        int shift = shift(length);
        if (shift < 0) {
            return new byte[length];
        }
        byte[] array = classes[shift].poll();
        if (array != null) {
            pooledBytes.addAndGet(-array.length);
            return array;
        }
        return new byte[1 << shift];
    }

    /** Takes back an array from {@link #acquire}; nothing may read it afterwards. */
    public void release(byte[] array) {
        int shift = shift(array.length);
        if (shift < 0 || array.length != 1 << shift) {
            return;
        }
        if (pooledBytes.addAndGet(array.length) > maxPooledBytes) {
            pooledBytes.addAndGet(-array.length);
            return;
        }
        classes[shift].offer(array);
    }

    /** The size class for {@code length}, or -1 when it is not pooled. */
    private static int shift(int length) {
        if (length < 1 << MIN_SHIFT) {
            return -1;
        }
        int shift = 32 - Integer.numberOfLeadingZeros(length - 1);
        return shift > MAX_SHIFT ? -1 : shift;
    }
}
