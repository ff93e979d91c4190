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
     *
     * @param pooled whether the buffer came from {@link BufferPool#SHARED}, to be given back by
     *               whoever ends the tensor's use ({@link #release()})
     */
    record FixedWidth(ByteBuffer buffer, boolean pooled) implements TensorData {
        public FixedWidth {
            if (buffer.order() != ByteOrder.LITTLE_ENDIAN) {
                throw new IllegalArgumentException("tensor buffers are little-endian");
            }
        }

        /** A buffer the caller owns; it never goes to the pool. */
        public FixedWidth(ByteBuffer buffer) {
            this(buffer, false);
        }

        /** Gives a pooled buffer back; the tensor must not be used afterwards. */
        public void release() {
            if (pooled) {
                BufferPool.SHARED.release(buffer);
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
