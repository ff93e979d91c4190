package dev.serval.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Direct buffers for tensors, reused by exact size.
 *
 * <p>Design note: a direct buffer's native memory is freed only when the garbage collector
 * notices its owner is gone. At hundreds of requests a second, each with a 600 KB image, that
 * leaves native memory to grow with the time between collections, and every fresh buffer costs
 * page faults. Requests to one model have the same few shapes, so buffers are pooled by exact
 * capacity: no rounding waste, and a steady load reuses the same memory. The pool is bounded in
 * bytes and in distinct sizes; beyond either, released buffers are left to the collector.
 * Tiny buffers are pooled too: a fresh direct buffer of 16 bytes (one iris flower) costs more than
 * the model's run, in zeroing, a Cleaner and the reference processing it later needs. The bound
 * is 64 MB: enough for a few batches of large images in flight, while every pooled byte is
 * resident memory.
 * Only buffers the pool handed out come back to it ({@link TensorData.FixedWidth#pooled()}).
 *
 * <p>Thread-safe.
 */
public final class BufferPool {
    /** The process's pool. */
    public static final BufferPool SHARED = new BufferPool(64L << 20, 1024);

    private final long maxPooledBytes;
    private final int maxSizes;
    private final Map<Integer, Queue<ByteBuffer>> free = new ConcurrentHashMap<>();
    private final AtomicLong pooledBytes = new AtomicLong();

    /**
     * @param maxPooledBytes bytes of idle buffers kept at most
     * @param maxSizes       distinct buffer sizes kept at most
     */
    public BufferPool(long maxPooledBytes, int maxSizes) {
        this.maxPooledBytes = maxPooledBytes;
        this.maxSizes = maxSizes;
    }

    /** A direct little-endian buffer of exactly {@code bytes}, position 0, limit = capacity. */
    public ByteBuffer acquire(int bytes) {
        Queue<ByteBuffer> queue = free.get(bytes);
        ByteBuffer buffer = queue == null ? null : queue.poll();
        if (buffer != null) {
            pooledBytes.addAndGet(-bytes);
            return buffer.clear();
        }
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Gives a buffer from {@link #acquire} back. The caller must not touch it afterwards.
     * Buffers past the pool's bounds are left to the collector.
     */
    public void release(ByteBuffer buffer) {
        int bytes = buffer.capacity();
        if (!buffer.isDirect()) {
            return;
        }
        if (pooledBytes.addAndGet(bytes) > maxPooledBytes) {
            pooledBytes.addAndGet(-bytes);
            return;
        }
        Queue<ByteBuffer> queue = free.get(bytes);
        if (queue == null) {
            if (free.size() >= maxSizes) {
                pooledBytes.addAndGet(-bytes);
                return;
            }
            queue = free.computeIfAbsent(bytes, size -> new ConcurrentLinkedQueue<>());
        }
        queue.offer(buffer.order(ByteOrder.LITTLE_ENDIAN));
    }

    /** Bytes of idle buffers held now. */
    public long pooledBytes() {
        return pooledBytes.get();
    }
}
