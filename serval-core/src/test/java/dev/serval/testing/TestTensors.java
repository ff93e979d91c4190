package dev.serval.testing;

import dev.serval.api.DataType;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Small builders for tensors in tests. */
public final class TestTensors {
    private TestTensors() {
    }

    /** A direct little-endian buffer, as the request decoders produce. */
    public static ByteBuffer little(int bytes) {
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A heap little-endian buffer, as ONNX Runtime's outputs and hand-built tensors are. */
    public static ByteBuffer littleHeap(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The same tensor with its elements copied into a heap buffer. */
    public static Tensor onHeap(Tensor tensor) {
        ByteBuffer heap = littleHeap(tensor.buffer().limit());
        heap.put(0, tensor.buffer(), 0, tensor.buffer().limit());
        return new Tensor(tensor.name(), tensor.type(), tensor.shape(), new TensorData.FixedWidth(heap));
    }

    public static Tensor fp32(String name, long[] shape, float... values) {
        ByteBuffer buffer = little(values.length * 4);
        for (int i = 0; i < values.length; i++) {
            buffer.putFloat(i * 4, values[i]);
        }
        return new Tensor(name, DataType.FP32, shape, new TensorData.FixedWidth(buffer));
    }

    public static Tensor fp64(String name, long[] shape, double... values) {
        ByteBuffer buffer = little(values.length * 8);
        for (int i = 0; i < values.length; i++) {
            buffer.putDouble(i * 8, values[i]);
        }
        return new Tensor(name, DataType.FP64, shape, new TensorData.FixedWidth(buffer));
    }

    public static Tensor int64(String name, long[] shape, long... values) {
        ByteBuffer buffer = little(values.length * 8);
        for (int i = 0; i < values.length; i++) {
            buffer.putLong(i * 8, values[i]);
        }
        return new Tensor(name, DataType.INT64, shape, new TensorData.FixedWidth(buffer));
    }

    public static Tensor int32(String name, long[] shape, int... values) {
        ByteBuffer buffer = little(values.length * 4);
        for (int i = 0; i < values.length; i++) {
            buffer.putInt(i * 4, values[i]);
        }
        return new Tensor(name, DataType.INT32, shape, new TensorData.FixedWidth(buffer));
    }

    /** A tensor of any type holding zeros (empty strings for BYTES). */
    public static Tensor zeros(String name, DataType type, long... shape) {
        long count = 1;
        for (long dim : shape) {
            count *= dim;
        }
        if (type == DataType.BYTES) {
            byte[][] elements = new byte[(int) count][];
            for (int i = 0; i < elements.length; i++) {
                elements[i] = new byte[0];
            }
            return new Tensor(name, type, shape, new TensorData.Bytes(elements));
        }
        return new Tensor(name, type, shape, new TensorData.FixedWidth(little((int) count * type.byteSize())));
    }

    public static Tensor strings(String name, long[] shape, String... values) {
        byte[][] elements = new byte[values.length][];
        for (int i = 0; i < values.length; i++) {
            elements[i] = values[i].getBytes(StandardCharsets.UTF_8);
        }
        return new Tensor(name, DataType.BYTES, shape, new TensorData.Bytes(elements));
    }

    public static float[] floats(Tensor tensor) {
        ByteBuffer buffer = tensor.buffer();
        float[] values = new float[(int) tensor.elementCount()];
        for (int i = 0; i < values.length; i++) {
            values[i] = buffer.getFloat(i * 4);
        }
        return values;
    }

    public static String[] texts(Tensor tensor) {
        byte[][] elements = tensor.bytesElements();
        String[] values = new String[elements.length];
        for (int i = 0; i < values.length; i++) {
            values[i] = new String(elements[i], StandardCharsets.UTF_8);
        }
        return values;
    }

    public static long[] shape(long... dims) {
        return dims;
    }
}
