package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.transport.http.JsonReader.Token;
import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The request decoder's tokenizer on its own: JSON's grammar exactly, numbers rounded exactly as
 * {@code Float.parseFloat} and {@code Double.parseDouble} round them, strings with every escape, and
 * errors (never a StackOverflowError) for everything else.
 */
class JsonReaderTest {
    // ---------------------------------------------------------------- helpers

    static JsonReader reader(String json) {
        return reader(json.getBytes(StandardCharsets.UTF_8));
    }

    static JsonReader reader(byte[] json) {
        return new JsonReader(json, 0, json.length);
    }

    /** Every token, numbers and strings as their text. */
    static List<String> tokens(String json) {
        return tokens(json.getBytes(StandardCharsets.UTF_8));
    }

    static List<String> tokens(byte[] json) {
        JsonReader in = reader(json);
        List<String> tokens = new ArrayList<>();
        for (Token token = in.nextToken(); token != null; token = in.nextToken()) {
            tokens.add(switch (token) {
                case NUMBER_INT, NUMBER_FLOAT, STRING, FIELD_NAME -> token + " " + in.getText();
                default -> token.toString();
            });
        }
        return tokens;
    }

    static AbstractThrowableAssert<?, ? extends Throwable> assertMalformed(String json) {
        return assertMalformed(json.getBytes(StandardCharsets.UTF_8));
    }

    static AbstractThrowableAssert<?, ? extends Throwable> assertMalformed(byte[] json) {
        return assertThatThrownBy(() -> tokens(json))
                .isInstanceOfSatisfying(ServalException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageStartingWith("malformed JSON at line ");
    }

    /** The reader on the single number in {@code [text]}. */
    static JsonReader onNumber(String text) {
        JsonReader in = reader("[" + text + "]");
        in.nextToken();
        Token token = in.nextToken();
        if (token != Token.NUMBER_INT && token != Token.NUMBER_FLOAT) {
            assertThat(token).as(text).isIn(Token.NUMBER_INT, Token.NUMBER_FLOAT);
        }
        return in;
    }

    static byte[] bytes(Object... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Object part : parts) {
            if (part instanceof String text) {
                out.writeBytes(text.getBytes(StandardCharsets.UTF_8));
            } else {
                out.write((Integer) part);
            }
        }
        return out.toByteArray();
    }

    // ---------------------------------------------------------------- structure

    @Test
    void nextToken_followsTheDocument() {
        assertThat(tokens("{\"a\": [1, -2.5, \"x\", true, false, null, {}], \"b\": {\"c\": []}}")).containsExactly(
                "START_OBJECT", "FIELD_NAME a", "START_ARRAY", "NUMBER_INT 1", "NUMBER_FLOAT -2.5", "STRING x",
                "TRUE", "FALSE", "NULL", "START_OBJECT", "END_OBJECT", "END_ARRAY", "FIELD_NAME b", "START_OBJECT",
                "FIELD_NAME c", "START_ARRAY", "END_ARRAY", "END_OBJECT", "END_OBJECT");
    }

    @Test
    void nextToken_skipsInsignificantWhiteSpaceOnly() {
        assertThat(tokens(" \t\r\n{ \"a\" :\n[ 1 ,\t2\r\n] } \n")).containsExactly(
                "START_OBJECT", "FIELD_NAME a", "START_ARRAY", "NUMBER_INT 1", "NUMBER_INT 2", "END_ARRAY", "END_OBJECT");
        assertMalformed("[1,\u000b2]").hasMessageContaining("Illegal character ((CTRL-CHAR, code 11))");
        assertMalformed("[1,\u00a02]");
    }

    @Test
    void nextToken_readsOnlyTheGivenRange() {
        byte[] framed = "[9,{\"a\": 1}]]".getBytes(StandardCharsets.UTF_8);
        JsonReader in = new JsonReader(framed, 3, 8);
        assertThat(in.nextToken()).isEqualTo(Token.START_OBJECT);
        assertThat(in.nextToken()).isEqualTo(Token.FIELD_NAME);
        assertThat(in.nextToken()).isEqualTo(Token.NUMBER_INT);
        assertThat(in.nextToken()).isEqualTo(Token.END_OBJECT);
        assertThat(in.nextToken()).isNull();
    }

    @Test
    void nextToken_skipsAUtf8ByteOrderMark() {
        assertThat(tokens(bytes(0xEF, 0xBB, 0xBF, "[1]"))).containsExactly("START_ARRAY", "NUMBER_INT 1", "END_ARRAY");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[1,]", "[,1]", "[1 2]", "{\"a\": 1,}", "{\"a\" 1}", "{\"a\": }", "{a: 1}", "{'a': 1}",
            "[1}", "{\"a\": 1]", "]", "[1]]", "[1", "{", "{\"a\"", "[1, // c\n 2]", "[1 /* c */]", "[tru]", "[truex]",
            "[nul]", "[True]", "[undefined]", "[1]x"})
    void nextToken_rejectsWhatIsNotJson(String json) {
        assertMalformed(json);
    }

    @Test
    void nextToken_saysWhatWasWrongAndWhere() {
        assertMalformed("{\"inputs\": [}").hasMessage("malformed JSON at line 1, column 13: Unexpected close marker '}': "
                + "expected ']' (for Array starting at line 1, column 12)");
        assertMalformed("{\n  \"a\": [1,\n  tru]}").hasMessage("malformed JSON at line 3, column 3: Unrecognized token "
                + "'tru': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')");
        assertMalformed("[1,\r\n\r\n 2,]").hasMessageStartingWith("malformed JSON at line 3, column 4: ");
        assertMalformed("[\"é\", x]").hasMessageStartingWith("malformed JSON at line 1, column 8: ");
        assertMalformed("{\"a\": [1, 2").hasMessageContaining("end-of-input");
    }

    @Test
    void nextToken_allowsNestingAThousandDeep() {
        String json = "[".repeat(1000) + "]".repeat(1000);
        assertThat(tokens(json)).hasSize(2000);
    }

    @Test
    void nextToken_refusesNestingDeeperThanAThousand() {
        assertMalformed("[".repeat(1001) + "]".repeat(1001)).hasMessageContaining("nesting depth (1001)");
        assertMalformed("{\"a\":".repeat(1001) + "1" + "}".repeat(1001)).hasMessageContaining("nesting depth (1001)");
    }

    @Test
    void nextToken_survivesAbsurdNestingWithoutRecursion() {
        assertMalformed("[".repeat(1_000_000)).hasMessageContaining("nesting depth");
        JsonReader in = reader("[" + "[".repeat(999) + "]".repeat(999) + "]");
        in.nextToken();
        in.skipChildren();
        assertThat(in.currentToken()).isEqualTo(Token.END_ARRAY);
        assertThat(in.nextToken()).isNull();
    }

    @Test
    void nextToken_readsTopLevelValuesWithoutCommasAsJacksonDid() {
        assertThat(tokens("{} [] 1 \"x\"")).containsExactly(
                "START_OBJECT", "END_OBJECT", "START_ARRAY", "END_ARRAY", "NUMBER_INT 1", "STRING x");
        assertMalformed("{} 1x").hasMessageContaining("Expected space separating root-level values");
    }

    @Test
    void skipChildren_checksWhatItSkips() {
        JsonReader in = reader("[[1, {\"a\": [\"x\\q\"]}]]");
        in.nextToken();
        assertThatThrownBy(in::skipChildren).hasMessageContaining("Unrecognized character escape 'q'");
    }

    // ---------------------------------------------------------------- numbers: grammar

    @ParameterizedTest
    @ValueSource(strings = {"0", "-0", "7", "-7", "10", "1.5", "-0.0", "0.5e10", "1e5", "1E5", "1e+5", "1e-5", "1E-05",
            "123456789012345678901234567890", "1.0e-400", "-1e400", "0.000001", "9223372036854775808"})
    void number_acceptsJsonsGrammar(String text) {
        assertThat(onNumber(text).getText()).isEqualTo(text);
    }

    @ParameterizedTest
    @ValueSource(strings = {"01", "-01", "00", "00.5", "+1", ".5", "-.5", "1.", "-0.", "1.e5", "1e", "1e+", "1E-", "-", "--1",
            "0x10", "1.5.3", "1e5e5", "1-2", "NaN", "-NaN", "Infinity", "-Infinity", "+Infinity", "Inf", "nan", "١"})
    void number_rejectsWhatJsonsGrammarDoesNot(String text) {
        assertMalformed("[" + text + "]");
    }

    @Test
    void number_namesTheOffendingCharacter() {
        assertMalformed("[01]").hasMessageContaining("column 3: Invalid numeric value: Leading zeroes not allowed");
        assertMalformed("[1.]").hasMessageContaining("Decimal point not followed by a digit");
        assertMalformed("[1e]").hasMessageContaining("Exponent indicator not followed by a digit");
        assertMalformed("[NaN]").hasMessageContaining("Non-standard token 'NaN'").hasMessageContaining("\"NaN\"");
        assertMalformed("[+1]").hasMessageContaining("plus sign");
    }

    @Test
    void number_isLimitedToAThousandDigits() {
        assertThat(onNumber("1".repeat(1000)).getText()).hasSize(1000);
        assertMalformed("[" + "1".repeat(1001) + "]").hasMessageContaining("Number value length (1001)");
        assertMalformed("[1." + "1".repeat(1000) + "]").hasMessageContaining("Number value length (1001)");
    }

    @Test
    void number_tellsWhetherAnIntegerFitsALong() {
        for (String fits : new String[] {"0", "-0", "999999999999999999", "-999999999999999999", "1000000000000000000",
                "9223372036854775807", "-9223372036854775808"}) {
            JsonReader in = onNumber(fits);
            assertThat(in.fitsLong()).as(fits).isTrue();
            assertThat(in.longValue()).as(fits).isEqualTo(Long.parseLong(fits));
        }
        for (String not : new String[] {"9223372036854775808", "-9223372036854775809", "10000000000000000000",
                "99999999999999999999"}) {
            assertThat(onNumber(not).fitsLong()).as(not).isFalse();
        }
    }

    @Test
    void number_readsAnIntegerMinusZeroAsPlusZeroAsJacksonDid() {
        assertThat(Float.floatToRawIntBits(onNumber("-0").floatValue())).isZero();
        assertThat(Double.doubleToRawLongBits(onNumber("-0").doubleValue())).isZero();
        assertThat(Float.floatToRawIntBits(onNumber("-0.0").floatValue())).isEqualTo(0x8000_0000);
        assertThat(Double.doubleToRawLongBits(onNumber("-0e0").doubleValue())).isEqualTo(Long.MIN_VALUE);
    }

    // ---------------------------------------------------------------- numbers: rounding

    @Test
    void floatValue_roundsExactlyAsParseFloat() {
        Random random = new Random(20240607L);
        for (int i = 0; i < 200_000; i++) {
            assertFloatLikeParseFloat(randomDecimal(random));
        }
    }

    @Test
    void doubleValue_roundsExactlyAsParseDouble() {
        Random random = new Random(20240608L);
        for (int i = 0; i < 200_000; i++) {
            assertDoubleLikeParseDouble(randomDecimal(random));
        }
    }

    @Test
    void floatValue_roundsDecimalsAtFloatRoundingBoundariesOnce() {
        // A decimal at, just above or just below the point halfway between two floats, cut to 8 to
        // 18 digits: where a float rounded from a rounded double goes wrong.
        Random random = new Random(42);
        for (int i = 0; i < 50_000; i++) {
            float f = Float.intBitsToFloat(0x0080_0000 + random.nextInt(0x7F00_0000 - 0x0080_0000));
            BigDecimal half = new BigDecimal(f).add(new BigDecimal(Math.nextUp(f))).divide(BigDecimal.valueOf(2));
            RoundingMode mode = RoundingMode.values()[random.nextInt(3)];
            String text = half.round(new MathContext(8 + random.nextInt(11), mode)).toString();
            assertFloatLikeParseFloat(random.nextBoolean() ? text : "-" + text);
            assertFloatLikeParseFloat(half.toString());
        }
    }

    @Test
    void floatValue_roundsPyTorchsSeventeenDigitFloats() {
        // json.dumps(tensor.tolist()): each float32 widened to double and printed to 17 digits.
        Random random = new Random(7);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(random.nextInt() & 0x7F7F_FFFF);
            String text = Double.toString(f).replace("E", "e");
            float read = onNumber(text).floatValue();
            if (read != f) {
                assertThat(read).as(text).isEqualTo(f);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"1.00000017881393432617187499", "1.000000178813934326171875", "1.00000017881393432617187501",
            "3.4028235e38", "3.4028235677973366e38", "3.4028235677973367e38", "3.402823567797336616375e38", "1e39",
            "1.4e-45", "7.006492321624085e-46", "7.006492321624086e-46", "1e-46", "1.17549435e-38", "0.1", "16777217",
            "16777216.5", "9007199254740993", "2.4703282292062328e-324", "2.4703282292062327e-324", "4.9e-324",
            "1.7976931348623157e308", "1.7976931348623158e308", "1e23", "8.589973e9", "123456789012345678e-40",
            "0.00000000001", "-0.0000000000000000000000000000000000000000000000001"})
    void floatValueAndDoubleValue_roundTheHardCasesExactly(String text) {
        assertFloatLikeParseFloat(text);
        assertDoubleLikeParseDouble(text);
    }

    @Test
    void floatValueAndDoubleValue_roundLongNumbersExactly() {
        for (String text : new String[] {"1" + "0".repeat(300), "0." + "0".repeat(300) + "1", "1" + "0".repeat(38),
                "3.4028235677973366" + "0".repeat(200) + "1e38", "1." + "9".repeat(500), "0." + "0".repeat(44) + "7"}) {
            assertFloatLikeParseFloat(text);
            assertDoubleLikeParseDouble(text);
        }
    }

    /** Decimals of every shape: digits, points, exponents, from tiny to huge. */
    static String randomDecimal(Random random) {
        StringBuilder text = new StringBuilder();
        if (random.nextBoolean()) {
            text.append('-');
        }
        int digits = 1 + random.nextInt(random.nextInt(4) == 0 ? 30 : 19);
        int point = random.nextInt(digits + 1);
        text.append(1 + random.nextInt(9));
        for (int i = 1; i < digits; i++) {
            if (i == point) {
                text.append('.');
            }
            text.append(random.nextInt(10));
        }
        if (random.nextInt(3) == 0) {
            text.append(random.nextBoolean() ? 'e' : 'E').append(random.nextBoolean() ? "-" : "")
                    .append(random.nextInt(random.nextBoolean() ? 40 : 340));
        }
        return text.toString();
    }

    static void assertFloatLikeParseFloat(String text) {
        JsonReader in = onNumber(text);
        float expected = Float.parseFloat(text);
        if (in.currentToken() == Token.NUMBER_INT && expected == 0) {
            expected = 0f;
        }
        int read = Float.floatToRawIntBits(in.floatValue());
        if (read != Float.floatToRawIntBits(expected)) {
            assertThat(Float.intBitsToFloat(read)).as(text).isEqualTo(expected);
        }
    }

    static void assertDoubleLikeParseDouble(String text) {
        JsonReader in = onNumber(text);
        double expected = Double.parseDouble(text);
        if (in.currentToken() == Token.NUMBER_INT && expected == 0) {
            expected = 0d;
        }
        long read = Double.doubleToRawLongBits(in.doubleValue());
        if (read != Double.doubleToRawLongBits(expected)) {
            assertThat(Double.longBitsToDouble(read)).as(text).isEqualTo(expected);
        }
    }

    // ---------------------------------------------------------------- strings

    @Test
    void string_decodesEveryEscape() {
        JsonReader in = reader("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83d\\udc31\"]");
        in.nextToken();
        in.nextToken();
        assertThat(in.getText()).isEqualTo("\"\\/\b\f\n\r\tAé€\ud83d\udc31");
    }

    @Test
    void stringUtf8_copiesRawUtf8AndEncodesEscapes() {
        JsonReader in = reader("[\"héllo 日本 \ud83d\udc31\", \"\\u00e9\\ud83d\\udc31\\n\"]");
        in.nextToken();
        in.nextToken();
        assertThat(in.stringUtf8()).isEqualTo("héllo 日本 \ud83d\udc31".getBytes(StandardCharsets.UTF_8));
        in.nextToken();
        assertThat(in.stringUtf8()).isEqualTo("é\ud83d\udc31\n".getBytes(StandardCharsets.UTF_8));
        assertThat(in.nextToken()).isEqualTo(Token.END_ARRAY);
    }

    @Test
    void string_keepsHalfASurrogatePairAsJacksonDid() {
        JsonReader in = reader("[\"a\\ud800b\", \"\\udc31\"]");
        in.nextToken();
        in.nextToken();
        assertThat(in.getText()).isEqualTo("a\ud800b");
        in.nextToken();
        assertThat(in.stringUtf8()).isEqualTo(new byte[] {'?'});
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"a\\udc31\": 1}", "{\"a\\ud83d\": 1}", "{\"a\\ud83db\": 1}", "{\"a\\ud83d\\ud83d\": 1}",
            "{\"a\\ud83d\\n\": 1}"})
    void name_refusesHalfASurrogatePair(String json) {
        assertMalformed(json).hasMessageContaining("surrogate");
    }

    @Test
    void name_acceptsAnEscapedSurrogatePair() {
        assertThat(tokens("{\"a\\ud83d\\udc31\": 1}")).contains("FIELD_NAME a\ud83d\udc31");
    }

    @ParameterizedTest
    @ValueSource(ints = {0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F})
    void string_refusesRawControlCharacters(int control) {
        assertMalformed(bytes("[\"a", control, "b\"]")).hasMessageContaining("Illegal unquoted character");
        assertMalformed(bytes("{\"a", control, "b\": 1}")).hasMessageContaining("Illegal unquoted character");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\\q", "\\x41", "\\'", "\\u12", "\\u12G4", "\\U0041", "\\"})
    void string_refusesBadEscapes(String escape) {
        assertMalformed("[\"a" + escape + "\"]");
    }

    @Test
    void string_refusesMalformedUtf8() {
        int[][] malformed = {{0x80}, {0xBF}, {0xC0, 0x80}, {0xC1, 0xBF}, {0xE0, 0x80, 0x80}, {0xED, 0xA0, 0x80},
                {0xF0, 0x80, 0x80, 0x80}, {0xF4, 0x90, 0x80, 0x80}, {0xF5, 0x80, 0x80, 0x80}, {0xFF}, {0xC3},
                {0xE6, 0x97}, {0xC3, 0x41}};
        for (int[] sequence : malformed) {
            Object[] parts = new Object[sequence.length + 2];
            parts[0] = "[\"";
            for (int i = 0; i < sequence.length; i++) {
                parts[i + 1] = sequence[i];
            }
            parts[parts.length - 1] = "\"]";
            assertMalformed(bytes(parts)).hasMessageContaining("UTF-8");
        }
    }

    @Test
    void string_acceptsTheEdgesOfUtf8() {
        String edges = "\u0080\u07ff\u0800\ud7ff\ue000\uffff\ud800\udc00\udbff\udfff";
        JsonReader in = reader("[\"" + edges + "\"]");
        in.nextToken();
        in.nextToken();
        assertThat(in.getText()).isEqualTo(edges);
    }

    @Test
    void string_mustBeClosed() {
        assertMalformed("[\"abc").hasMessageContaining("end-of-input");
        assertMalformed("{\"abc").hasMessageContaining("end-of-input");
        assertMalformed("[\"abc\\u00").hasMessageContaining("end-of-input");
    }

    // ---------------------------------------------------------------- the data arrays' fast path

    @Test
    void readFloats_readsWhatTokenByTokenReads() {
        for (String data : new String[] {"[1, -2.5, 3e2, 0.1]", "[1,-2.5,3e2,0.1]", "[ 1 ,-2.5 ,\n3e2,\t0.1 ]",
                "[[1, -2.5], [3e2, 0.1]]", "[[[1]], [-2.5, 3e2], 0.1]", "[\n  1,\n  -2.5,\n  3e2,\n  0.1\n]"}) {
            for (DataType type : new DataType[] {DataType.FP32, DataType.FP64, DataType.FP16, DataType.BF16}) {
                assertThat(bytes(fast(data, type))).as("%s %s", type, data).isEqualTo(bytes(slow(data, type)));
            }
        }
    }

    @Test
    void readFloats_leavesAnythingButNumbersToNextToken() {
        JsonReader in = reader("[1, 2, \"NaN\", 3]");
        ElementBuffer out = new ElementBuffer(4, 4);
        in.nextToken();
        in.readFloats(out, DataType.FP32);
        assertThat(out.count()).isEqualTo(2);
        assertThat(in.nextToken()).isEqualTo(Token.STRING);
        in.readFloats(out, DataType.FP32);
        assertThat(out.count()).as("the string is still to be read").isEqualTo(2);
        assertThat(in.getText()).isEqualTo("NaN");
        out.putFloat(out.next(), Float.NaN);
        in.readFloats(out, DataType.FP32);
        assertThat(out.count()).isEqualTo(4);
        assertThat(in.nextToken()).isEqualTo(Token.END_ARRAY);
        assertThat(in.nextToken()).isNull();
    }

    @Test
    void readFloats_reportsMalformedNumbersAsNextTokenWould() {
        JsonReader in = reader("[1, 01]");
        in.nextToken();
        assertThatThrownBy(() -> in.readFloats(new ElementBuffer(4, 2), DataType.FP32))
                .hasMessage("malformed JSON at line 1, column 6: Invalid numeric value: Leading zeroes not allowed");
    }

    @Test
    void readFloats_fillsTensorsOfManyChunksWhetherOrNotTheCountIsKnown() {
        int count = 10_007;
        StringBuilder data = new StringBuilder("[");
        for (int i = 0; i < count; i++) {
            data.append(i == 0 ? "" : ",").append(i).append(".5");
        }
        String json = data.append(']').toString();
        for (long expected : new long[] {count, -1}) {
            JsonReader in = reader(json);
            ElementBuffer out = new ElementBuffer(4, expected);
            in.nextToken();
            in.readFloats(out, DataType.FP32);
            assertThat(in.nextToken()).isEqualTo(Token.END_ARRAY);
            ByteBuffer floats = out.finish();
            assertThat(floats.limit()).isEqualTo(4 * count);
            for (int i = 0; i < count; i++) {
                if (floats.getFloat(4 * i) != i + 0.5f) {
                    assertThat(floats.getFloat(4 * i)).as("expected %d, element %d", expected, i).isEqualTo(i + 0.5f);
                }
            }
        }
    }

    @Test
    void readFloats_countsButDropsElementsBeyondTheShape() {
        JsonReader in = reader("[1, 2, 3, 4, 5]");
        ElementBuffer out = new ElementBuffer(8, 2);
        in.nextToken();
        in.readFloats(out, DataType.FP64);
        assertThat(out.count()).isEqualTo(5);
        ByteBuffer doubles = out.finish();
        assertThat(doubles.limit()).isEqualTo(16);
        assertThat(doubles.getDouble(8)).isEqualTo(2.0);
    }

    private static ByteBuffer fast(String data, DataType type) {
        JsonReader in = reader(data);
        ElementBuffer out = new ElementBuffer(type.byteSize(), 4);
        in.nextToken();
        for (int depth = 1; depth > 0; ) {
            in.readFloats(out, type);
            Token token = in.nextToken();
            if (token == Token.START_ARRAY) {
                depth++;
            } else if (token == Token.END_ARRAY) {
                depth--;
            } else {
                put(in, out, type);
            }
        }
        return out.finish();
    }

    private static ByteBuffer slow(String data, DataType type) {
        JsonReader in = reader(data);
        ElementBuffer out = new ElementBuffer(type.byteSize(), 4);
        for (Token token = in.nextToken(); token != null; token = in.nextToken()) {
            if (token == Token.NUMBER_INT || token == Token.NUMBER_FLOAT) {
                put(in, out, type);
            }
        }
        return out.finish();
    }

    private static void put(JsonReader in, ElementBuffer out, DataType type) {
        int at = out.next();
        switch (type) {
            case FP32 -> out.putFloat(at, in.floatValue());
            case FP64 -> out.putDouble(at, in.doubleValue());
            case FP16 -> out.putFloat16(at, in.floatValue());
            default -> out.putBfloat16(at, in.floatValue());
        }
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.limit()];
        buffer.get(0, bytes);
        return bytes;
    }
}
