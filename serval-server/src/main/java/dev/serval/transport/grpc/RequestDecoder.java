package dev.serval.transport.grpc;

import com.google.protobuf.ByteString;
import dev.serval.api.BufferPool;
import dev.serval.api.DataType;
import dev.serval.api.InferenceRequest;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferRequest.InferInputTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns a {@code ModelInferRequest} into an {@link InferenceRequest} whose fixed-width inputs sit in
 * pooled direct little-endian buffers ({@link BufferPool#SHARED}) that ONNX Runtime reads in place.
 *
 * <p>Two encodings, as the protocol has them, never mixed in one request:
 * <ul>
 *   <li>typed {@code contents}: each datatype has its field (INT8/16/32 in {@code int_contents},
 *       UINT8/16/32 in {@code uint_contents} ...); elements are range-checked and written one by one
 *       into the buffer. FP16 and BF16 have no field and must come raw.</li>
 *   <li>{@code raw_input_contents}, one entry per input in the order of {@code inputs}: little-endian
 *       elements, copied once into the buffer; BYTES elements are each a 4-byte little-endian length
 *       followed by that many bytes (Triton's layout).</li>
 * </ul>
 * Sizes are checked against the shape before anything is allocated, so a shape that claims more
 * than the message holds costs nothing. Every error names the input, the value and what was
 * expected; buffers taken before an error go back to the pool.
 *
 * <p>Stateless and thread-safe.
 */
final class RequestDecoder {
    private RequestDecoder() {
    }

    /**
     * @throws ServalException INVALID_ARGUMENT for anything malformed or inconsistent
     */
    static InferenceRequest decode(ModelInferRequest request, String model, String version) {
        int inputCount = request.getInputsCount();
        int rawCount = request.getRawInputContentsCount();
        boolean raw = rawCount > 0;
        if (raw && rawCount != inputCount) {
            throw ServalException.invalidArgument("the request has %d raw_input_contents but %d inputs; "
                    + "send one raw_input_contents entry per input, in the order of inputs", rawCount, inputCount);
        }
        Parameters parameters = ProtoParameters.fromProto(request.getParametersMap(), "parameters");
        List<RequestedOutput> outputs = outputs(request);
        List<Tensor> inputs = new ArrayList<>(inputCount);
        try {
            for (int i = 0; i < inputCount; i++) {
                inputs.add(input(request.getInputs(i), i, raw ? request.getRawInputContents(i) : null));
            }
        } catch (RuntimeException e) {
            inputs.forEach(Tensor::release);
            throw e;
        }
        String id = request.getId().isEmpty() ? null : request.getId();
        return new InferenceRequest(model, version, id, parameters, inputs, outputs);
    }

    /** True when the request sends its inputs in raw_input_contents (and so gets raw outputs back). */
    static boolean usesRawContents(ModelInferRequest request) {
        return request.getRawInputContentsCount() > 0;
    }

    private static List<RequestedOutput> outputs(ModelInferRequest request) {
        if (request.getOutputsCount() == 0) {
            return List.of();
        }
        List<RequestedOutput> outputs = new ArrayList<>(request.getOutputsCount());
        for (int i = 0; i < request.getOutputsCount(); i++) {
            ModelInferRequest.InferRequestedOutputTensor output = request.getOutputs(i);
            if (output.getName().isEmpty()) {
                throw ServalException.invalidArgument("outputs[%d] has no name", i);
            }
            outputs.add(new RequestedOutput(output.getName(),
                    ProtoParameters.fromProto(output.getParametersMap(), "output '" + output.getName() + "' parameter")));
        }
        return outputs;
    }

    /** @param raw the input's raw_input_contents entry, or null when the request uses typed contents */
    private static Tensor input(InferInputTensor input, int index, ByteString raw) {
        if (input.getName().isEmpty()) {
            throw ServalException.invalidArgument("inputs[%d] has no name", index);
        }
        String label = "input '" + input.getName() + "'";
        if (input.getDatatype().isEmpty()) {
            throw ServalException.invalidArgument("%s has no datatype", label);
        }
        DataType type = DataType.parse(label, input.getDatatype());
        long[] shape = shape(input, label);
        long elements;
        try {
            elements = Shapes.elementCount(shape);
        } catch (ArithmeticException e) {
            throw ServalException.invalidArgument("%s shape %s is too large", label, Shapes.format(shape));
        }
        // Input parameters (e.g. a client's binary_data_size) carry nothing the model needs.
        ProtoParameters.fromProto(input.getParametersMap(), label + " parameter");
        Field present = Field.present(input.getContents(), label);
        TensorData data;
        if (raw != null) {
            if (present != null) {
                throw ServalException.invalidArgument("%s has elements in contents.%s and in raw_input_contents[%d]; "
                        + "a request sends all its inputs in raw_input_contents or all in contents, not both",
                        label, present.protoName, index);
            }
            data = type == DataType.BYTES ? rawStrings(raw, label, index, elements) : rawFixed(raw, label, index, type, shape, elements);
        } else {
            data = typed(input.getContents(), present, label, type, shape, elements);
        }
        return new Tensor(input.getName(), type, shape, data);
    }

    private static long[] shape(InferInputTensor input, String label) {
        long[] shape = new long[input.getShapeCount()];
        for (int d = 0; d < shape.length; d++) {
            shape[d] = input.getShape(d);
            if (shape[d] < 0) {
                throw ServalException.invalidArgument("%s shape %s has %d; expected non-negative dimensions",
                        label, formatShape(input), shape[d]);
            }
        }
        return shape;
    }

    private static String formatShape(InferInputTensor input) {
        long[] shape = new long[input.getShapeCount()];
        for (int d = 0; d < shape.length; d++) {
            shape[d] = input.getShape(d);
        }
        return Shapes.format(shape);
    }

    private static TensorData rawFixed(ByteString raw, String label, int index, DataType type, long[] shape,
                                       long elements) {
        long expected = elements <= Long.MAX_VALUE / type.byteSize() ? elements * type.byteSize() : -1;
        if (raw.size() != expected) {
            throw ServalException.invalidArgument("%s has %d bytes in raw_input_contents[%d] but shape %s of %s needs %s "
                    + "(%d elements x %d bytes, little-endian)", label, raw.size(), index, Shapes.format(shape), type,
                    expected < 0 ? "more than 2^63" : Long.toString(expected), elements, type.byteSize());
        }
        ByteBuffer buffer = BufferPool.SHARED.acquire(raw.size());
        raw.copyTo(buffer); // the one copy: protobuf's bytes to the direct buffer ONNX Runtime reads
        return new TensorData.FixedWidth(buffer.flip(), true);
    }

    /** BYTES in raw form: each element is a 4-byte little-endian length, then its bytes. */
    private static TensorData rawStrings(ByteString raw, String label, int index, long elements) {
        ByteBuffer in = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        List<byte[]> out = new ArrayList<>((int) Math.min(elements, 1024));
        while (in.hasRemaining()) {
            if (out.size() == elements) {
                throw ServalException.invalidArgument("%s has more than the %d BYTES elements its shape needs in "
                        + "raw_input_contents[%d] (%d bytes left over)", label, elements, index, in.remaining());
            }
            if (in.remaining() < 4) {
                throw ServalException.invalidArgument("%s raw_input_contents[%d] ends inside the length of element %d: "
                        + "BYTES elements are a 4-byte little-endian length followed by that many bytes",
                        label, index, out.size());
            }
            int length = in.getInt();
            if (length < 0 || length > in.remaining()) {
                throw ServalException.invalidArgument("%s raw_input_contents[%d] element %d has length %s but only %d "
                        + "bytes follow", label, index, out.size(), Integer.toUnsignedString(length), in.remaining());
            }
            byte[] element = new byte[length];
            in.get(element);
            out.add(element);
        }
        if (out.size() != elements) {
            throw ServalException.invalidArgument("%s has %d BYTES elements in raw_input_contents[%d] but its shape "
                    + "needs %d", label, out.size(), index, elements);
        }
        return new TensorData.Bytes(out.toArray(new byte[0][]));
    }

    private static TensorData typed(InferTensorContents contents, Field present, String label, DataType type,
                                    long[] shape, long elements) {
        Field expected = Field.of(type);
        if (expected == null) {
            if (present == null && elements == 0) {
                return new TensorData.FixedWidth(BufferPool.SHARED.acquire(0), true);
            }
            throw ServalException.invalidArgument("%s is %s, which has no typed contents field; send it in "
                    + "raw_input_contents (little-endian, %d bytes per element)", label, type, type.byteSize());
        }
        if (present != null && present != expected) {
            throw ServalException.invalidArgument("%s is %s but its elements are in contents.%s; expected contents.%s",
                    label, type, present.protoName, expected.protoName);
        }
        int count = expected.count(contents);
        if (count != elements) {
            throw ServalException.invalidArgument("%s has %d elements in contents.%s but shape %s needs %d",
                    label, count, expected.protoName, Shapes.format(shape), elements);
        }
        if (type == DataType.BYTES) {
            byte[][] strings = new byte[count][];
            for (int i = 0; i < count; i++) {
                strings[i] = contents.getBytesContents(i).toByteArray();
            }
            return new TensorData.Bytes(strings);
        }
        long bytes = (long) count * type.byteSize();
        if (bytes > Integer.MAX_VALUE - 8) {
            throw ServalException.invalidArgument("%s has %d elements of %s: %d bytes, more than one tensor may hold",
                    label, count, type, bytes);
        }
        ByteBuffer buffer = BufferPool.SHARED.acquire((int) bytes);
        try {
            write(contents, buffer, type, count, label);
        } catch (RuntimeException e) {
            BufferPool.SHARED.release(buffer);
            throw e;
        }
        return new TensorData.FixedWidth(buffer, true);
    }

    /** Writes {@code count} elements from their typed field into {@code out}, little-endian. */
    private static void write(InferTensorContents in, ByteBuffer out, DataType type, int count, String label) {
        switch (type) {
            case BOOL -> {
                for (int i = 0; i < count; i++) {
                    out.put(i, (byte) (in.getBoolContents(i) ? 1 : 0));
                }
            }
            case INT8 -> {
                for (int i = 0; i < count; i++) {
                    out.put(i, (byte) signed(in.getIntContents(i), Byte.MIN_VALUE, Byte.MAX_VALUE, type, label, i));
                }
            }
            case INT16 -> {
                for (int i = 0; i < count; i++) {
                    out.putShort(i << 1, (short) signed(in.getIntContents(i), Short.MIN_VALUE, Short.MAX_VALUE, type, label, i));
                }
            }
            case INT32 -> {
                for (int i = 0; i < count; i++) {
                    out.putInt(i << 2, in.getIntContents(i));
                }
            }
            case INT64 -> {
                for (int i = 0; i < count; i++) {
                    out.putLong(i << 3, in.getInt64Contents(i));
                }
            }
            case UINT8 -> {
                for (int i = 0; i < count; i++) {
                    out.put(i, (byte) unsigned(in.getUintContents(i), 0xFF, type, label, i));
                }
            }
            case UINT16 -> {
                for (int i = 0; i < count; i++) {
                    out.putShort(i << 1, (short) unsigned(in.getUintContents(i), 0xFFFF, type, label, i));
                }
            }
            case UINT32 -> {
                for (int i = 0; i < count; i++) {
                    out.putInt(i << 2, in.getUintContents(i));
                }
            }
            case UINT64 -> {
                for (int i = 0; i < count; i++) {
                    out.putLong(i << 3, in.getUint64Contents(i));
                }
            }
            case FP32 -> {
                for (int i = 0; i < count; i++) {
                    out.putFloat(i << 2, in.getFp32Contents(i));
                }
            }
            case FP64 -> {
                for (int i = 0; i < count; i++) {
                    out.putDouble(i << 3, in.getFp64Contents(i));
                }
            }
            case FP16, BF16, BYTES -> throw new IllegalStateException(type + " has no fixed-width typed field");
        }
    }

    private static int signed(int value, int min, int max, DataType type, String label, int index) {
        if (value < min || value > max) {
            throw ServalException.invalidArgument("%s has %d at contents index %d, outside %s's range [%d, %d]",
                    label, value, index, type, min, max);
        }
        return value;
    }

    /** uint_contents holds uint32: compare as unsigned. */
    private static int unsigned(int value, int max, DataType type, String label, int index) {
        if (Integer.compareUnsigned(value, max) > 0) {
            throw ServalException.invalidArgument("%s has %s at contents index %d, outside %s's range [0, %d]",
                    label, Integer.toUnsignedString(value), index, type, max);
        }
        return value;
    }

    /** The typed fields of InferTensorContents, by their protocol names. */
    private enum Field {
        BOOL("bool_contents"),
        INT("int_contents"),
        INT64("int64_contents"),
        UINT("uint_contents"),
        UINT64("uint64_contents"),
        FP32("fp32_contents"),
        FP64("fp64_contents"),
        BYTES("bytes_contents");

        private static final Field[] VALUES = values();

        final String protoName;

        Field(String protoName) {
            this.protoName = protoName;
        }

        /** The field that carries {@code type}, or null for FP16 and BF16 (raw only). */
        static Field of(DataType type) {
            return switch (type) {
                case BOOL -> BOOL;
                case INT8, INT16, INT32 -> INT;
                case INT64 -> INT64;
                case UINT8, UINT16, UINT32 -> UINT;
                case UINT64 -> UINT64;
                case FP32 -> FP32;
                case FP64 -> FP64;
                case BYTES -> BYTES;
                case FP16, BF16 -> null;
            };
        }

        int count(InferTensorContents contents) {
            return switch (this) {
                case BOOL -> contents.getBoolContentsCount();
                case INT -> contents.getIntContentsCount();
                case INT64 -> contents.getInt64ContentsCount();
                case UINT -> contents.getUintContentsCount();
                case UINT64 -> contents.getUint64ContentsCount();
                case FP32 -> contents.getFp32ContentsCount();
                case FP64 -> contents.getFp64ContentsCount();
                case BYTES -> contents.getBytesContentsCount();
            };
        }

        /**
         * The one field holding elements, or null when none does.
         *
         * @throws ServalException INVALID_ARGUMENT when elements are spread over several fields
         */
        static Field present(InferTensorContents contents, String label) {
            Field found = null;
            for (Field field : VALUES) {
                if (field.count(contents) > 0) {
                    if (found != null) {
                        throw ServalException.invalidArgument("%s has elements in contents.%s and contents.%s; "
                                + "a tensor's elements go in the one field of its datatype", label, found.protoName,
                                field.protoName);
                    }
                    found = field;
                }
            }
            return found;
        }
    }
}
