package dev.serval.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.serval.protocol.grpc.InferParameter;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.protocol.grpc.ModelMetadataResponse;
import dev.serval.protocol.grpc.RepositoryIndexResponse;
import dev.serval.protocol.grpc.ServerMetadataResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The gRPC wire's messages. Inputs always travel in {@code raw_input_contents}: a {@code byte[]} or
 * {@link ByteBuffer} input is wrapped as it is, any other array is laid out once into a new array
 * that is then wrapped. Outputs in {@code raw_output_contents} are viewed in place; outputs in typed
 * {@code contents} (which other servers may send) are laid out into the same binary form.
 *
 * <p>Stateless and thread-safe.
 */
final class GrpcCodec {
    private GrpcCodec() {
    }

    static ModelInferRequest encode(InferRequest request) {
        ModelInferRequest.Builder message = ModelInferRequest.newBuilder().setModelName(request.model());
        request.version().ifPresent(message::setModelVersion);
        request.id().ifPresent(message::setId);
        request.parameters().forEach((name, value) -> message.putParameters(name, parameter(value)));
        for (InferInput input : request.inputs()) {
            ModelInferRequest.InferInputTensor.Builder tensor = ModelInferRequest.InferInputTensor.newBuilder()
                    .setName(input.name())
                    .setDatatype(input.datatype().name());
            for (long dim : input.shapeUnsafe()) {
                tensor.addShape(dim);
            }
            message.addInputs(tensor);
            message.addRawInputContents(raw(input));
        }
        for (RequestedOutput output : request.outputs()) {
            ModelInferRequest.InferRequestedOutputTensor.Builder tensor =
                    ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName(output.name());
            if (output.classification() > 0) {
                tensor.putParameters("classification", InferParameter.newBuilder().setInt64Param(output.classification()).build());
            }
            message.addOutputs(tensor);
        }
        return message.build();
    }

    /** The input's binary layout as a ByteString, without copying what is already bytes. */
    private static ByteString raw(InferInput input) {
        return switch (input.data()) {
            case byte[] bytes -> UnsafeByteOperations.unsafeWrap(bytes);
            case ByteBuffer buffer -> UnsafeByteOperations.unsafeWrap(buffer.duplicate());
            default -> UnsafeByteOperations.unsafeWrap(input.toBinary());
        };
    }

    static InferParameter parameter(Object value) {
        InferParameter.Builder parameter = InferParameter.newBuilder();
        switch (value) {
            case String text -> parameter.setStringParam(text);
            case Boolean flag -> parameter.setBoolParam(flag);
            case Long number -> parameter.setInt64Param(number);
            case Double number -> parameter.setDoubleParam(number);
            default -> throw new IllegalStateException("unexpected parameter value " + value);
        }
        return parameter.build();
    }

    static Map<String, Object> parameters(Map<String, InferParameter> parameters) {
        if (parameters.isEmpty()) {
            return Map.of();
        }
        Map<String, Object> values = new LinkedHashMap<>();
        parameters.forEach((name, parameter) -> {
            switch (parameter.getParameterChoiceCase()) {
                case BOOL_PARAM -> values.put(name, parameter.getBoolParam());
                case INT64_PARAM -> values.put(name, parameter.getInt64Param());
                case STRING_PARAM -> values.put(name, parameter.getStringParam());
                case DOUBLE_PARAM -> values.put(name, parameter.getDoubleParam());
                case UINT64_PARAM -> {
                    long bits = parameter.getUint64Param();
                    values.put(name, bits >= 0 ? (Object) bits : (Object) Double.parseDouble(Long.toUnsignedString(bits)));
                }
                case PARAMETERCHOICE_NOT_SET -> {
                }
            }
        });
        return values;
    }

    static InferResult decodeInfer(ModelInferResponse response) {
        int raw = response.getRawOutputContentsCount();
        if (raw > 0 && raw != response.getOutputsCount()) {
            throw Errors.invalidResponse("the response has " + response.getOutputsCount() + " outputs but "
                    + raw + " raw_output_contents", null);
        }
        List<InferOutput> outputs = new ArrayList<>(response.getOutputsCount());
        for (int i = 0; i < response.getOutputsCount(); i++) {
            ModelInferResponse.InferOutputTensor tensor = response.getOutputs(i);
            String where = "output '" + tensor.getName() + "'";
            DataType type = datatype(tensor.getDatatype(), where);
            long[] shape = new long[tensor.getShapeCount()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = tensor.getShape(d);
            }
            ByteBuffer data;
            if (raw > 0) {
                if (tensor.hasContents()) {
                    throw Errors.invalidResponse(where + " has contents although the response uses raw_output_contents", null);
                }
                data = response.getRawOutputContents(i).asReadOnlyByteBuffer();
            } else {
                data = fromContents(tensor.getContents(), type, shape, where);
            }
            outputs.add(new InferOutput(tensor.getName(), type, shape, parameters(tensor.getParametersMap()), data));
        }
        return new InferResult(response.getModelName(), response.getModelVersion(),
                response.getId().isEmpty() ? null : response.getId(), parameters(response.getParametersMap()), outputs);
    }

    /** Typed contents laid out as the binary form, with every value checked against its datatype. */
    private static ByteBuffer fromContents(InferTensorContents contents, DataType type, long[] shape, String where) {
        long expected;
        try {
            expected = InferInput.elementCount(where, shape);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw Errors.invalidResponse(e.getMessage(), e);
        }
        int count = switch (type) {
            case BOOL -> contents.getBoolContentsCount();
            case INT8, INT16, INT32 -> contents.getIntContentsCount();
            case INT64 -> contents.getInt64ContentsCount();
            case UINT8, UINT16, UINT32 -> contents.getUintContentsCount();
            case UINT64 -> contents.getUint64ContentsCount();
            case FP32 -> contents.getFp32ContentsCount();
            case FP64 -> contents.getFp64ContentsCount();
            case BYTES -> contents.getBytesContentsCount();
            case FP16, BF16 -> throw Errors.invalidResponse(where + " is " + type + " but has no raw_output_contents", null);
        };
        if (count != expected) {
            throw Errors.invalidResponse(where + " has " + count + " " + type + " contents but its shape needs " + expected, null);
        }
        if (type == DataType.BYTES) {
            long total = 0;
            for (ByteString element : contents.getBytesContentsList()) {
                total += 4 + element.size();
            }
            if (total > Integer.MAX_VALUE - 8) {
                throw Errors.invalidResponse(where + " is too large", null);
            }
            ByteBuffer out = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
            for (ByteString element : contents.getBytesContentsList()) {
                out.putInt(element.size());
                element.copyTo(out);
            }
            return out.flip();
        }
        ByteBuffer out = ByteBuffer.allocate(count * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            switch (type) {
                case BOOL -> out.put(contents.getBoolContents(i) ? (byte) 1 : (byte) 0);
                case INT8 -> out.put((byte) checked(contents.getIntContents(i), Byte.MIN_VALUE, Byte.MAX_VALUE, where, i));
                case INT16 -> out.putShort((short) checked(contents.getIntContents(i), Short.MIN_VALUE, Short.MAX_VALUE, where, i));
                case INT32 -> out.putInt(contents.getIntContents(i));
                case INT64 -> out.putLong(contents.getInt64Contents(i));
                case UINT8 -> out.put((byte) checked(contents.getUintContents(i) & 0xFFFF_FFFFL, 0, 0xFF, where, i));
                case UINT16 -> out.putShort((short) checked(contents.getUintContents(i) & 0xFFFF_FFFFL, 0, 0xFFFF, where, i));
                case UINT32 -> out.putInt(contents.getUintContents(i));
                case UINT64 -> out.putLong(contents.getUint64Contents(i));
                case FP32 -> out.putFloat(contents.getFp32Contents(i));
                case FP64 -> out.putDouble(contents.getFp64Contents(i));
                default -> throw new IllegalStateException("handled above: " + type);
            }
        }
        return out.flip();
    }

    private static long checked(long value, long min, long max, String where, int index) {
        if (value < min || value > max) {
            throw Errors.invalidResponse(where + " element " + index + " is " + value + ", outside [" + min + ", " + max + "]", null);
        }
        return value;
    }

    static ServerMetadata decodeServer(ServerMetadataResponse response) {
        return new ServerMetadata(response.getName(), response.getVersion(), response.getExtensionsList());
    }

    static ModelMetadata decodeModel(ModelMetadataResponse response) {
        return new ModelMetadata(response.getName(), response.getVersionsList(), response.getPlatform(),
                tensors(response.getInputsList(), "input"), tensors(response.getOutputsList(), "output"));
    }

    static List<ModelIndexEntry> decodeIndex(RepositoryIndexResponse response) {
        List<ModelIndexEntry> rows = new ArrayList<>(response.getModelsCount());
        for (RepositoryIndexResponse.ModelIndex row : response.getModelsList()) {
            rows.add(new ModelIndexEntry(row.getName(), row.getVersion(), row.getState(), row.getReason()));
        }
        return rows;
    }

    private static List<ModelMetadata.Tensor> tensors(List<ModelMetadataResponse.TensorMetadata> list, String kind) {
        List<ModelMetadata.Tensor> tensors = new ArrayList<>(list.size());
        for (ModelMetadataResponse.TensorMetadata tensor : list) {
            long[] shape = new long[tensor.getShapeCount()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = tensor.getShape(d);
            }
            tensors.add(new ModelMetadata.Tensor(tensor.getName(),
                    datatype(tensor.getDatatype(), "model metadata " + kind + " '" + tensor.getName() + "'"), shape));
        }
        return tensors;
    }

    private static DataType datatype(String name, String where) {
        try {
            return DataType.of(name);
        } catch (IllegalArgumentException e) {
            throw Errors.invalidResponse(where + ": " + e.getMessage(), e);
        }
    }
}
