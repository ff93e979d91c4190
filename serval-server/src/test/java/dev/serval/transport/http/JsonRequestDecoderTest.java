package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class JsonRequestDecoderTest {
    /** What the model declares: used to type data that arrives before its datatype. */
    private static final List<TensorSpec> SPECS = List.of(
            new TensorSpec("input", DataType.FP32, new long[] {-1, 4}),
            new TensorSpec("ids", DataType.INT64, new long[] {-1, -1}),
            new TensorSpec("text", DataType.BYTES, new long[] {-1}));

    // ---------------------------------------------------------------- helpers

    static InferenceRequest decode(String json) {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        return JsonRequestDecoder.decode(body, 0, body.length, "m", "1", SPECS);
    }

    /** Decodes {@code json} placed between junk bytes in a larger array, passing offset and length. */
    static InferenceRequest decodeEmbedded(String prefix, String json, String suffix) {
        byte[] pre = prefix.getBytes(StandardCharsets.UTF_8);
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        byte[] post = suffix.getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[pre.length + body.length + post.length];
        System.arraycopy(pre, 0, all, 0, pre.length);
        System.arraycopy(body, 0, all, pre.length, body.length);
        System.arraycopy(post, 0, all, pre.length + body.length, post.length);
        return JsonRequestDecoder.decode(all, pre.length, body.length, "m", "1", SPECS);
    }

    static Tensor single(String tensorJson) {
        InferenceRequest request = decode("{\"inputs\": [" + tensorJson + "]}");
        assertThat(request.inputs()).hasSize(1);
        return request.inputs().get(0);
    }

    static String tensor(String name, String datatype, String shape, String data) {
        return "{\"name\": \"" + name + "\", \"datatype\": \"" + datatype + "\", \"shape\": " + shape
                + ", \"data\": " + data + "}";
    }

    static AbstractThrowableAssert<?, ? extends Throwable> assertInvalid(String json) {
        return assertThatThrownBy(() -> decode(json)).isInstanceOfSatisfying(ServalException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }

    static AbstractThrowableAssert<?, ? extends Throwable> assertInvalidTensor(String tensorJson) {
        return assertInvalid("{\"inputs\": [" + tensorJson + "]}");
    }

    static byte[] bytes(Tensor tensor) {
        ByteBuffer buffer = tensor.buffer();
        byte[] out = new byte[buffer.limit()];
        buffer.get(0, out);
        return out;
    }

    static byte[] le(int width, long... values) {
        ByteBuffer out = ByteBuffer.allocate(width * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long value : values) {
            switch (width) {
                case 1 -> out.put((byte) value);
                case 2 -> out.putShort((short) value);
                case 4 -> out.putInt((int) value);
                default -> out.putLong(value);
            }
        }
        return out.array();
    }

    static byte[] fp32(float... values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return le(4, bits);
    }

    static byte[] fp64(double... values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Double.doubleToRawLongBits(values[i]);
        }
        return le(8, bits);
    }

    static String[] utf8(Tensor tensor) {
        return Arrays.stream(tensor.bytesElements()).map(b -> new String(b, StandardCharsets.UTF_8))
                .toArray(String[]::new);
    }

    // ---------------------------------------------------------------- the request

    @Test
    void decode_readsEveryPartOfARequest() {
        InferenceRequest request = decode("""
                {"id": "req-7",
                 "parameters": {"priority": 2, "note": "hi", "ratio": 0.5, "flag": true, "off": false},
                 "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4],
                             "parameters": {"tag": "x"}}],
                 "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}, {"name": "logits"}]}
                """);
        assertThat(request.modelName()).isEqualTo("m");
        assertThat(request.modelVersion()).isEqualTo("1");
        assertThat(request.id()).isEqualTo("req-7");
        assertThat(request.parameters().asMap()).containsExactly(
                Map.entry("priority", 2L), Map.entry("note", "hi"), Map.entry("ratio", 0.5),
                Map.entry("flag", true), Map.entry("off", false));
        assertThat(request.inputs()).singleElement().satisfies(input -> {
            assertThat(input.name()).isEqualTo("input");
            assertThat(input.type()).isEqualTo(DataType.FP32);
            assertThat(input.shape()).containsExactly(1, 4);
            assertThat(bytes(input)).isEqualTo(fp32(1, 2, 3, 4));
        });
        assertThat(request.outputs()).extracting(RequestedOutput::name).containsExactly("probabilities", "logits");
        assertThat(request.outputs().get(0).parameters().getLong("classification")).hasValue(2);
        assertThat(request.outputs().get(1).parameters().isEmpty()).isTrue();
    }

    @Test
    void decode_defaultsOptionalParts() {
        InferenceRequest request = decode("{\"inputs\": []}");
        assertThat(request.id()).isNull();
        assertThat(request.parameters().isEmpty()).isTrue();
        assertThat(request.inputs()).isEmpty();
        assertThat(request.outputs()).isEmpty();
    }

    @Test
    void decode_keepsInputsInTheOrderSent() {
        InferenceRequest request = decode("{\"inputs\": [" + tensor("b", "INT32", "[1]", "[1]") + ", "
                + tensor("a", "INT32", "[1]", "[2]") + ", " + tensor("c", "INT32", "[1]", "[3]") + "]}");
        assertThat(request.inputs()).extracting(Tensor::name).containsExactly("b", "a", "c");
    }

    @Test
    void decode_writesDirectLittleEndianBuffersFromPositionZero() {
        Tensor input = single(tensor("input", "FP32", "[1, 4]", "[1, 2, 3, 4]"));
        ByteBuffer buffer = input.buffer();
        assertThat(buffer.isDirect()).isTrue();
        assertThat(buffer.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(buffer.position()).isZero();
        assertThat(buffer.limit()).isEqualTo(16);
    }

    // ---------------------------------------------------------------- every datatype

    static Stream<Arguments> everyDatatype() {
        return Stream.of(
                Arguments.of("BOOL", "[true, false, true]", le(1, 1, 0, 1)),
                Arguments.of("UINT8", "[0, 1, 255]", le(1, 0, 1, 0xFF)),
                Arguments.of("UINT16", "[0, 258, 65535]", le(2, 0, 0x0102, 0xFFFF)),
                Arguments.of("UINT32", "[0, 16909060, 4294967295]", le(4, 0, 0x01020304, 0xFFFFFFFFL)),
                Arguments.of("UINT64", "[0, 72623859790382856, 18446744073709551615]",
                        le(8, 0, 0x0102030405060708L, -1L)),
                Arguments.of("INT8", "[-128, -1, 127]", le(1, -128, -1, 127)),
                Arguments.of("INT16", "[-32768, -1, 32767]", le(2, -32768, -1, 32767)),
                Arguments.of("INT32", "[-2147483648, -1, 2147483647]", le(4, Integer.MIN_VALUE, -1, Integer.MAX_VALUE)),
                Arguments.of("INT64", "[-9223372036854775808, -1, 9223372036854775807]",
                        le(8, Long.MIN_VALUE, -1, Long.MAX_VALUE)),
                Arguments.of("FP16", "[1.5, -2, 65504]", le(2, 0x3E00, 0xC000, 0x7BFF)),
                Arguments.of("BF16", "[1.5, -2, 0.1]", le(2, 0x3FC0, 0xC000, 0x3DCD)),
                Arguments.of("FP32", "[0.1, -2.5, 3.4028235e38]", fp32(0.1f, -2.5f, Float.MAX_VALUE)),
                Arguments.of("FP64", "[0.1, 1e300, 4.9e-324]", fp64(0.1, 1e300, Double.MIN_VALUE)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyDatatype")
    void decode_writesEveryFixedWidthDatatypeAsLittleEndianBytes(String datatype, String data, byte[] expected) {
        Tensor tensor = single(tensor("x", datatype, "[3]", data));
        assertThat(tensor.type()).isEqualTo(DataType.valueOf(datatype));
        assertThat(tensor.shape()).containsExactly(3);
        assertThat(bytes(tensor)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyDatatype")
    void decode_givesSameBytesForNestedData(String datatype, String data, byte[] expected) {
        String nested = "[[" + data.substring(1, data.indexOf(',')) + "], [" + data.substring(data.indexOf(',') + 1);
        nested = nested.substring(0, nested.length() - 1) + "]]";
        Tensor tensor = single(tensor("x", datatype, "[3]", nested));
        assertThat(bytes(tensor)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyDatatype")
    void decode_givesSameBytesWhenDataComesFirst(String datatype, String data, byte[] expected) {
        Tensor tensor = single("{\"data\": " + data + ", \"shape\": [3], \"name\": \"x\", \"datatype\": \"" + datatype + "\"}");
        assertThat(tensor.type()).isEqualTo(DataType.valueOf(datatype));
        assertThat(bytes(tensor)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyDatatype")
    void decode_givesSameBytesInsideALargerArray(String datatype, String data, byte[] expected) {
        String json = "{\"inputs\": [" + tensor("x", datatype, "[3]", data) + "]}";
        Tensor tensor = decodeEmbedded("JUNK[1,2,3]{", json, "]]}trailing").inputs().get(0);
        assertThat(bytes(tensor)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyDatatype")
    void decode_givesSameBytesWhenDataComesFirstInsideALargerArray(String datatype, String data, byte[] expected) {
        String json = "{\"inputs\": [{\"data\": " + data + ", \"shape\": [3], \"name\": \"x\", \"datatype\": \""
                + datatype + "\"}]}";
        Tensor tensor = decodeEmbedded("JUNK[1,2,3]{", json, "]]}trailing").inputs().get(0);
        assertThat(bytes(tensor)).isEqualTo(expected);
    }

    @Test
    void decode_reparsesDeferredDataAtTheRightPlaceWhenBodyHasAnOffset() {
        // Only the deferred path (data before name and datatype) re-reads the body by position.
        String json = "{\"inputs\": [{\"data\": [1, 2, 3, 4], \"name\": \"x\", \"datatype\": \"INT32\", \"shape\": [4]}]}";
        for (String prefix : new String[] {" ", "garbage", "[9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9]"}) {
            Tensor tensor = decodeEmbedded(prefix, json, "").inputs().get(0);
            assertThat(bytes(tensor)).as("prefix %s", prefix).isEqualTo(le(4, 1, 2, 3, 4));
        }
    }

    @Test
    void decode_reparsesDeferredBytesWhenBodyHasAnOffset() {
        String json = "{\"inputs\": [{\"data\": [\"é\", \"b\"], \"name\": \"s\", \"shape\": [2], \"datatype\": \"BYTES\"}]}";
        Tensor tensor = decodeEmbedded("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", json, "yyy").inputs().get(0);
        assertThat(utf8(tensor)).containsExactly("é", "b");
    }

    @Test
    void decode_ignoresBytesOutsideOffsetAndLength() {
        String json = "{\"inputs\": [" + tensor("x", "INT64", "[2]", "[7, 8]") + "]}";
        InferenceRequest request = decodeEmbedded("{\"inputs\": [", json, "]} {\"x\": 1}");
        assertThat(bytes(request.inputs().get(0))).isEqualTo(le(8, 7, 8));
    }

    @Test
    void decode_acceptsDeeplyNestedData() {
        Tensor tensor = single(tensor("x", "INT8", "[1, 1, 1, 2]", "[[[[5, 6]]]]"));
        assertThat(bytes(tensor)).isEqualTo(le(1, 5, 6));
    }

    @Test
    void decode_acceptsScalarShape() {
        Tensor tensor = single(tensor("x", "FP64", "[]", "[2.5]"));
        assertThat(tensor.shape()).isEmpty();
        assertThat(bytes(tensor)).isEqualTo(fp64(2.5));
    }

    @Test
    void decode_acceptsEmptyTensor() {
        Tensor tensor = single(tensor("x", "FP32", "[0, 4]", "[]"));
        assertThat(tensor.elementCount()).isZero();
        assertThat(tensor.buffer().limit()).isZero();
    }

    @Test
    void decode_acceptsLowerCaseDatatype() {
        assertThat(single(tensor("x", "fp32", "[1]", "[1]")).type()).isEqualTo(DataType.FP32);
    }

    @Test
    void decode_growsBufferWhenDataPrecedesShape() {
        StringBuilder data = new StringBuilder("[");
        for (int i = 0; i < 300; i++) {
            data.append(i == 0 ? "" : ",").append(i);
        }
        data.append(']');
        Tensor tensor = single("{\"name\": \"x\", \"datatype\": \"INT32\", \"data\": " + data + ", \"shape\": [3, 100]}");
        ByteBuffer buffer = tensor.buffer();
        assertThat(buffer.limit()).isEqualTo(1200);
        for (int i = 0; i < 300; i++) {
            assertThat(buffer.getInt(i * 4)).isEqualTo(i);
        }
    }

    // ---------------------------------------------------------------- data before datatype

    @Test
    void decode_usesDeclaredTypeWhenDataPrecedesDatatype() {
        Tensor tensor = single("{\"name\": \"input\", \"shape\": [1, 4], \"data\": [0.1, 2, 3, 4], \"datatype\": \"FP32\"}");
        assertThat(bytes(tensor)).isEqualTo(fp32(0.1f, 2, 3, 4));
    }

    @Test
    void decode_usesDeclaredBytesTypeWhenDataPrecedesDatatype() {
        Tensor tensor = single("{\"name\": \"text\", \"data\": [\"a\", \"ü\"], \"shape\": [2], \"datatype\": \"BYTES\"}");
        assertThat(utf8(tensor)).containsExactly("a", "ü");
    }

    @Test
    void decode_rejectsDatatypeThatDisagreesWithDeclaredTypeUsedForData() {
        assertInvalidTensor("{\"name\": \"input\", \"shape\": [1, 4], \"data\": [1, 2, 3, 4], \"datatype\": \"FP64\"}")
                .hasMessageContaining("'input'")
                .hasMessageContaining("FP64")
                .hasMessageContaining("expects FP32");
    }

    @Test
    void decode_defersDataOfUndeclaredInputUntilDatatypeArrives() {
        Tensor tensor = single("{\"name\": \"other\", \"data\": [[1, 2], [3, 4]], \"shape\": [2, 2], \"datatype\": \"UINT16\"}");
        assertThat(bytes(tensor)).isEqualTo(le(2, 1, 2, 3, 4));
    }

    @Test
    void decode_defersDataThatPrecedesTheName() {
        Tensor tensor = single("{\"data\": [5, 6], \"name\": \"input\", \"shape\": [2], \"datatype\": \"INT64\"}");
        assertThat(tensor.type()).isEqualTo(DataType.INT64);
        assertThat(bytes(tensor)).isEqualTo(le(8, 5, 6));
    }

    @Test
    void decode_checksDeferredDataLikeAnyOther() {
        assertInvalidTensor("{\"data\": [1, 300], \"name\": \"x\", \"shape\": [2], \"datatype\": \"UINT8\"}")
                .hasMessageContaining("300")
                .hasMessageContaining("UINT8");
        assertInvalidTensor("{\"data\": [1, 2, 3], \"name\": \"x\", \"shape\": [2], \"datatype\": \"UINT8\"}")
                .hasMessageContaining("3 elements")
                .hasMessageContaining("[2]");
    }

    @Test
    void decode_lastDataFieldWins() {
        Tensor tensor = single("{\"name\": \"x\", \"datatype\": \"INT8\", \"shape\": [2], \"data\": [1, 2], \"data\": [3, 4]}");
        assertThat(bytes(tensor)).isEqualTo(le(1, 3, 4));
    }

    // ---------------------------------------------------------------- floating point

    @ParameterizedTest
    @ValueSource(strings = {"FP16", "BF16", "FP32", "FP64"})
    void decode_acceptsNaNAndInfinityAsStrings(String datatype) {
        Tensor tensor = single(tensor("x", datatype, "[3]", "[\"NaN\", \"Infinity\", \"-Infinity\"]"));
        DataType type = DataType.valueOf(datatype);
        ByteBuffer b = tensor.buffer();
        double[] values = new double[3];
        for (int i = 0; i < 3; i++) {
            values[i] = switch (type) {
                case FP16 -> Float.float16ToFloat(b.getShort(i * 2));
                case BF16 -> Float.intBitsToFloat((b.getShort(i * 2) & 0xFFFF) << 16);
                case FP32 -> b.getFloat(i * 4);
                default -> b.getDouble(i * 8);
            };
        }
        assertThat(values[0]).isNaN();
        assertThat(values[1]).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(values[2]).isEqualTo(Double.NEGATIVE_INFINITY);
    }

    @Test
    void decode_writesCanonicalHalfPrecisionSpecials() {
        assertThat(bytes(single(tensor("x", "FP16", "[3]", "[\"NaN\", \"Infinity\", \"-Infinity\"]"))))
                .isEqualTo(le(2, 0x7E00, 0x7C00, 0xFC00));
        assertThat(bytes(single(tensor("x", "BF16", "[3]", "[\"NaN\", \"Infinity\", \"-Infinity\"]"))))
                .isEqualTo(le(2, 0x7FC0, 0x7F80, 0xFF80));
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"nan\"", "\"inf\"", "\"+Infinity\"", "\"1.5\"", "null", "true", "{}"})
    void decode_rejectsNonNumbersForFloatTypes(String value) {
        assertInvalidTensor(tensor("x", "FP32", "[1]", "[" + value + "]"))
                .hasMessageContaining("input 'x'")
                .hasMessageContaining("data index 0")
                .hasMessageContaining("a number (FP32)");
    }

    @Test
    void decode_roundsFp32FromTheDecimalNotViaDouble() {
        // Halfway between two floats as a double, just below halfway as a decimal: rounds down.
        Tensor tensor = single(tensor("x", "FP32", "[1]", "[1.00000017881393432617187499]"));
        assertThat(bytes(tensor)).isEqualTo(le(4, 0x3F800001));
    }

    @Test
    void decode_roundsBf16ToNearestEven() {
        // 1 + 2^-8 is halfway between 0x3F80 and 0x3F81 (to even: down); 1 + 3 * 2^-8 rounds up to 0x3F82.
        Tensor tensor = single(tensor("x", "BF16", "[3]", "[1.00390625, 1.01171875, -1.00390625]"));
        assertThat(bytes(tensor)).isEqualTo(le(2, 0x3F80, 0x3F82, 0xBF80));
    }

    @Test
    void decode_roundsFp16ToNearestAndOverflowsToInfinity() {
        Tensor tensor = single(tensor("x", "FP16", "[4]", "[0.1, 1e-8, 65520, -1e10]"));
        assertThat(bytes(tensor)).isEqualTo(le(2, 0x2E66, 0x0000, 0x7C00, 0xFC00));
    }

    @Test
    void decode_acceptsIntegersAndExponentsForFloatTypes() {
        assertThat(bytes(single(tensor("x", "FP64", "[3]", "[1, -0.0, 2.5E2]")))).isEqualTo(fp64(1, -0.0, 250));
        assertThat(bytes(single(tensor("x", "FP32", "[1]", "[123456789012345678901234567890]"))))
                .isEqualTo(fp32(Float.parseFloat("123456789012345678901234567890")));
    }

    // ---------------------------------------------------------------- integer ranges

    static Stream<Arguments> integerLimits() {
        return Stream.of(
                Arguments.of("INT8", "-128", "127", "-129", "128"),
                Arguments.of("INT16", "-32768", "32767", "-32769", "32768"),
                Arguments.of("INT32", "-2147483648", "2147483647", "-2147483649", "2147483648"),
                Arguments.of("INT64", "-9223372036854775808", "9223372036854775807",
                        "-9223372036854775809", "9223372036854775808"),
                Arguments.of("UINT8", "0", "255", "-1", "256"),
                Arguments.of("UINT16", "0", "65535", "-1", "65536"),
                Arguments.of("UINT32", "0", "4294967295", "-1", "4294967296"),
                Arguments.of("UINT64", "0", "18446744073709551615", "-1", "18446744073709551616"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("integerLimits")
    void decode_acceptsIntegerRangeLimits(String datatype, String min, String max, String below, String above) {
        Tensor tensor = single(tensor("x", datatype, "[2]", "[" + min + ", " + max + "]"));
        assertThat(tensor.elementCount()).isEqualTo(2);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("integerLimits")
    void decode_rejectsIntegerJustBelowRange(String datatype, String min, String max, String below, String above) {
        assertInvalidTensor(tensor("x", datatype, "[2]", "[" + min + ", " + below + "]"))
                .hasMessageContaining("input 'x'")
                .hasMessageContaining(below)
                .hasMessageContaining("data index 1")
                .hasMessageContaining(datatype + "'s range");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("integerLimits")
    void decode_rejectsIntegerJustAboveRange(String datatype, String min, String max, String below, String above) {
        assertInvalidTensor(tensor("x", datatype, "[2]", "[" + above + ", " + max + "]"))
                .hasMessageContaining(above)
                .hasMessageContaining("data index 0")
                .hasMessageContaining(datatype + "'s range");
    }

    @ParameterizedTest
    @ValueSource(strings = {"INT8", "INT32", "INT64", "UINT8", "UINT64"})
    void decode_rejectsNonIntegersForIntegerTypes(String datatype) {
        for (String value : new String[] {"1.0", "1e2", "\"1\"", "true", "null", "\"NaN\""}) {
            assertInvalidTensor(tensor("x", datatype, "[1]", "[" + value + "]"))
                    .as("%s %s", datatype, value)
                    .hasMessageContaining("an integer (" + datatype + ")");
        }
    }

    @Test
    void decode_rejectsHugeIntegerNamingIt() {
        String huge = "1" + "0".repeat(60);
        assertInvalidTensor(tensor("x", "INT64", "[1]", "[" + huge + "]")).hasMessageContaining(huge);
        assertInvalidTensor(tensor("x", "UINT64", "[1]", "[" + huge + "]")).hasMessageContaining(huge);
    }

    // ---------------------------------------------------------------- BOOL and BYTES

    @ParameterizedTest
    @ValueSource(strings = {"0", "1", "\"true\"", "\"false\"", "null", "1.0"})
    void decode_acceptsOnlyJsonBooleansForBool(String value) {
        assertInvalidTensor(tensor("x", "BOOL", "[2]", "[true, " + value + "]"))
                .hasMessageContaining("data index 1")
                .hasMessageContaining("true or false");
    }

    @Test
    void decode_encodesBytesAsUtf8() {
        Tensor tensor = single(tensor("s", "BYTES", "[2, 3]",
                "[[\"\", \"héllo\", \"日本語\"], [\"\\u00e9\\n\\t\\\"\\\\\", \"\\ud83d\\udc31\", \"plain\"]]"));
        assertThat(tensor.type()).isEqualTo(DataType.BYTES);
        assertThat(tensor.shape()).containsExactly(2, 3);
        byte[][] elements = tensor.bytesElements();
        assertThat(elements[0]).isEmpty();
        assertThat(elements[1]).isEqualTo("héllo".getBytes(StandardCharsets.UTF_8));
        assertThat(elements[2]).isEqualTo(new byte[] {(byte) 0xE6, (byte) 0x97, (byte) 0xA5, (byte) 0xE6,
                (byte) 0x9C, (byte) 0xAC, (byte) 0xE8, (byte) 0xAA, (byte) 0x9E});
        assertThat(elements[3]).isEqualTo(new byte[] {(byte) 0xC3, (byte) 0xA9, '\n', '\t', '"', '\\'});
        assertThat(elements[4]).isEqualTo(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x90, (byte) 0xB1});
        assertThat(utf8(tensor)[5]).isEqualTo("plain");
    }

    @ParameterizedTest
    @ValueSource(strings = {"1", "true", "null", "{}"})
    void decode_rejectsNonStringsForBytes(String value) {
        assertInvalidTensor(tensor("s", "BYTES", "[2]", "[\"a\", " + value + "]"))
                .hasMessageContaining("input 's'")
                .hasMessageContaining("data index 1")
                .hasMessageContaining("a string (BYTES)");
    }

    @Test
    void decode_checksBytesElementCount() {
        assertInvalidTensor(tensor("s", "BYTES", "[3]", "[\"a\", \"b\"]"))
                .hasMessageContaining("2 elements")
                .hasMessageContaining("[3]")
                .hasMessageContaining("needs 3");
    }

    // ---------------------------------------------------------------- shapes and counts

    @Test
    void decode_rejectsTooFewElements() {
        assertInvalidTensor(tensor("x", "FP32", "[2, 2]", "[1, 2, 3]"))
                .hasMessageContaining("input 'x' has 3 elements")
                .hasMessageContaining("shape [2,2] needs 4");
    }

    @Test
    void decode_rejectsTooManyElementsCountingAllOfThem() {
        assertInvalidTensor(tensor("x", "FP32", "[2]", "[1, 2, 3, 4, 5]"))
                .hasMessageContaining("has 5 elements")
                .hasMessageContaining("needs 2");
    }

    @Test
    void decode_rejectsCountMismatchWhenShapeFollowsData() {
        assertInvalidTensor("{\"name\": \"x\", \"datatype\": \"INT8\", \"data\": [1, 2, 3], \"shape\": [2, 2]}")
                .hasMessageContaining("3 elements")
                .hasMessageContaining("needs 4");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[-1, 4]", "[1.5]", "[\"2\"]", "[null]", "[[2]]", "2", "\"[2]\"", "{}"})
    void decode_rejectsBadShapes(String shape) {
        assertInvalidTensor(tensor("x", "FP32", shape, "[1]"))
                .hasMessageContaining("shape");
    }

    @Test
    void decode_rejectsNegativeDimensionNamingIt() {
        assertInvalidTensor(tensor("x", "FP32", "[2, -3]", "[1]"))
                .hasMessageContaining("input 'x' shape has -3")
                .hasMessageContaining("non-negative integers");
    }

    @Test
    void decode_rejectsShapeWhoseElementCountOverflows() {
        assertInvalidTensor(tensor("x", "FP32", "[4294967296, 4294967296]", "[1]"))
                .hasMessageContaining("[4294967296,4294967296]")
                .hasMessageContaining("too large");
    }

    @Test
    void decode_rejectsShapeDimensionBeyondALongNamingTheShape() {
        assertInvalidTensor(tensor("x", "FP32", "[99999999999999999999]", "[1]"))
                .hasMessageContaining("shape")
                .hasMessageContaining("99999999999999999999");
    }

    @Test
    void decode_refusesShapeLargerThanTheBodyBeforeAllocating() {
        assertInvalidTensor(tensor("x", "FP64", "[1000000000]", "[1]"))
                .hasMessageContaining("[1000000000]")
                .hasMessageContaining("more than a")
                .hasMessageContaining("byte body can hold");
    }

    @Test
    void decode_refusesHugeBytesShapeBeforeAllocating() {
        assertInvalidTensor(tensor("s", "BYTES", "[2000000000]", "[\"a\"]"))
                .hasMessageContaining("byte body can hold");
    }

    @Test
    void decode_allowsManyDimensions() {
        Tensor tensor = single(tensor("x", "UINT8", "[1, 1, 1, 1, 1, 1, 1, 1, 1, 2]", "[1, 2]"));
        assertThat(tensor.shape()).hasSize(10);
    }

    // ---------------------------------------------------------------- structure errors

    @Test
    void decode_rejectsMissingTensorFields() {
        assertInvalidTensor("{\"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}")
                .hasMessageContaining("inputs[0] has no 'name'");
        assertInvalidTensor("{\"name\": \"x\", \"datatype\": \"FP32\", \"data\": [1]}")
                .hasMessageContaining("input 'x' has no 'shape'");
        assertInvalidTensor("{\"name\": \"x\", \"shape\": [1], \"data\": [1]}")
                .hasMessageContaining("input 'x' has no 'datatype'");
        assertInvalidTensor("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\"}")
                .hasMessageContaining("input 'x' has no 'data'");
    }

    @Test
    void decode_rejectsUnknownFieldsAtEachLevel() {
        assertInvalid("{\"inputs\": [], \"input\": []}")
                .hasMessageContaining("unknown field 'input'")
                .hasMessageContaining("id, parameters, inputs, outputs");
        assertInvalidTensor("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1], \"content\": 1}")
                .hasMessageContaining("unknown field 'content' in input 'x'");
        assertInvalid("{\"inputs\": [], \"outputs\": [{\"name\": \"y\", \"binary\": true}]}")
                .hasMessageContaining("unknown field 'binary' in outputs[0]");
    }

    @Test
    void decode_rejectsUnknownDatatypeNamingIt() {
        assertInvalidTensor(tensor("x", "FLOAT32", "[1]", "[1]"))
                .hasMessageContaining("'FLOAT32'")
                .hasMessageContaining("FP32");
    }

    @Test
    void decode_rejectsWrongJsonTypesForFields() {
        assertInvalid("{\"inputs\": {}}").hasMessageContaining("'inputs' is an object");
        assertInvalid("{\"inputs\": [1]}").hasMessageContaining("inputs[0]").hasMessageContaining("a tensor object");
        assertInvalid("{\"id\": 7, \"inputs\": []}").hasMessageContaining("id is 7; expected a string");
        assertInvalidTensor("{\"name\": 5}").hasMessageContaining("inputs[0].name is 5");
        assertInvalidTensor("{\"name\": \"x\", \"datatype\": 32}").hasMessageContaining("datatype");
        assertInvalidTensor("{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1], \"data\": 1}")
                .hasMessageContaining("input 'x' data is 1; expected an array");
        assertInvalid("{\"inputs\": [], \"outputs\": {}}").hasMessageContaining("'outputs'");
        assertInvalid("{\"inputs\": [], \"outputs\": [{}]}").hasMessageContaining("outputs[0] has no 'name'");
    }

    @Test
    void decode_rejectsBodiesThatAreNotARequestObject() {
        assertInvalid("").hasMessageContaining("JSON object");
        assertInvalid("   ").hasMessageContaining("JSON object");
        assertInvalid("[1, 2]").hasMessageContaining("JSON object");
        assertInvalid("\"inputs\"").hasMessageContaining("JSON object");
        assertInvalid("{\"id\": \"x\"}").hasMessageContaining("no 'inputs'");
        assertInvalid("{\"inputs\": []} {}").hasMessageContaining("after the request");
    }

    @Test
    void decode_reportsMalformedJsonWithLocation() {
        assertInvalid("{\"inputs\": [}").hasMessageContaining("malformed JSON").hasMessageContaining("line 1");
        assertInvalid("{\"inputs\": [\n{\"name\": \"x\",,}]}").hasMessageContaining("line 2");
        assertInvalid("{\"inputs\": [" + tensor("x", "FP32", "[2]", "[1, 2")).hasMessageContaining("malformed JSON");
    }

    @Test
    void decode_rejectsNaNAsBareToken() {
        assertInvalidTensor(tensor("x", "FP32", "[1]", "[NaN]")).hasMessageContaining("malformed JSON");
    }

    // ---------------------------------------------------------------- parameters

    @Test
    void decode_readsParameterTypes() {
        InferenceRequest request = decode("{\"parameters\": {\"s\": \"x\", \"i\": -9223372036854775808, "
                + "\"d\": 1e300, \"t\": true}, \"inputs\": []}");
        assertThat(request.parameters().asMap()).containsExactly(Map.entry("s", "x"),
                Map.entry("i", Long.MIN_VALUE), Map.entry("d", 1e300), Map.entry("t", true));
    }

    @ParameterizedTest
    @ValueSource(strings = {"null", "[1]", "{\"a\": 1}"})
    void decode_rejectsParameterValuesThatAreNotScalars(String value) {
        assertInvalid("{\"parameters\": {\"p\": " + value + "}, \"inputs\": []}")
                .hasMessageContaining("parameters 'p'")
                .hasMessageContaining("a string, number or boolean");
    }

    @Test
    void decode_rejectsParameterIntegerBeyondALong() {
        assertInvalid("{\"parameters\": {\"p\": 9223372036854775808}, \"inputs\": []}")
                .hasMessageContaining("'p'")
                .hasMessageContaining("9223372036854775808")
                .hasMessageContaining("64-bit");
    }

    @Test
    void decode_rejectsParametersThatAreNotAnObject() {
        assertInvalid("{\"parameters\": [], \"inputs\": []}").hasMessageContaining("parameters is an array");
        assertInvalidTensor("{\"name\": \"x\", \"parameters\": 3}").hasMessageContaining("input 'x' parameters is 3");
    }

    @Test
    void decode_acceptsBinaryOutputFlags() {
        InferenceRequest request = decode("{\"parameters\": {\"binary_data_output\": true}, \"inputs\": [], "
                + "\"outputs\": [{\"name\": \"y\", \"parameters\": {\"binary_data\": true}}]}");
        assertThat(request.parameters().getBoolean("binary_data_output", false)).isTrue();
        assertThat(request.outputs().getFirst().parameters().getBoolean("binary_data", false)).isTrue();
    }

    @Test
    void decode_rejectsBinaryDataSizeWithoutTheHeader() {
        assertInvalidTensor("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 4}}")
                .hasMessageContaining("input 'x' has binary_data_size 4")
                .hasMessageContaining("no Inference-Header-Content-Length header");
    }

    @Test
    void decode_rejectsBinaryDataSizeBesideData() {
        assertInvalidTensor("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1], "
                + "\"parameters\": {\"binary_data_size\": 4}}")
                .hasMessageContaining("input 'x' has both 'data' and parameter binary_data_size");
    }

    @Test
    void decodeHeader_listsBinaryInputsInOrder() {
        byte[] json = ("{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"datatype\": \"INT16\", "
                + "\"parameters\": {\"binary_data_size\": 4}}, "
                + "{\"name\": \"b\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1.5]}, "
                + "{\"name\": \"c\", \"shape\": [1], \"datatype\": \"BYTES\", \"parameters\": {\"binary_data_size\": 9}}]}")
                .getBytes(StandardCharsets.UTF_8);
        JsonRequestDecoder.Header header = JsonRequestDecoder.decodeHeader(json, 0, json.length, List.of());
        assertThat(header.binary()).extracting(JsonRequestDecoder.BinaryInput::name).containsExactly("a", "c");
        assertThat(header.binary()).extracting(JsonRequestDecoder.BinaryInput::index).containsExactly(0, 2);
        assertThat(header.inputs().get(0)).isNull();
        assertThat(header.inputs().get(1).name()).isEqualTo("b");
    }

    @Test
    void decodeHeader_rejectsBinaryDataSizeThatDisagreesWithShape() {
        assertInvalidHeader("{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 20}}")
                .hasMessageContaining("input 'x' has binary_data_size 20 but shape [2,3] of FP32 needs 6 x 4 = 24 bytes");
        assertInvalidHeader("{\"name\": \"s\", \"shape\": [3], \"datatype\": \"BYTES\", "
                + "\"parameters\": {\"binary_data_size\": 11}}")
                .hasMessageContaining("input 's' has binary_data_size 11 but shape [3] has 3 BYTES elements");
        assertInvalidHeader("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": -4}}")
                .hasMessageContaining("input 'x' parameter binary_data_size is -4; expected its byte count");
        assertInvalidHeader("{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": \"4\"}}")
                .hasMessageContaining("input 'x' parameter binary_data_size is \"4\"");
        assertInvalidHeader("{\"name\": \"x\", \"shape\": [4611686018427387904], \"datatype\": \"FP64\", "
                + "\"parameters\": {\"binary_data_size\": 8}}")
                .hasMessageContaining("needs more than 2^63 bytes");
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertInvalidHeader(String tensor) {
        byte[] json = ("{\"inputs\": [" + tensor + "]}").getBytes(StandardCharsets.UTF_8);
        return assertThatThrownBy(() -> JsonRequestDecoder.decodeHeader(json, 0,
                        json.length, List.of()))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }

    @Test
    void decode_acceptsBinaryFlagsSetToFalse() {
        InferenceRequest request = decode("{\"parameters\": {\"binary_data_output\": false}, \"inputs\": [], "
                + "\"outputs\": [{\"name\": \"y\", \"parameters\": {\"binary_data\": false}}]}");
        assertThat(request.outputs()).hasSize(1);
    }

    @Test
    void decode_rejectsNonBooleanBinaryFlag() {
        assertInvalid("{\"parameters\": {\"binary_data_output\": \"yes\"}, \"inputs\": []}")
                .hasMessageContaining("binary_data_output")
                .hasMessageContaining("true or false");
        assertInvalid("{\"inputs\": [], \"outputs\": [{\"name\": \"y\", \"parameters\": {\"binary_data\": 1}}]}")
                .hasMessageContaining("output 'y' parameter binary_data is 1; expected true or false");
    }

    // ---------------------------------------------------------------- encodings

    @Test
    void decode_treatsFieldOrderTheSameInUtf16Bodies() {
        // JSON is UTF-8 on the wire, but if another encoding is accepted at all, field order must not matter.
        String datatypeFirst = "{\"inputs\": [" + tensor("x", "INT8", "[2]", "[1, 2]") + "]}";
        String dataFirst = "{\"inputs\": [{\"data\": [1, 2], \"name\": \"x\", \"shape\": [2], \"datatype\": \"INT8\"}]}";
        String first = outcome(datatypeFirst.getBytes(StandardCharsets.UTF_16LE));
        String second = outcome(dataFirst.getBytes(StandardCharsets.UTF_16LE));
        assertThat(second).isEqualTo(first);
    }

    private static String outcome(byte[] body) {
        try {
            InferenceRequest request = JsonRequestDecoder.decode(body, 0, body.length, "m", "1", SPECS);
            return "ok " + Arrays.toString(bytes(request.inputs().get(0)));
        } catch (ServalException e) {
            return "rejected";
        }
    }
}
