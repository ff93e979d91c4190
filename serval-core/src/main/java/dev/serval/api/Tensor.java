package dev.serval.api;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A named tensor: element type, shape and elements. Immutable in intent: the shape array and the
 * data are not copied, and nobody writes to them after construction.
 *
 * @param name  the input or output name
 * @param type  the element type
 * @param shape the dimensions, row-major; never -1 here (that only appears in {@link TensorSpec})
 * @param data  {@link TensorData.Bytes} for {@link DataType#BYTES}, otherwise {@link TensorData.FixedWidth}
 */
public record Tensor(String name, DataType type, long[] shape, TensorData data) {

    public Tensor {
        if (type == DataType.BYTES != data instanceof TensorData.Bytes) {
            throw new IllegalArgumentException("tensor '" + name + "' of type " + type
                    + " cannot hold " + data.getClass().getSimpleName());
        }
        if (data instanceof TensorData.FixedWidth fixed && fixed.buffer().limit() % type.byteSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + fixed.buffer().limit()
                    + " bytes, not a whole number of " + type + " elements");
        }
        long expected = Shapes.elementCount(shape);
        long actual = data.elementCount(type);
        if (expected != actual) {
            throw new IllegalArgumentException("tensor '" + name + "' has shape " + Shapes.format(shape)
                    + " (" + expected + " elements) but holds " + actual);
        }
    }

    /** The number of elements, the product of the shape. */
    public long elementCount() {
        return Shapes.elementCount(shape);
    }

    /** The fixed-width buffer; throws {@link IllegalStateException} for BYTES tensors. */
    public ByteBuffer buffer() {
        if (data instanceof TensorData.FixedWidth fixed) {
            return fixed.buffer();
        }
        throw new IllegalStateException("tensor '" + name + "' is BYTES, not fixed-width");
    }

    /** The BYTES elements; throws {@link IllegalStateException} for fixed-width tensors. */
    public byte[][] bytesElements() {
        if (data instanceof TensorData.Bytes bytes) {
            return bytes.elements();
        }
        throw new IllegalStateException("tensor '" + name + "' is " + type + ", not BYTES");
    }

    /**
     * Gives the tensor's buffer back to {@link BufferPool#SHARED} if it came from there. Call it
     * once, when nothing will read the tensor again.
     */
    public void release() {
        if (data instanceof TensorData.FixedWidth fixed) {
            fixed.release();
        }
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ", " + type + ", " + Arrays.toString(shape) + "]";
    }
}
