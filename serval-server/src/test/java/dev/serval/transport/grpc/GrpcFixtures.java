package dev.serval.transport.grpc;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferRequest.InferInputTensor;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.protocol.grpc.ModelInferResponse.InferOutputTensor;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Test support for the gRPC transport: channels to a test server, requests built from the
 * reference JSON (typed or raw), and outputs reduced to canonical strings (raw bits for floats) so
 * gRPC and REST answers compare exactly.
 */
final class GrpcFixtures {
    /** Keeps every decimal as written, so FP32 values round once, from their text. */
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    private GrpcFixtures() {
    }

    static ManagedChannel channel(int port) {
        return Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create()).build();
    }

    static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub(ManagedChannel channel) {
        return GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    static void close(ManagedChannel channel) throws InterruptedException {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }

    static JsonNode read(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A ModelInferRequest with the inputs of a v2 JSON request, in typed contents or raw. */
    static ModelInferRequest request(String model, JsonNode json, boolean raw) {
        ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName(model);
        for (JsonNode input : json.get("inputs")) {
            InferInputTensor.Builder tensor = request.addInputsBuilder()
                    .setName(input.get("name").asText())
                    .setDatatype(input.get("datatype").asText());
            input.get("shape").forEach(dim -> tensor.addShape(dim.asLong()));
            List<JsonNode> data = flatten(input.get("data"));
            String type = input.get("datatype").asText();
            if (raw) {
                request.addRawInputContents(raw(type, data));
            } else {
                tensor.setContents(typed(type, data));
            }
        }
        return request.build();
    }

    static InferTensorContents typed(String type, List<JsonNode> data) {
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        for (JsonNode value : data) {
            String text = text(value);
            switch (type) {
                case "BOOL" -> contents.addBoolContents(value.asBoolean());
                case "INT8", "INT16", "INT32" -> contents.addIntContents(Integer.parseInt(text));
                case "INT64" -> contents.addInt64Contents(Long.parseLong(text));
                case "UINT8", "UINT16", "UINT32" -> contents.addUintContents((int) Long.parseLong(text));
                case "UINT64" -> contents.addUint64Contents(new BigInteger(text).longValue());
                case "FP32" -> contents.addFp32Contents(Float.parseFloat(text));
                case "FP64" -> contents.addFp64Contents(Double.parseDouble(text));
                case "BYTES" -> contents.addBytesContents(ByteString.copyFromUtf8(text));
                default -> throw new IllegalArgumentException(type);
            }
        }
        return contents.build();
    }

    static ByteString raw(String type, List<JsonNode> data) {
        if (type.equals("BYTES")) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (JsonNode value : data) {
                byte[] element = text(value).getBytes(StandardCharsets.UTF_8);
                out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(element.length).array());
                out.writeBytes(element);
            }
            return ByteString.copyFrom(out.toByteArray());
        }
        int size = switch (type) {
            case "BOOL", "INT8", "UINT8" -> 1;
            case "INT16", "UINT16", "FP16", "BF16" -> 2;
            case "INT32", "UINT32", "FP32" -> 4;
            default -> 8;
        };
        ByteBuffer out = ByteBuffer.allocate(size * data.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (JsonNode value : data) {
            String text = text(value);
            switch (type) {
                case "BOOL" -> out.put((byte) (value.asBoolean() ? 1 : 0));
                case "INT8", "UINT8" -> out.put((byte) Integer.parseInt(text));
                case "INT16", "UINT16" -> out.putShort((short) Integer.parseInt(text));
                case "INT32", "UINT32" -> out.putInt((int) Long.parseLong(text));
                case "INT64" -> out.putLong(Long.parseLong(text));
                case "UINT64" -> out.putLong(new BigInteger(text).longValue());
                case "FP32" -> out.putFloat(Float.parseFloat(text));
                case "FP64" -> out.putDouble(Double.parseDouble(text));
                default -> throw new IllegalArgumentException(type);
            }
        }
        return ByteString.copyFrom(out.array());
    }

    /** The elements of output {@code index} as canonical strings, from typed or raw contents. */
    static List<String> canonical(ModelInferResponse response, int index) {
        InferOutputTensor output = response.getOutputs(index);
        String type = output.getDatatype();
        List<String> values = new ArrayList<>();
        if (response.getRawOutputContentsCount() > 0) {
            ByteBuffer in = response.getRawOutputContents(index).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            while (in.hasRemaining()) {
                values.add(switch (type) {
                    case "BOOL" -> Boolean.toString(in.get() != 0);
                    case "INT8" -> Byte.toString(in.get());
                    case "UINT8" -> Integer.toString(in.get() & 0xFF);
                    case "INT16" -> Short.toString(in.getShort());
                    case "UINT16" -> Integer.toString(in.getShort() & 0xFFFF);
                    case "INT32" -> Integer.toString(in.getInt());
                    case "UINT32" -> Integer.toUnsignedString(in.getInt());
                    case "INT64" -> Long.toString(in.getLong());
                    case "UINT64" -> Long.toUnsignedString(in.getLong());
                    case "FP32" -> bits(in.getFloat());
                    case "FP64" -> bits(in.getDouble());
                    case "BYTES" -> {
                        byte[] element = new byte[in.getInt()];
                        in.get(element);
                        yield new String(element, StandardCharsets.UTF_8);
                    }
                    default -> throw new IllegalArgumentException(type);
                });
            }
            return values;
        }
        InferTensorContents c = output.getContents();
        switch (type) {
            case "BOOL" -> c.getBoolContentsList().forEach(v -> values.add(v.toString()));
            case "INT8", "INT16", "INT32" -> c.getIntContentsList().forEach(v -> values.add(v.toString()));
            case "UINT8", "UINT16", "UINT32" -> c.getUintContentsList().forEach(v -> values.add(Integer.toUnsignedString(v)));
            case "INT64" -> c.getInt64ContentsList().forEach(v -> values.add(v.toString()));
            case "UINT64" -> c.getUint64ContentsList().forEach(v -> values.add(Long.toUnsignedString(v)));
            case "FP32" -> c.getFp32ContentsList().forEach(v -> values.add(bits(v)));
            case "FP64" -> c.getFp64ContentsList().forEach(v -> values.add(bits(v)));
            case "BYTES" -> c.getBytesContentsList().forEach(v -> values.add(v.toStringUtf8()));
            default -> throw new IllegalArgumentException(type);
        }
        return values;
    }

    /** The elements of a REST JSON output as canonical strings. */
    static List<String> canonical(JsonNode output) {
        String type = output.get("datatype").asText();
        List<String> values = new ArrayList<>();
        for (JsonNode value : flatten(output.get("data"))) {
            String text = text(value);
            values.add(switch (type) {
                case "BOOL" -> Boolean.toString(value.asBoolean());
                case "FP32" -> bits(Float.parseFloat(text));
                case "FP64" -> bits(Double.parseDouble(text));
                default -> text;
            });
        }
        return values;
    }

    static List<JsonNode> flatten(JsonNode data) {
        List<JsonNode> out = new ArrayList<>();
        flatten(data, out);
        return out;
    }

    private static void flatten(JsonNode node, List<JsonNode> out) {
        if (node.isArray()) {
            node.forEach(child -> flatten(child, out));
        } else {
            out.add(node);
        }
    }

    /** A JSON value as written: numbers keep their decimal text (BigDecimal), strings their text. */
    static String text(JsonNode value) {
        if (value.isNumber()) {
            return value.isBigDecimal() ? value.decimalValue().toString() : value.numberValue().toString();
        }
        return value.asText();
    }

    private static String bits(float value) {
        return "f" + Integer.toHexString(Float.floatToRawIntBits(value));
    }

    private static String bits(double value) {
        return "d" + Long.toHexString(Double.doubleToRawLongBits(value));
    }

    /** Reads a float as a double, for tolerance checks. */
    static double value(String canonical) {
        if (canonical.startsWith("f")) {
            return Float.intBitsToFloat(Integer.parseUnsignedInt(canonical.substring(1), 16));
        }
        if (canonical.startsWith("d")) {
            return Double.longBitsToDouble(Long.parseUnsignedLong(canonical.substring(1), 16));
        }
        return Double.parseDouble(canonical);
    }
}
