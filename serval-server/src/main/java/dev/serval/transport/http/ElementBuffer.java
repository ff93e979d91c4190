package dev.serval.transport.http;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import dev.serval.api.BufferPool;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A direct, little-endian buffer that decoded elements are written into, sized exactly when the
 * element count is known up front (the usual case: {@code shape} before {@code data}) and grown by
 * doubling otherwise.
 *
 * <p>Design note: elements arrive one at a time and in order. Writing each straight into the direct
 * buffer costs a bounds check, a memory-session check and an out-of-line call per element, about as
 * much as parsing the number; so they are gathered in a small heap chunk (plain stores) that is
 * copied into the direct buffer whenever it fills, and at {@link #finish()}. {@link #next()} hands
 * out places in that chunk.
 *
 * <p>Not thread-safe: one per tensor being decoded.
 */
final class ElementBuffer {
    /** A multiple of every element size, so that no element straddles two chunks; fits in L1. */
    private static final int CHUNK = 8 * 1024;
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle FLOAT = MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle DOUBLE = MethodHandles.byteArrayViewVarHandle(double[].class, ByteOrder.LITTLE_ENDIAN);

    private final int elementSize;
    private final long expected;
    private ByteBuffer buffer;
    /** Elements counted but not stored, once the shape's count is reached. */
    private long surplus;
    /** Elements not yet copied into the buffer, which they belong at from byte {@code chunkStart} on. */
    private final byte[] chunk;
    private int chunkStart;
    private int chunkUsed;
    /** How much of the chunk the shape lets this tensor fill. */
    private int chunkLimit;

    /**
     * @param expected the element count the shape demands, or -1 when not yet known
     */
    ElementBuffer(int elementSize, long expected) {
        this.elementSize = elementSize;
        this.expected = expected;
        long bytes = expected >= 0 ? expected * elementSize : 64L * elementSize;
        this.buffer = allocate(bytes);
        this.chunk = new byte[expected >= 0 ? (int) Math.min(CHUNK, bytes) : CHUNK];
        this.chunkLimit = chunk.length;
    }

    private static ByteBuffer allocate(long bytes) {
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a tensor is limited to 2 GB");
        }
        return BufferPool.SHARED.acquire((int) bytes);
    }

    /**
     * Counts an element and says where to put it, or -1 when the shape's element count is already
     * reached (the element is counted but not stored, so the error can say how many arrived). Every
     * place handed out must be filled, before the next call, with one of the {@code put} methods.
     */
    int next() {
        int slot = chunkUsed;
        if (slot < chunkLimit) {
            chunkUsed = slot + elementSize;
            return slot;
        }
        return nextChunk();
    }

    private int nextChunk() {
        if (chunkUsed == chunk.length) {
            copyOut(chunk.length);
            chunkStart += chunk.length;
            chunkUsed = 0;
            if (expected >= 0) {
                chunkLimit = (int) Math.min(chunk.length, expected * elementSize - chunkStart);
            }
        }
        if (chunkUsed >= chunkLimit) {
            surplus++;
            return -1;
        }
        int slot = chunkUsed;
        chunkUsed = slot + elementSize;
        return slot;
    }

    /** Copies the chunk's first {@code bytes} into the buffer, growing it first if the count was unknown. */
    private void copyOut(int bytes) {
        long needed = (long) chunkStart + bytes;
        if (needed > buffer.capacity()) {
            ByteBuffer larger = allocate(Math.max(buffer.capacity() * 2L, needed));
            larger.put(buffer.clear());
            BufferPool.SHARED.release(buffer);
            buffer = larger;
        }
        buffer.put(chunkStart, chunk, 0, bytes);
    }

    /** The elements counted so far, stored or not. */
    long count() {
        return (chunkStart + chunkUsed) / elementSize + surplus;
    }

    void putByte(int at, byte value) {
        chunk[at] = value;
    }

    void putShort(int at, short value) {
        SHORT.set(chunk, at, value);
    }

    void putInt(int at, int value) {
        INT.set(chunk, at, value);
    }

    void putLong(int at, long value) {
        LONG.set(chunk, at, value);
    }

    void putFloat(int at, float value) {
        FLOAT.set(chunk, at, value);
    }

    void putDouble(int at, double value) {
        DOUBLE.set(chunk, at, value);
    }

    /** IEEE half precision, rounded to nearest even. */
    void putFloat16(int at, float value) {
        SHORT.set(chunk, at, Float.floatToFloat16(value));
    }

    /** bfloat16: the float's top half, rounded to nearest even, keeping NaN a NaN. */
    void putBfloat16(int at, float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            bits = (bits >>> 16) | 0x40;
        } else {
            bits = (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
        }
        SHORT.set(chunk, at, (short) bits);
    }

    /**
     * The filled part, position 0 to its limit, little-endian; a buffer of {@link BufferPool#SHARED}
     * (its capacity may exceed the limit when the element count was not known up front).
     */
    ByteBuffer finish() {
        if (chunkUsed > 0) {
            copyOut(chunkUsed);
        }
        int bytes = chunkStart + chunkUsed;
        return buffer.clear().limit(bytes);
    }
}
