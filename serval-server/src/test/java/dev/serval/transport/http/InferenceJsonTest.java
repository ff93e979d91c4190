package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.api.DataType;
import dev.serval.api.InferenceResponse;
import dev.serval.api.Parameters;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
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
import org.junit.jupiter.params.provider.ValueSource;

/** {@link InferenceJson} writes exactly the bytes Jackson writes, or leaves the response to Jackson. */
class InferenceJsonTest {

    private static Tensor randomTensor(String name, DataType type, Random random) {
        int rank = random.nextInt(4);
        long[] shape = new long[rank];
        int count = 1;
        for (int d = 0; d < rank; d++) {
            shape[d] = random.nextInt(5);
            count *= (int) shape[d];
        }
        if (type == DataType.BYTES) {
            byte[][] elements = new byte[count][];
            for (int i = 0; i < count; i++) {
                elements[i] = ("s" + random.nextInt(1000)).getBytes(StandardCharsets.US_ASCII);
            }
            return new Tensor(name, type, shape, new TensorData.Bytes(elements));
        }
        byte[] noise = new byte[count * type.byteSize()];
        random.nextBytes(noise);
        ByteBuffer buffer = ByteBuffer.wrap(noise).order(ByteOrder.LITTLE_ENDIAN);
        // Some of the values every writer treats apart: zeros, infinities, NaN, the extremes.
        for (int i = 0; i < count; i++) {
            if (random.nextInt(4) != 0) {
                continue;
            }
            switch (type) {
                case FP32 -> buffer.putFloat(i * 4, pickFloat(random, 0f, -0f, Float.NaN, Float.POSITIVE_INFINITY,
                        Float.NEGATIVE_INFINITY, Float.MIN_VALUE, Float.MAX_VALUE, 1e7f, 1e-3f));
                case FP64 -> buffer.putDouble(i * 8, pickDouble(random, 0d, -0d, Double.NaN, Double.POSITIVE_INFINITY,
                        Double.NEGATIVE_INFINITY, Double.MIN_VALUE, -Double.MIN_NORMAL, 1e7, 1e-3));
                case INT64, UINT64 -> buffer.putLong(i * 8, pickLong(random, 0L, -1L, Long.MIN_VALUE, Long.MAX_VALUE, 10L));
                case FP16 -> buffer.putShort(i * 2, pickShort(random, 0x7C00, 0xFC00, 0x7E00, 0x8000, 0x0001));
                case BF16 -> buffer.putShort(i * 2, pickShort(random, 0x7F80, 0xFF80, 0x7FC0, 0x8000, 0x0001));
                default -> {
                }
            }
        }
        return new Tensor(name, type, shape, new TensorData.FixedWidth(buffer));
    }

    private static float pickFloat(Random random, float... values) {
        return values[random.nextInt(values.length)];
    }

    private static double pickDouble(Random random, double... values) {
        return values[random.nextInt(values.length)];
    }

    private static long pickLong(Random random, long... values) {
        return values[random.nextInt(values.length)];
    }

    private static short pickShort(Random random, int... values) {
        return (short) values[random.nextInt(values.length)];
    }

    private static Parameters randomParameters(Random random) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (int i = random.nextInt(4); i > 0; i--) {
            String name = "p" + random.nextInt(100);
            values.put(name, switch (random.nextInt(4)) {
                case 0 -> "text " + random.nextInt(100);
                case 1 -> random.nextLong();
                case 2 -> pickDouble(random, random.nextDouble(), Double.NaN, Double.NEGATIVE_INFINITY, 1e300, -0d);
                default -> random.nextBoolean();
            });
        }
        return Parameters.of(values);
    }

    private static void assertSameAsJackson(InferenceResponse response, boolean[] binary) {
        byte[] written = InferenceJson.write(response, binary);
        assertThat(written).as("written without Jackson").isNotNull();
        assertThat(new String(written, StandardCharsets.UTF_8))
                .isEqualTo(new String(JsonResponseEncoder.inferenceWithJackson(response, binary), StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = "BYTES", mode = EnumSource.Mode.EXCLUDE)
    void write_matchesJacksonForEveryFixedWidthType(DataType type) {
        Random random = new Random(17L * type.ordinal() + 3);
        for (int round = 0; round < 300; round++) {
            List<Tensor> outputs = new ArrayList<>();
            for (int i = random.nextInt(3); i >= 0; i--) {
                outputs.add(randomTensor("out" + i, type, random));
            }
            String id = random.nextBoolean() ? null : "req-" + random.nextInt(1000);
            InferenceResponse response = new InferenceResponse("model_" + round, String.valueOf(round % 7), id,
                    randomParameters(random), outputs);
            assertSameAsJackson(response, null);
        }
    }

    @Test
    void write_matchesJacksonForBinaryOutputs_BYTESIncluded() {
        Random random = new Random(11);
        for (int round = 0; round < 200; round++) {
            DataType[] types = DataType.values();
            List<Tensor> outputs = new ArrayList<>();
            boolean[] binary = new boolean[1 + random.nextInt(3)];
            for (int i = 0; i < binary.length; i++) {
                DataType type = types[random.nextInt(types.length)];
                outputs.add(randomTensor("o" + i, type, random));
                binary[i] = type == DataType.BYTES || random.nextBoolean();
            }
            assertSameAsJackson(new InferenceResponse("m", "1", null, Parameters.empty(), outputs), binary);
        }
    }

    @Test
    void write_growsPastItsFirstGuess() {
        // Doubles of 20-odd chars each: far more than the 12 bytes per element first allocated.
        double[] values = new double[5000];
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length; i++) {
            buffer.putDouble(i * 8, -Double.MIN_NORMAL * (i + 1));
        }
        Tensor big = new Tensor("big", DataType.FP64, new long[] {values.length}, new TensorData.FixedWidth(buffer));
        assertSameAsJackson(new InferenceResponse("m", "1", "x".repeat(5000), Parameters.empty(), List.of(big)), null);
    }

    @Test
    void write_writesTheIrisAnswer() {
        ByteBuffer logits = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f)
                .putFloat(0.1f).flip();
        Tensor output = new Tensor("logits", DataType.FP32, new long[] {1, 3}, new TensorData.FixedWidth(logits));
        byte[] written = InferenceJson.write(new InferenceResponse("iris", "1", null, Parameters.empty(), List.of(output)),
                null);
        assertThat(new String(written, StandardCharsets.US_ASCII)).isEqualTo("{\"model_name\":\"iris\",\"model_version\":\"1\","
                + "\"outputs\":[{\"name\":\"logits\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1.5,-2.0,0.1]}]}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"quote\"", "back\\slash", "tab\t", "caf\u00e9", "del\u007f", "emoji\ud83d\ude00", "nul\u0000"})
    void write_leavesStringsThatNeedEscapingToJackson(String text) {
        Tensor output = randomTensor("y", DataType.FP32, new Random(1));
        List<InferenceResponse> responses = List.of(
                new InferenceResponse(text, "1", null, Parameters.empty(), List.of(output)),
                new InferenceResponse("m", text, null, Parameters.empty(), List.of(output)),
                new InferenceResponse("m", "1", text, Parameters.empty(), List.of(output)),
                new InferenceResponse("m", "1", null, Parameters.of(Map.of(text, 1L)), List.of(output)),
                new InferenceResponse("m", "1", null, Parameters.of(Map.of("p", text)), List.of(output)),
                new InferenceResponse("m", "1", null, Parameters.empty(),
                        List.of(new Tensor(text, DataType.FP32, output.shape(), output.data()))));
        for (InferenceResponse response : responses) {
            assertThat(InferenceJson.write(response, null)).isNull();
            assertThat(JsonResponseEncoder.inference(response)).isEqualTo(JsonResponseEncoder.inferenceWithJackson(response, null));
        }
    }

    @Test
    void write_leavesBytesOutputsInJsonToJackson() {
        Tensor strings = randomTensor("s", DataType.BYTES, new Random(2));
        InferenceResponse response = new InferenceResponse("m", "1", null, Parameters.empty(), List.of(strings));
        assertThat(InferenceJson.write(response, null)).isNull();
        assertThat(InferenceJson.write(response, new boolean[] {false})).isNull();
        assertThat(InferenceJson.write(response, new boolean[] {true})).isNotNull();
    }

    @Test
    void plain_acceptsPrintableAsciiOnly() {
        assertThat(InferenceJson.plain(" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~")).isTrue();
        assertThat(InferenceJson.plain("")).isTrue();
        assertThat(InferenceJson.plain("\u001f")).isFalse();
        assertThat(InferenceJson.plain("\"")).isFalse();
        assertThat(InferenceJson.plain("\\")).isFalse();
        assertThat(InferenceJson.plain("\u007f")).isFalse();
    }
}
