package dev.serval.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.serval.client.ServalClientException.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** JSON tensors in both directions, and the answers the decoder must refuse. */
class JsonCodecTest {

    private static String json(InferRequest request) {
        return new String(JsonCodec.encodeJson(request).bytes(), UTF_8);
    }

    @Test
    void encode_writesEveryInputKindAsJsonElements() {
        ByteBuffer fp16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
                .putShort(Float.floatToFloat16(1.5f)).putShort(Float.floatToFloat16(Float.NEGATIVE_INFINITY)).flip();
        ByteBuffer uint64 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L).flip();
        String body = json(InferRequest.builder("m").id("a\"b")
                .input(InferInput.fp32("f", new long[] {3}, new float[] {0.1f, Float.NaN, -0.0f}))
                .input(InferInput.uint8("u", new long[] {2}, new byte[] {(byte) 255, 1}))
                .input(InferInput.int8("i", new long[] {1}, new byte[] {(byte) 255}))
                .input(InferInput.bool("b", new long[] {2}, new boolean[] {true, false}))
                .input(InferInput.bytes("s", new long[] {2}, new String[] {"q\"uote\n", "Grüße"}))
                .input(InferInput.of("h", DataType.FP16, new long[] {2}, fp16))
                .input(InferInput.of("w", DataType.UINT64, new long[] {}, uint64))
                .output("y", 2)
                .build());
        assertThat(body).isEqualTo("{\"id\":\"a\\\"b\",\"inputs\":["
                + "{\"name\":\"f\",\"shape\":[3],\"datatype\":\"FP32\",\"data\":[0.1,\"NaN\",-0.0]},"
                + "{\"name\":\"u\",\"shape\":[2],\"datatype\":\"UINT8\",\"data\":[255,1]},"
                + "{\"name\":\"i\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[-1]},"
                + "{\"name\":\"b\",\"shape\":[2],\"datatype\":\"BOOL\",\"data\":[true,false]},"
                + "{\"name\":\"s\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"q\\\"uote\\n\",\"Grüße\"]},"
                + "{\"name\":\"h\",\"shape\":[2],\"datatype\":\"FP16\",\"data\":[1.5,\"-Infinity\"]},"
                + "{\"name\":\"w\",\"shape\":[],\"datatype\":\"UINT64\",\"data\":[18446744073709551615]}],"
                + "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"classification\":2}}]}");
    }

    @Test
    void inputs_refuseDataThatDoesNotMatchTheShape() {
        assertThatThrownBy(() -> InferInput.fp32("x", new long[] {2, 2}, new float[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("input 'x' has 3 elements but shape [2, 2] needs 4");
        assertThatThrownBy(() -> InferInput.of("x", DataType.FP32, new long[] {1}, ByteBuffer.allocate(6)))
                .hasMessageContaining("6 bytes, not a whole number of FP32 elements");
        assertThatThrownBy(() -> InferInput.of("x", DataType.BYTES, new long[] {1}, ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 5)))
                .hasMessageContaining("claims 5 bytes but only 2 remain");
        assertThatThrownBy(() -> InferInput.int32("x", new long[] {-1}, new int[0])).hasMessageContaining("dimensions must be 0 or more");
        assertThatThrownBy(() -> InferInput.bytes("x", new long[] {1}, new String[] {null})).hasMessage("input 'x' element 0 is null");
    }

    private static InferResult decode(String json) {
        byte[] bytes = json.getBytes(UTF_8);
        return JsonCodec.decodeInfer(bytes, bytes.length);
    }

    @Test
    void decode_readsNestedDataSpecialFloatsAndDataBeforeItsDatatype() {
        InferResult result = decode("{\"model_name\":\"m\",\"model_version\":\"1\",\"unknown\":{\"a\":[1]},\"outputs\":["
                + "{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2,2],\"data\":[[1,\"NaN\"],[\"Infinity\",\"-Infinity\"]]},"
                + "{\"data\":[18446744073709551615,0],\"name\":\"u\",\"shape\":[2],\"datatype\":\"UINT64\"},"
                + "{\"name\":\"h\",\"datatype\":\"BF16\",\"shape\":[1],\"data\":[1.5]},"
                + "{\"name\":\"e\",\"datatype\":\"INT32\",\"shape\":[0,3],\"data\":[]}]}");
        float[] y = result.output("y").toFloatArray();
        assertThat(y[0]).isEqualTo(1f);
        assertThat(y[1]).isNaN();
        assertThat(y[2]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(y[3]).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(result.output("u").toLongArray()).containsExactly(-1L, 0L);
        assertThat(result.output("h").toFloatArray()).containsExactly(1.5f);
        assertThat(result.output("e").elementCount()).isZero();
        assertThat(result.output("e").shape()).containsExactly(0, 3);
    }

    @Test
    void decode_refusesAnswersThatBreakTheProtocol() {
        String head = "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",";
        assertInvalid(head + "\"datatype\":\"FP32\",\"shape\":[3],\"data\":[1,2]}]}", "has 2 elements but its shape [3] needs 3");
        assertInvalid(head + "\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1,2]}]}", "more than the 1 elements");
        assertInvalid(head + "\"datatype\":\"INT8\",\"shape\":[1],\"data\":[200]}]}", "element 0 is 200, expected an integer in [-128, 127]");
        assertInvalid(head + "\"datatype\":\"INT32\",\"shape\":[1],\"data\":[\"7\"]}]}", "element 0 is 7, expected an integer");
        assertInvalid(head + "\"datatype\":\"INT64\",\"shape\":[1],\"data\":[1.5]}]}", "element 0 is 1.5");
        assertInvalid(head + "\"datatype\":\"UINT64\",\"shape\":[1],\"data\":[18446744073709551616]}]}", "[0, 2^64)");
        assertInvalid(head + "\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[1]}]}", "expected true or false");
        assertInvalid(head + "\"datatype\":\"FP32\",\"shape\":[1],\"data\":[\"many\"]}]}", "expected a number, \"NaN\"");
        assertInvalid(head + "\"datatype\":\"FP99\",\"shape\":[1],\"data\":[1]}]}", "unknown datatype 'FP99'");
        assertInvalid(head + "\"datatype\":\"FP32\",\"shape\":[-1],\"data\":[]}]}", "dimensions must be 0 or more");
        assertInvalid(head + "\"datatype\":\"FP32\",\"shape\":[1]}]}", "has neither data nor binary_data_size");
        assertInvalid(head + "\"shape\":[1],\"data\":[1]}]}", "lacks its datatype");
        assertInvalid(head + "\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}xyz", "not JSON");
        assertInvalid(head + "\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]", "not JSON");
        assertInvalid("{\"model_name\":\"m\"}", "has no outputs");
        assertInvalid("{\"outputs\":[]}", "has no model_name");
        assertInvalid("[1]", "the response is [, expected {");
        assertInvalid("{\"model_name\":\"m\",\"parameters\":{\"p\":[1]},\"outputs\":[]}", "'p' is not a string, number or boolean");
    }

    private static void assertInvalid(String json, String message) {
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> decode(json));
        assertThat(e).as(json).isNotNull();
        assertThat(e.status()).isEqualTo(Status.INVALID_RESPONSE);
        assertThat(e.getMessage()).as(json).contains(message);
    }

    @Test
    void decodeIndex_readsAbsentFieldsAsEmpty_andRefusesOtherShapes() {
        assertThat(JsonCodec.decodeIndex(("[{\"name\":\"m\",\"version\":\"1\",\"state\":\"READY\"},"
                + "{\"name\":\"n\",\"state\":\"UNAVAILABLE\",\"reason\":\"unloaded\",\"extra\":[1]}]").getBytes(UTF_8)))
                .containsExactly(new ModelIndexEntry("m", "1", "READY", ""), new ModelIndexEntry("n", "", "UNAVAILABLE", "unloaded"));
        for (String[] bad : new String[][] {
                {"{\"name\":\"m\"}", "not a JSON array"},
                {"[\"m\"]", "row 0 is not a JSON object"},
                {"[{\"name\":\"m\",\"version\":1,\"state\":\"READY\"}]", "row 0 has 'version' 1, expected a string"},
                {"[{\"name\":\"m\"}]", "row 0 has no string 'state'"},
                {"[{\"name\":", "not JSON"}}) {
            ServalClientException e = catchThrowableOfType(ServalClientException.class,
                    () -> JsonCodec.decodeIndex(bad[0].getBytes(UTF_8)));
            assertThat(e.status()).as(bad[0]).isEqualTo(Status.INVALID_RESPONSE);
            assertThat(e.getMessage()).as(bad[0]).contains(bad[1]);
        }
    }

    @Test
    void outputs_refuseReadersOfTheWrongType() {
        InferOutput y = decode("{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}")
                .output("y");
        assertThatThrownBy(y::toLongArray).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("output 'y' is FP32, which cannot be read as long[]");
        assertThatThrownBy(y::asIntBuffer).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> y.buffer().put((byte) 1)).isInstanceOf(java.nio.ReadOnlyBufferException.class);
    }

    @Test
    void bfloat16_roundsToNearestEven() {
        assertThat(JsonCodec.toBfloat16(1f)).isEqualTo((short) 0x3F80);
        assertThat(JsonCodec.toBfloat16(Float.intBitsToFloat(0x3F808000))).isEqualTo((short) 0x3F80);
        assertThat(JsonCodec.toBfloat16(Float.intBitsToFloat(0x3F818000))).isEqualTo((short) 0x3F82);
        assertThat(JsonCodec.toBfloat16(Float.intBitsToFloat(0x3F808001))).isEqualTo((short) 0x3F81);
        assertThat(Float.isNaN(Float.intBitsToFloat(JsonCodec.toBfloat16(Float.NaN) << 16))).isTrue();
    }
}
