package dev.serval.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The elements of a tensor: raw little-endian bytes for fixed-width types, or a list of byte
 * strings for {@link DataType#BYTES}.
 */
public sealed interface TensorData {

    /** The number of elements held. */
    long elementCount(DataType type);

    /**
     * Elements of a fixed-width type as little-endian bytes, row-major, no padding, from position 0
     * to the limit. Buffers decoded from requests are direct, so ONNX Runtime reads them in place.
     */
    record FixedWidth(ByteBuffer buffer) implements TensorData {
        public FixedWidth {
            if (buffer.order() != ByteOrder.LITTLE_ENDIAN) {
                throw new IllegalArgumentException("tensor buffers are little-endian");
            }
        }

        @Override
        public long elementCount(DataType type) {
            return buffer.limit() / type.byteSize();
        }
    }

    /** Elements of a {@link DataType#BYTES} tensor, row-major. The arrays are not copied. */
    record Bytes(byte[][] elements) implements TensorData {
        @Override
        public long elementCount(DataType type) {
            return elements.length;
        }
    }
}
