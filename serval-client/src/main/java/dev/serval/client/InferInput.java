package dev.serval.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * One input tensor of an {@link InferRequest}: a name, a datatype, a shape and the elements,
 * row-major.
 *
 * <p>Design note: an input keeps the caller's array or buffer as it is, without copying it. Each
 * wire then encodes it once, straight from that array into the request body (binary REST), the raw
 * contents (gRPC) or the JSON text; a {@code byte[]} or {@link ByteBuffer} input goes to gRPC with no
 * copy at all. The price is the usual one for zero-copy APIs: <b>do not change the array or buffer
 * while a call that uses the input is in flight.</b> Apart from that the input is immutable and
 * thread-safe, and may be sent any number of times.
 *
 * <p>Every factory checks that the number of elements matches the shape and throws
 * {@link IllegalArgumentException} naming the input, what it got and what it expected.
 */
public final class InferInput {
    private final String name;
    private final DataType datatype;
    private final long[] shape;
    /**
     * float[], double[], int[], long[], short[], byte[], boolean[], byte[][] (BYTES elements) or a
     * little-endian ByteBuffer slice in the binary layout.
     */
    private final Object data;
    private final int byteSize;

    private InferInput(String name, DataType datatype, long[] shape, Object data, long elements, int length) {
        this.name = Objects.requireNonNull(name, "name");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("an input's name must not be empty");
        }
        this.datatype = Objects.requireNonNull(datatype, "datatype");
        this.shape = shape.clone();
        this.data = data;
        long count = elementCount(name, this.shape);
        if (count != elements) {
            throw new IllegalArgumentException("input '" + name + "' has " + elements + " elements but shape "
                    + Arrays.toString(this.shape) + " needs " + count);
        }
        this.byteSize = length;
    }

    /** Single-precision floats. */
    public static InferInput fp32(String name, long[] shape, float[] data) {
        return new InferInput(name, DataType.FP32, shape, data, data.length, bytes(data.length, 4));
    }

    /** Double-precision floats. */
    public static InferInput fp64(String name, long[] shape, double[] data) {
        return new InferInput(name, DataType.FP64, shape, data, data.length, bytes(data.length, 8));
    }

    /** Signed 8-bit integers. */
    public static InferInput int8(String name, long[] shape, byte[] data) {
        return new InferInput(name, DataType.INT8, shape, data, data.length, data.length);
    }

    /** Unsigned 8-bit integers (each byte's bits; {@code (byte) 255} is 255). */
    public static InferInput uint8(String name, long[] shape, byte[] data) {
        return new InferInput(name, DataType.UINT8, shape, data, data.length, data.length);
    }

    /** Signed 16-bit integers. */
    public static InferInput int16(String name, long[] shape, short[] data) {
        return new InferInput(name, DataType.INT16, shape, data, data.length, bytes(data.length, 2));
    }

    /** Signed 32-bit integers. */
    public static InferInput int32(String name, long[] shape, int[] data) {
        return new InferInput(name, DataType.INT32, shape, data, data.length, bytes(data.length, 4));
    }

    /** Signed 64-bit integers. */
    public static InferInput int64(String name, long[] shape, long[] data) {
        return new InferInput(name, DataType.INT64, shape, data, data.length, bytes(data.length, 8));
    }

    /** Booleans. */
    public static InferInput bool(String name, long[] shape, boolean[] data) {
        return new InferInput(name, DataType.BOOL, shape, data, data.length, data.length);
    }

    /** BYTES elements given as text, sent as UTF-8 (the strings are encoded once, here). */
    public static InferInput bytes(String name, long[] shape, String[] data) {
        byte[][] elements = new byte[data.length][];
        for (int i = 0; i < data.length; i++) {
            if (data[i] == null) {
                throw new IllegalArgumentException("input '" + name + "' element " + i + " is null");
            }
            elements[i] = data[i].getBytes(StandardCharsets.UTF_8);
        }
        return bytes(name, shape, elements);
    }

    /** BYTES elements given as byte strings (not copied). */
    public static InferInput bytes(String name, long[] shape, byte[][] data) {
        long length = 0;
        for (byte[] element : data) {
            length += 4L + element.length;
        }
        return new InferInput(name, DataType.BYTES, shape, data, data.length, checkedSize(name, length));
    }

    /**
     * Any datatype from its binary layout: the buffer's remaining bytes, little-endian, row-major,
     * unpadded (BYTES: each element a 4-byte little-endian length and its bytes). FP16 and BF16
     * inputs are made this way. The buffer's position, limit and byte order are not changed; its
     * content is read when the input is sent.
     */
    public static InferInput of(String name, DataType datatype, long[] shape, ByteBuffer littleEndian) {
        ByteBuffer slice = littleEndian.slice().order(ByteOrder.LITTLE_ENDIAN);
        long elements;
        if (datatype == DataType.BYTES) {
            elements = countBytesElements(name, slice);
        } else {
            if (slice.remaining() % datatype.byteSize() != 0) {
                throw new IllegalArgumentException("input '" + name + "' has " + slice.remaining()
                        + " bytes, not a whole number of " + datatype + " elements of " + datatype.byteSize() + " bytes");
            }
            elements = slice.remaining() / datatype.byteSize();
        }
        return new InferInput(name, datatype, shape, slice, elements, slice.remaining());
    }

    public String name() {
        return name;
    }

    public DataType datatype() {
        return datatype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    /** Size of the elements in the binary layout. */
    int byteSize() {
        return byteSize;
    }

    long[] shapeUnsafe() {
        return shape;
    }

    /** The caller's data: one of the array types the factories take, or a little-endian ByteBuffer. */
    Object data() {
        return data;
    }

    /** Writes the elements in the binary layout at {@code out}'s position, advancing it. */
    void writeTo(ByteBuffer out) {
        ByteBuffer le = out.order() == ByteOrder.LITTLE_ENDIAN ? out : out.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int start = le.position();
        switch (data) {
            case float[] values -> le.asFloatBuffer().put(values);
            case double[] values -> le.asDoubleBuffer().put(values);
            case int[] values -> le.asIntBuffer().put(values);
            case long[] values -> le.asLongBuffer().put(values);
            case short[] values -> le.asShortBuffer().put(values);
            case byte[] values -> le.duplicate().put(values);
            case boolean[] values -> {
                for (int i = 0; i < values.length; i++) {
                    le.put(start + i, values[i] ? (byte) 1 : (byte) 0);
                }
            }
            case byte[][] values -> {
                int at = start;
                for (byte[] element : values) {
                    le.putInt(at, element.length);
                    le.put(at + 4, element);
                    at += 4 + element.length;
                }
            }
            case ByteBuffer buffer -> le.duplicate().put(buffer.duplicate());
            default -> throw new IllegalStateException("unexpected input data " + data.getClass());
        }
        out.position(start + byteSize);
    }

    /** The elements in the binary layout as a new array (one copy). */
    byte[] toBinary() {
        byte[] bytes = new byte[byteSize];
        writeTo(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
        return bytes;
    }

    static long elementCount(String name, long[] shape) {
        long count = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has shape " + Arrays.toString(shape)
                        + ": dimensions must be 0 or more");
            }
            count = Math.multiplyExact(count, dim);
        }
        return count;
    }

    /** Counts the BYTES elements of a binary layout, checking that each length stays in bounds. */
    static long countBytesElements(String name, ByteBuffer le) {
        long count = 0;
        int at = le.position();
        int end = le.limit();
        while (at < end) {
            if (end - at < 4) {
                throw new IllegalArgumentException("tensor '" + name + "': BYTES element " + count + " at byte " + at
                        + " has a truncated 4-byte length");
            }
            long length = le.getInt(at) & 0xFFFF_FFFFL;
            if (length > end - at - 4) {
                throw new IllegalArgumentException("tensor '" + name + "': BYTES element " + count + " at byte " + at
                        + " claims " + length + " bytes but only " + (end - at - 4) + " remain");
            }
            at += 4 + (int) length;
            count++;
        }
        return count;
    }

    private static int bytes(int elements, int size) {
        return checkedSize("tensor", (long) elements * size);
    }

    private static int checkedSize(String name, long length) {
        if (length > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("input '" + name + "' has " + length + " bytes, more than one request can carry");
        }
        return (int) length;
    }

    @Override
    public String toString() {
        return "InferInput[" + name + ", " + datatype + ", " + Arrays.toString(shape) + "]";
    }
}
