package dev.serval.transport.http;

import dev.serval.api.BufferPool;
import dev.serval.api.DataType;
import dev.serval.api.InferenceRequest;
import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.transport.http.JsonRequestDecoder.BinaryInput;
import dev.serval.transport.http.JsonRequestDecoder.Header;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * Reads the raw tensors of Triton's binary tensor data extension: the bytes after a request's JSON
 * header, input after input in the order the JSON lists them, little-endian, row-major, unpadded;
 * BOOL one byte (0 or 1), each BYTES element a 4-byte little-endian length and its bytes.
 *
 * <p>Design note on copies: a fixed-width input goes from the request's stream, through a small
 * reused chunk, straight into its pooled direct buffer, which ONNX Runtime then reads in place; the
 * body is never gathered whole into one array first (only its JSON part is, into a pooled array).
 * Between the socket and ONNX Runtime the bytes are still copied twice: Helidon's socket buffer ->
 * the chunk (an {@link InputStream} can only fill a {@code byte[]}) -> the direct buffer; the
 * alternative, the whole body into a pooled array and then one copy into the direct buffer, is the
 * same two copies. Measured in the running server on a 4 MB FP16 input, both read in 4 to 5 ms
 * (median, within the noise of a loaded 2-core machine); streaming is kept because it holds no
 * body-sized array while a request waits. BYTES inputs are read into one heap array and cut into
 * their elements, which ONNX Runtime needs as Java strings anyway.
 *
 * <p>Every declared size is checked against the bytes the body has before anything is read or
 * allocated, so a lying header costs nothing; a body that ends early is noticed as it is read.
 * BOOL bytes other than 0 and 1 are refused: ONNX Runtime hands them to C++ {@code bool}s, where
 * any other value is undefined behaviour, and a client that sends 2 most likely has its datatype
 * wrong.
 *
 * <p>Stateless and thread-safe.
 */
final class BinaryRequestDecoder {
    /** Small enough to stay in the L1/L2 cache while it is copied on; a multiple of every element size. */
    private static final int CHUNK = 16 * 1024;
    /** Chunks are reused across requests (a thread-local would be one per virtual thread, i.e. none). */
    private static final ArrayBlockingQueue<byte[]> CHUNKS = new ArrayBlockingQueue<>(64);

    private BinaryRequestDecoder() {
    }

    /**
     * Reads the header's binary inputs from {@code in}, which holds exactly {@code available} more
     * bytes of the body, and assembles the request.
     *
     * @param headerLength the JSON header's length, for error messages
     * @throws ServalException INVALID_ARGUMENT when the bytes do not match what the header declares
     * @throws IOException     when reading the body fails
     */
    static InferenceRequest decode(Header header, InputStream in, long available, long headerLength,
                                   String model, String version) throws IOException {
        List<BinaryInput> binary = header.binary();
        long needed = 0;
        for (BinaryInput input : binary) {
            needed += input.size();
        }
        if (needed != available) {
            throw sizeMismatch(binary, needed, available, headerLength);
        }
        List<Tensor> inputs = new ArrayList<>(header.inputs());
        boolean done = false;
        try {
            for (BinaryInput input : binary) {
                inputs.set(input.index(), read(input, in));
            }
            done = true;
            return new InferenceRequest(model, version, header.id(), header.parameters(), inputs, header.outputs());
        } finally {
            if (!done) {
                for (Tensor tensor : inputs) {
                    if (tensor != null) {
                        tensor.release();
                    }
                }
            }
        }
    }

    private static ServalException sizeMismatch(List<BinaryInput> binary, long needed, long available,
                                                long headerLength) {
        StringBuilder sizes = new StringBuilder();
        for (BinaryInput input : binary) {
            sizes.append(sizes.isEmpty() ? "" : ", ").append('\'').append(input.name()).append("' ").append(input.size());
        }
        if (binary.isEmpty()) {
            return ServalException.invalidArgument("%d bytes follow the %d-byte JSON header "
                    + "(Inference-Header-Content-Length), but no input has parameter binary_data_size",
                    available, headerLength);
        }
        if (needed > available) {
            return ServalException.invalidArgument("the inputs' binary_data_size add up to %d bytes (%s), but only %d "
                    + "bytes follow the %d-byte JSON header (Inference-Header-Content-Length)",
                    needed, sizes, available, headerLength);
        }
        return ServalException.invalidArgument("%d bytes follow the %d-byte JSON header "
                + "(Inference-Header-Content-Length), but the inputs' binary_data_size add up to %d (%s): "
                + "%d bytes are left over after the last binary input", available, headerLength, needed, sizes,
                available - needed);
    }

    private static Tensor read(BinaryInput input, InputStream in) throws IOException {
        if (input.type() == DataType.BYTES) {
            byte[] bytes = in.readNBytes(input.size());
            if (bytes.length < input.size()) {
                throw endedEarly(input, bytes.length);
            }
            return new Tensor(input.name(), input.type(), input.shape(), new TensorData.Bytes(elements(input, bytes)));
        }
        ByteBuffer buffer = BufferPool.SHARED.acquire(input.size());
        byte[] chunk = chunk();
        boolean done = false;
        try {
            int filled = 0;
            while (filled < input.size()) {
                int read = in.read(chunk, 0, Math.min(chunk.length, input.size() - filled));
                if (read < 0) {
                    throw endedEarly(input, filled);
                }
                if (input.type() == DataType.BOOL) {
                    requireBooleans(input, chunk, read, filled);
                }
                buffer.put(filled, chunk, 0, read);
                filled += read;
            }
            done = true;
            return new Tensor(input.name(), input.type(), input.shape(), new TensorData.FixedWidth(buffer, true));
        } finally {
            CHUNKS.offer(chunk);
            if (!done) {
                BufferPool.SHARED.release(buffer);
            }
        }
    }

    private static byte[] chunk() {
        byte[] chunk = CHUNKS.poll();
        return chunk != null ? chunk : new byte[CHUNK];
    }

    private static void requireBooleans(BinaryInput input, byte[] chunk, int length, int at) {
        for (int i = 0; i < length; i++) {
            if ((chunk[i] & 0xFE) != 0) {
                throw ServalException.invalidArgument("input '%s' (BOOL) has byte %d at element %d; expected 0 (false) "
                        + "or 1 (true)", input.name(), chunk[i] & 0xFF, at + i);
            }
        }
    }

    /** Cuts a BYTES input into its elements: each a 4-byte little-endian length, then that many bytes. */
    private static byte[][] elements(BinaryInput input, byte[] bytes) {
        // The header checked that the shape's element count fits, at 4 bytes each, in the input.
        int expected = (int) Shapes.elementCount(input.shape());
        byte[][] elements = new byte[expected][];
        int at = 0;
        for (int i = 0; i < expected; i++) {
            if (bytes.length - at < 4) {
                throw ServalException.invalidArgument("input '%s' (BYTES) ends after %d of the %d elements shape %s "
                        + "needs (each a 4-byte length and its bytes)", input.name(), i, expected,
                        Shapes.format(input.shape()));
            }
            long length = (bytes[at] & 0xFFL) | (bytes[at + 1] & 0xFFL) << 8 | (bytes[at + 2] & 0xFFL) << 16
                    | (bytes[at + 3] & 0xFFL) << 24;
            at += 4;
            if (length > bytes.length - at) {
                throw ServalException.invalidArgument("input '%s' (BYTES) element %d declares %d bytes, but only %d of "
                        + "the input's %d bytes remain", input.name(), i, length, bytes.length - at, bytes.length);
            }
            elements[i] = Arrays.copyOfRange(bytes, at, at + (int) length);
            at += (int) length;
        }
        if (at != bytes.length) {
            throw ServalException.invalidArgument("input '%s' (BYTES) has %d bytes left after its %d elements; "
                    + "binary_data_size %d does not match its elements", input.name(), bytes.length - at, expected,
                    bytes.length);
        }
        return elements;
    }

    private static ServalException endedEarly(BinaryInput input, int read) {
        return ServalException.invalidArgument("the body ended after %d of input '%s''s %d binary bytes",
                read, input.name(), input.size());
    }
}
