package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.serval.api.DataType;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.ModelMetadata;
import dev.serval.api.Parameters;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class JsonResponseEncoderTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    // ---------------------------------------------------------------- helpers

    private static Tensor fixed(String name, DataType type, int width, long... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * width).order(ByteOrder.LITTLE_ENDIAN);
        for (long value : values) {
            switch (width) {
                case 1 -> buffer.put((byte) value);
                case 2 -> buffer.putShort((short) value);
                case 4 -> buffer.putInt((int) value);
                default -> buffer.putLong(value);
            }
        }
        return new Tensor(name, type, new long[] {values.length}, new TensorData.FixedWidth(buffer.clear()));
    }

    private static Tensor floats(String name, float... values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return fixed(name, DataType.FP32, 4, bits);
    }

    private static Tensor doubles(String name, double... values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Double.doubleToRawLongBits(values[i]);
        }
        return fixed(name, DataType.FP64, 8, bits);
    }

    private static Tensor strings(String name, String... values) {
        byte[][] elements = new byte[values.length][];
        for (int i = 0; i < values.length; i++) {
            elements[i] = values[i].getBytes(StandardCharsets.UTF_8);
        }
        return new Tensor(name, DataType.BYTES, new long[] {values.length}, new TensorData.Bytes(elements));
    }

    private static InferenceResponse response(Tensor... outputs) {
        return new InferenceResponse("iris", "1", null, Parameters.empty(), List.of(outputs));
    }

    private static String text(Tensor... outputs) {
        return new String(JsonResponseEncoder.inference(response(outputs)), StandardCharsets.UTF_8);
    }

    private static JsonNode data(Tensor output) throws IOException {
        return JSON.readTree(JsonResponseEncoder.inference(response(output))).get("outputs").get(0).get("data");
    }

    /** Turns an encoded response into a request with the same tensors, as a client echoing outputs would. */
    static String asRequest(byte[] encoded) {
        String body = new String(encoded, StandardCharsets.UTF_8);
        int start = body.indexOf("\"outputs\":") + "\"outputs\":".length();
        int end = body.lastIndexOf('}');
        return "{\"inputs\":" + body.substring(start, end) + "}";
    }

    private static byte[] bytes(Tensor tensor) {
        ByteBuffer buffer = tensor.buffer();
        byte[] out = new byte[buffer.limit()];
        buffer.get(0, out);
        return out;
    }

    // ---------------------------------------------------------------- the envelope

    @Test
    void inference_writesModelVersionIdAndOutputs() throws IOException {
        InferenceResponse response = new InferenceResponse("iris", "3", "req-1", Parameters.empty(),
                List.of(floats("logits", 1.5f, -2f)));
        JsonNode root = JSON.readTree(JsonResponseEncoder.inference(response));
        assertThat(root.get("model_name").asText()).isEqualTo("iris");
        assertThat(root.get("model_version").asText()).isEqualTo("3");
        assertThat(root.get("id").asText()).isEqualTo("req-1");
        assertThat(root.has("parameters")).isFalse();
        JsonNode output = root.get("outputs").get(0);
        assertThat(output.get("name").asText()).isEqualTo("logits");
        assertThat(output.get("datatype").asText()).isEqualTo("FP32");
        assertThat(output.get("shape").toString()).isEqualTo("[2]");
        assertThat(output.get("data").toString()).isEqualTo("[1.5,-2.0]");
    }

    @Test
    void inference_omitsIdWhenAbsent() throws IOException {
        JsonNode root = JSON.readTree(JsonResponseEncoder.inference(response(floats("y", 1f))));
        assertThat(root.has("id")).isFalse();
    }

    @Test
    void inference_writesParametersOfEveryType() throws IOException {
        Map<String, Object> values = new LinkedHashMap<>();
        values.put("s", "text");
        values.put("l", Long.MIN_VALUE);
        values.put("d", 0.25);
        values.put("b", true);
        InferenceResponse response = new InferenceResponse("m", "1", null, Parameters.of(values), List.of());
        JsonNode parameters = JSON.readTree(JsonResponseEncoder.inference(response)).get("parameters");
        assertThat(parameters.toString())
                .isEqualTo("{\"s\":\"text\",\"l\":-9223372036854775808,\"d\":0.25,\"b\":true}");
    }

    @Test
    void inference_writesShapeOfEveryRank() throws IOException {
        Tensor matrix = new Tensor("m", DataType.INT8, new long[] {2, 1, 3},
                new TensorData.FixedWidth(ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN)));
        Tensor scalar = new Tensor("s", DataType.INT8, new long[0],
                new TensorData.FixedWidth(ByteBuffer.allocate(1).order(ByteOrder.LITTLE_ENDIAN)));
        JsonNode outputs = JSON.readTree(JsonResponseEncoder.inference(response(matrix, scalar))).get("outputs");
        assertThat(outputs.get(0).get("shape").toString()).isEqualTo("[2,1,3]");
        assertThat(outputs.get(1).get("shape").toString()).isEqualTo("[]");
        assertThat(outputs.get(1).get("data").toString()).isEqualTo("[0]");
    }

    // ---------------------------------------------------------------- every datatype

    @Test
    void inference_writesUnsignedTypesAsUnsigned() {
        assertThat(text(fixed("a", DataType.UINT8, 1, 0, 0xFF))).contains("\"data\":[0,255]");
        assertThat(text(fixed("a", DataType.UINT16, 2, 0, 0xFFFF))).contains("\"data\":[0,65535]");
        assertThat(text(fixed("a", DataType.UINT32, 4, 0, 0xFFFFFFFFL, 0x80000000L)))
                .contains("\"data\":[0,4294967295,2147483648]");
        assertThat(text(fixed("a", DataType.UINT64, 8, 0, -1L, Long.MIN_VALUE)))
                .contains("\"data\":[0,18446744073709551615,9223372036854775808]");
    }

    @Test
    void inference_writesUint64AsJsonNumberNotString() throws IOException {
        JsonNode data = data(fixed("a", DataType.UINT64, 8, -1L));
        assertThat(data.get(0).isNumber()).isTrue();
        assertThat(data.get(0).bigIntegerValue()).isEqualTo(new BigInteger("18446744073709551615"));
    }

    @Test
    void inference_writesSignedTypesWithSign() {
        assertThat(text(fixed("a", DataType.INT8, 1, -128, 127))).contains("\"data\":[-128,127]");
        assertThat(text(fixed("a", DataType.INT16, 2, -32768, 32767))).contains("\"data\":[-32768,32767]");
        assertThat(text(fixed("a", DataType.INT32, 4, Integer.MIN_VALUE, -1)))
                .contains("\"data\":[-2147483648,-1]");
        assertThat(text(fixed("a", DataType.INT64, 8, Long.MIN_VALUE, Long.MAX_VALUE)))
                .contains("\"data\":[-9223372036854775808,9223372036854775807]");
    }

    @Test
    void inference_writesBoolAsJsonBooleans() {
        assertThat(text(fixed("b", DataType.BOOL, 1, 1, 0, 1))).contains("\"data\":[true,false,true]");
    }

    @Test
    void inference_writesAnyNonZeroBoolByteAsTrue() {
        assertThat(text(fixed("b", DataType.BOOL, 1, 2, 0xFF))).contains("\"data\":[true,true]");
    }

    @Test
    void inference_writesHalfPrecisionAsNumbers() {
        assertThat(text(fixed("h", DataType.FP16, 2, 0x3E00, 0xC000, 0x7BFF, 0x0001)))
                .contains("\"data\":[1.5,-2.0,65504.0,5.9604645E-8]");
        assertThat(text(fixed("h", DataType.BF16, 2, 0x3FC0, 0xC000, 0x3DCD)))
                .contains("\"data\":[1.5,-2.0,0.100097656]");
    }

    @Test
    void inference_writesShortestFloatRepresentation() {
        assertThat(text(floats("f", 0.1f, 1e-45f, Float.MAX_VALUE))).contains("\"data\":[0.1,1.4E-45,3.4028235E38]");
        assertThat(text(doubles("d", 0.1, 4.9e-324, -0.0))).contains("\"data\":[0.1,4.9E-324,-0.0]");
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FP16", "BF16", "FP32", "FP64"})
    void inference_writesNaNAndInfinitiesAsStrings(DataType type) {
        Tensor specials = switch (type) {
            case FP16 -> fixed("x", type, 2, 0x7E00, 0x7C00, 0xFC00);
            case BF16 -> fixed("x", type, 2, 0x7FC0, 0x7F80, 0xFF80);
            case FP32 -> floats("x", Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY);
            default -> doubles("x", Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY);
        };
        assertThat(text(specials)).contains("\"data\":[\"NaN\",\"Infinity\",\"-Infinity\"]");
    }

    @Test
    void inference_escapesBytesAsJsonStrings() throws IOException {
        String[] values = {"", "plain", "with \"quotes\" and \\ backslash", "tab\tnewline\n\u0001", "Grüße, 世界", "emoji 🐱"};
        JsonNode data = data(strings("s", values));
        assertThat(data).hasSize(values.length);
        for (int i = 0; i < values.length; i++) {
            assertThat(data.get(i).asText()).isEqualTo(values[i]);
        }
    }

    // ---------------------------------------------------------------- round trip

    /** Random elements of every type, with NaNs made canonical (their payload is not carried by JSON). */
    static Tensor random(DataType type, Random random, int count) {
        if (type == DataType.BYTES) {
            String[] values = new String[count];
            for (int i = 0; i < count; i++) {
                StringBuilder value = new StringBuilder();
                int length = random.nextInt(8);
                for (int c = 0; c < length; c++) {
                    int codePoint;
                    do {
                        codePoint = random.nextInt(4) == 0 ? random.nextInt(0x20000) : random.nextInt(0x80);
                    } while (Character.isSurrogate((char) codePoint) && codePoint < 0x10000);
                    value.appendCodePoint(codePoint);
                }
                values[i] = value.toString();
            }
            return strings("x", values);
        }
        ByteBuffer buffer = ByteBuffer.allocate(count * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        byte[] noise = new byte[buffer.capacity()];
        random.nextBytes(noise);
        buffer.put(0, noise);
        for (int i = 0; i < count; i++) {
            switch (type) {
                case BOOL -> buffer.put(i, (byte) (noise[i] & 1));
                case FP16 -> {
                    if (Float.isNaN(Float.float16ToFloat(buffer.getShort(i * 2)))) {
                        buffer.putShort(i * 2, (short) 0x7E00);
                    }
                }
                case BF16 -> {
                    if (Float.isNaN(Float.intBitsToFloat((buffer.getShort(i * 2) & 0xFFFF) << 16))) {
                        buffer.putShort(i * 2, (short) 0x7FC0);
                    }
                }
                case FP32 -> {
                    if (Float.isNaN(buffer.getFloat(i * 4))) {
                        buffer.putInt(i * 4, 0x7FC00000);
                    }
                }
                case FP64 -> {
                    if (Double.isNaN(buffer.getDouble(i * 8))) {
                        buffer.putLong(i * 8, 0x7FF8000000000000L);
                    }
                }
                default -> {
                }
            }
        }
        return new Tensor("x", type, new long[] {count}, new TensorData.FixedWidth(buffer));
    }

    @ParameterizedTest
    @EnumSource(DataType.class)
    void inference_decodesBackToIdenticalElements(DataType type) {
        Random random = new Random(type.ordinal() * 31L + 5);
        for (int round = 0; round < 20; round++) {
            Tensor original = random(type, random, 1 + random.nextInt(64));
            byte[] encoded = JsonResponseEncoder.inference(response(original));
            byte[] request = asRequest(encoded).getBytes(StandardCharsets.UTF_8);
            InferenceRequest decoded = JsonRequestDecoder.decode(request, 0, request.length, "m", "1", List.of());
            Tensor back = decoded.inputs().get(0);
            assertThat(back.type()).isEqualTo(type);
            assertThat(back.shape()).containsExactly(original.shape());
            if (type == DataType.BYTES) {
                assertThat(back.bytesElements()).isDeepEqualTo(original.bytesElements());
            } else {
                assertThat(bytes(back)).as("%s round %d: %s", type, round, asRequest(encoded))
                        .isEqualTo(bytes(original));
            }
        }
    }

    @Test
    void inference_decodesBackSpecialFloatValues() {
        List<Tensor> outputs = new ArrayList<>();
        outputs.add(floats("f", -0.0f, Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, Float.NaN,
                Float.NEGATIVE_INFINITY, 16777217f, 0.3f));
        outputs.add(doubles("d", -0.0, Double.MIN_VALUE, Double.MAX_VALUE, Double.NaN, 0.1 + 0.2, 9007199254740993.0));
        outputs.add(fixed("h", DataType.FP16, 2, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0x3555));
        outputs.add(fixed("b", DataType.BF16, 2, 0x8000, 0x0001, 0x7F7F, 0xFF80, 0x3EAB));
        InferenceResponse response = new InferenceResponse("m", "1", null, Parameters.empty(), outputs);
        byte[] request = asRequest(JsonResponseEncoder.inference(response)).getBytes(StandardCharsets.UTF_8);
        List<Tensor> back = JsonRequestDecoder.decode(request, 0, request.length, "m", "1", List.of()).inputs();
        for (int i = 0; i < outputs.size(); i++) {
            assertThat(bytes(back.get(i))).as(outputs.get(i).name()).isEqualTo(bytes(outputs.get(i)));
        }
    }

    @Test
    void inference_decodesBackThroughAnOffset() {
        Tensor original = fixed("x", DataType.INT32, 4, 1, -2, 3);
        String request = asRequest(JsonResponseEncoder.inference(response(original)));
        byte[] body = ("PREFIX" + request + "SUFFIX").getBytes(StandardCharsets.UTF_8);
        Tensor back = JsonRequestDecoder.decode(body, 6, body.length - 12, "m", "1", List.of()).inputs().get(0);
        assertThat(bytes(back)).isEqualTo(bytes(original));
    }

    // ---------------------------------------------------------------- other documents

    @Test
    void modelMetadata_writesVersionsPlatformAndSpecs() throws IOException {
        ModelMetadata metadata = new ModelMetadata("iris", List.of("1", "2"), "onnxruntime_onnx",
                List.of(new TensorSpec("input", DataType.FP32, new long[] {-1, 4})),
                List.of(new TensorSpec("logits", DataType.FP32, new long[] {-1, 3}),
                        new TensorSpec("label", DataType.BYTES, new long[] {-1})));
        JsonNode root = JSON.readTree(JsonResponseEncoder.modelMetadata(metadata));
        assertThat(root.toString()).isEqualTo("{\"name\":\"iris\",\"versions\":[\"1\",\"2\"],"
                + "\"platform\":\"onnxruntime_onnx\","
                + "\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[-1,4]}],"
                + "\"outputs\":[{\"name\":\"logits\",\"datatype\":\"FP32\",\"shape\":[-1,3]},"
                + "{\"name\":\"label\",\"datatype\":\"BYTES\",\"shape\":[-1]}]}");
    }

    @Test
    void error_writesMessageEscaped() throws IOException {
        String message = "input 'x' has \"quotes\", a \\ and a newline\n";
        JsonNode root = JSON.readTree(JsonResponseEncoder.error(ServalException.invalidArgument(message)));
        assertThat(root.get("error").asText()).isEqualTo(message);
        assertThat(root.size()).isEqualTo(1);
    }

    @Test
    void write_returnsExactlyTheDocument() {
        byte[] body = JsonResponseEncoder.write(1, json -> {
            json.writeStartObject();
            json.writeStringField("k", "v".repeat(100));
            json.writeEndObject();
        });
        assertThat(new String(body, StandardCharsets.UTF_8)).isEqualTo("{\"k\":\"" + "v".repeat(100) + "\"}");
    }
}
