package dev.serval.transport.http;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A direct, little-endian buffer that decoded elements are written into, sized exactly when the
 * element count is known up front (the usual case: {@code shape} before {@code data}) and grown by
 * doubling otherwise.
 *
 * <p>Not thread-safe: one per tensor being decoded.
 */
final class ElementBuffer {
    private final int elementSize;
    private final long expected;
    private ByteBuffer buffer;
    private long count;

    /**
     * @param expected the element count the shape demands, or -1 when not yet known
     */
    ElementBuffer(int elementSize, long expected) {
        this.elementSize = elementSize;
        this.expected = expected;
        long initial = expected >= 0 ? expected : 64;
        this.buffer = allocate(initial * elementSize);
    }

    private static ByteBuffer allocate(long bytes) {
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a tensor is limited to 2 GB");
        }
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The byte offset for the next element, or -1 when the shape's element count is already reached
     * (the element is counted but not stored, so the error can say how many arrived).
     */
    int next() {
        long index = count++;
        if (expected >= 0) {
            return index < expected ? (int) (index * elementSize) : -1;
        }
        long offset = index * elementSize;
        if (offset + elementSize > buffer.capacity()) {
            ByteBuffer larger = allocate(Math.max(buffer.capacity() * 2L, offset + elementSize));
            larger.put(buffer.clear());
            buffer = larger;
        }
        return (int) offset;
    }

    ByteBuffer buffer() {
        return buffer;
    }

    long count() {
        return count;
    }

    /** The filled part, position 0, little-endian. */
    ByteBuffer finish() {
        long bytes = Math.min(count, expected >= 0 ? expected : count) * elementSize;
        return buffer.clear().limit((int) bytes).slice().order(ByteOrder.LITTLE_ENDIAN);
    }
}
