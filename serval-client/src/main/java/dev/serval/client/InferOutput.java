package dev.serval.client;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One output tensor of an {@link InferResult}: name, datatype, shape, parameters, and the elements in
 * the binary layout (little-endian, row-major; see {@link DataType}).
 *
 * <p>Over gRPC and binary REST the elements are not copied out of the received message: the buffers
 * returned here view it. The {@code as...Buffer()} methods return read-only views (no copy); the
 * {@code to...Array()} methods copy. Each reader accepts the datatypes named in its
 * documentation and throws {@link IllegalStateException} for any other. Immutable and thread-safe.
 *
 * <p>Every output was checked when it was received: its bytes are exactly what its datatype and
 * shape need, so no reader goes out of bounds.
 */
public final class InferOutput {
    private final String name;
    private final DataType datatype;
    private final long[] shape;
    private final Map<String, Object> parameters;
    private final ByteBuffer data;
    private final int count;

    /**
     * @throws ServalClientException INVALID_RESPONSE if the bytes do not hold exactly the elements the
     *                               shape needs
     */
    InferOutput(String name, DataType datatype, long[] shape, Map<String, Object> parameters, ByteBuffer data) {
        this.name = name;
        this.datatype = datatype;
        this.shape = shape;
        this.parameters = Parameters.freeze(parameters);
        this.data = data.slice().order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long elements;
        try {
            elements = InferInput.elementCount(name, shape);
            if (datatype == DataType.BYTES) {
                long found = InferInput.countBytesElements(name, this.data);
                if (found != elements) {
                    throw new IllegalArgumentException("output '" + name + "' has " + found + " BYTES elements but shape "
                            + Arrays.toString(shape) + " needs " + elements);
                }
            } else if ((long) this.data.remaining() != elements * datatype.byteSize()) {
                throw new IllegalArgumentException("output '" + name + "' has " + this.data.remaining() + " bytes but "
                        + datatype + " shape " + Arrays.toString(shape) + " needs " + elements * datatype.byteSize());
            }
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw Errors.invalidResponse(e.getMessage(), e);
        }
        if (elements > Integer.MAX_VALUE) {
            throw Errors.invalidResponse("output '" + name + "' has " + elements + " elements", null);
        }
        this.count = (int) elements;
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

    /** The number of elements: the product of the shape. */
    public int elementCount() {
        return count;
    }

    /** The output's parameters (String, Long, Double or Boolean values); empty when none. */
    public Map<String, Object> parameters() {
        return parameters;
    }

    /** The elements in the binary layout, any datatype: a read-only little-endian view. */
    public ByteBuffer buffer() {
        return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** FP32 elements, as a read-only view. */
    public FloatBuffer asFloatBuffer() {
        expect("FloatBuffer", DataType.FP32);
        return buffer().asFloatBuffer();
    }

    /** FP64 elements, as a read-only view. */
    public DoubleBuffer asDoubleBuffer() {
        expect("DoubleBuffer", DataType.FP64);
        return buffer().asDoubleBuffer();
    }

    /** INT16, UINT16, FP16 or BF16 elements (their bits), as a read-only view. */
    public ShortBuffer asShortBuffer() {
        expect("ShortBuffer", DataType.INT16, DataType.UINT16, DataType.FP16, DataType.BF16);
        return buffer().asShortBuffer();
    }

    /** INT32 or UINT32 elements (their bits), as a read-only view. */
    public IntBuffer asIntBuffer() {
        expect("IntBuffer", DataType.INT32, DataType.UINT32);
        return buffer().asIntBuffer();
    }

    /** INT64 or UINT64 elements (their bits), as a read-only view. */
    public LongBuffer asLongBuffer() {
        expect("LongBuffer", DataType.INT64, DataType.UINT64);
        return buffer().asLongBuffer();
    }

    /** FP32 elements, or FP16 and BF16 elements widened to float. */
    public float[] toFloatArray() {
        expect("float[]", DataType.FP32, DataType.FP16, DataType.BF16);
        float[] values = new float[count];
        switch (datatype) {
            case FP32 -> buffer().asFloatBuffer().get(values);
            case FP16 -> {
                for (int i = 0; i < count; i++) {
                    values[i] = Float.float16ToFloat(data.getShort(i << 1));
                }
            }
            default -> {
                for (int i = 0; i < count; i++) {
                    values[i] = Float.intBitsToFloat((data.getShort(i << 1) & 0xFFFF) << 16);
                }
            }
        }
        return values;
    }

    /** FP64 elements. */
    public double[] toDoubleArray() {
        expect("double[]", DataType.FP64);
        double[] values = new double[count];
        buffer().asDoubleBuffer().get(values);
        return values;
    }

    /** INT8, INT16, INT32, UINT8 or UINT16 elements, widened exactly; UINT32 elements as their bits. */
    public int[] toIntArray() {
        expect("int[]", DataType.INT8, DataType.INT16, DataType.INT32, DataType.UINT8, DataType.UINT16, DataType.UINT32);
        int[] values = new int[count];
        for (int i = 0; i < count; i++) {
            values[i] = (int) integer(i);
        }
        return values;
    }

    /** Elements of any integer type, widened exactly; UINT64 elements as their bits. */
    public long[] toLongArray() {
        expect("long[]", DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64,
                DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.UINT64);
        long[] values = new long[count];
        if (datatype == DataType.INT64 || datatype == DataType.UINT64) {
            buffer().asLongBuffer().get(values);
            return values;
        }
        for (int i = 0; i < count; i++) {
            values[i] = integer(i);
        }
        return values;
    }

    /** INT8, UINT8 or BOOL elements, one byte each. */
    public byte[] toByteArray() {
        expect("byte[]", DataType.INT8, DataType.UINT8, DataType.BOOL);
        byte[] values = new byte[count];
        buffer().get(values);
        return values;
    }

    /** BOOL elements (any non-zero byte is true). */
    public boolean[] toBooleanArray() {
        expect("boolean[]", DataType.BOOL);
        boolean[] values = new boolean[count];
        for (int i = 0; i < count; i++) {
            values[i] = data.get(i) != 0;
        }
        return values;
    }

    /** BYTES elements as byte strings. */
    public List<byte[]> toBytesList() {
        expect("byte strings", DataType.BYTES);
        List<byte[]> values = new ArrayList<>(count);
        int at = 0;
        for (int i = 0; i < count; i++) {
            int length = data.getInt(at);
            byte[] element = new byte[length];
            data.get(at + 4, element);
            values.add(element);
            at += 4 + length;
        }
        return values;
    }

    /** BYTES elements decoded as UTF-8 text. */
    public String[] toStringArray() {
        List<byte[]> elements = toBytesList();
        String[] values = new String[elements.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = new String(elements.get(i), StandardCharsets.UTF_8);
        }
        return values;
    }

    private long integer(int i) {
        return switch (datatype) {
            case INT8 -> data.get(i);
            case UINT8 -> data.get(i) & 0xFF;
            case INT16 -> data.getShort(i << 1);
            case UINT16 -> data.getShort(i << 1) & 0xFFFF;
            case INT32, UINT32 -> datatype == DataType.INT32 ? data.getInt(i << 2) : data.getInt(i << 2) & 0xFFFF_FFFFL;
            default -> data.getLong(i << 3);
        };
    }

    private void expect(String reader, DataType... accepted) {
        for (DataType type : accepted) {
            if (type == datatype) {
                return;
            }
        }
        throw new IllegalStateException("output '" + name + "' is " + datatype + ", which cannot be read as " + reader
                + " (that takes " + Arrays.toString(accepted) + ")");
    }

    @Override
    public String toString() {
        return "InferOutput[" + name + ", " + datatype + ", " + Arrays.toString(shape) + "]";
    }
}
