package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Mutates valid requests at random (seeded, so every run is the same) and checks the decoder's
 * contract: it returns a request whose tensors are internally consistent, or throws a
 * ServalException with INVALID_ARGUMENT. Anything else (a NullPointerException, an index out of
 * bounds, an OutOfMemoryError ...) would be a 500 for a client's typo.
 */
class JsonDecoderFuzzTest {
    /** Deterministic by default; {@code -Dserval.fuzz.iterations=1000000 -Dserval.fuzz.seed=N} digs deeper. */
    private static final int ITERATIONS = Integer.getInteger("serval.fuzz.iterations", 20_000);
    private static final long SEED = Long.getLong("serval.fuzz.seed", 20240607L);
    private static final int MAX_REPORTED = 15;

    private static final List<TensorSpec> SPECS = List.of(
            new TensorSpec("input", DataType.FP32, new long[] {-1, 4}),
            new TensorSpec("input_ids", DataType.INT64, new long[] {-1, -1}),
            new TensorSpec("string", DataType.BYTES, new long[] {-1, -1}),
            new TensorSpec("bool", DataType.BOOL, new long[] {-1, -1}));

    private static final String[] SEEDS = {
            """
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}""",
            """
            {"id": "r1", "parameters": {"priority": 1, "timeout": 2.5, "flag": true, "s": "x"},
             "inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": [[1, 2, 3, 4], [5, 6, 7, 8]]}],
             "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}, {"name": "logits"}]}""",
            """
            {"inputs": [{"name": "input_ids", "shape": [1, 3], "datatype": "INT64", "data": [101, -9223372036854775808, 9223372036854775807]},
                        {"name": "attention_mask", "shape": [1, 3], "datatype": "INT64", "data": [1, 1, 0]}]}""",
            """
            {"inputs": [{"data": [1, 2, 3, 4], "name": "mystery", "shape": [2, 2], "datatype": "UINT16"}]}""",
            """
            {"inputs": [{"name": "input", "data": [0.5, "NaN", "Infinity", "-Infinity"], "shape": [1, 4], "datatype": "FP32"}]}""",
            """
            {"inputs": [{"shape": [2], "data": ["Grüße, 世界", "emoji \\ud83d\\udc31 \\"q\\""], "datatype": "BYTES", "name": "string"}]}""",
            """
            {"inputs": [{"name": "bool", "datatype": "BOOL", "shape": [1, 3], "data": [true, false, true]},
                        {"name": "u64", "datatype": "UINT64", "shape": [2], "data": [0, 18446744073709551615]},
                        {"name": "u32", "datatype": "UINT32", "shape": [1], "data": [4294967295]},
                        {"name": "i8", "datatype": "INT8", "shape": [2], "data": [-128, 127]},
                        {"name": "h", "datatype": "FP16", "shape": [2], "data": [1.5, -65504]},
                        {"name": "b", "datatype": "BF16", "shape": [2], "data": [0.1, 3e38]},
                        {"name": "d", "datatype": "FP64", "shape": [], "data": [1e-300]}]}""",
            """
            {"inputs": [{"name": "x", "shape": [1, 1, 2, 1], "datatype": "INT32", "data": [[[[1], [2]]]],
                         "parameters": {"note": "nested"}}], "outputs": []}""",
            """
            {"inputs": [{"name": "e", "shape": [0, 3], "datatype": "FP32", "data": []},
                        {"data": [["a", "b"]], "shape": [1, 2], "name": "late", "datatype": "BYTES"}]}""",
    };

    private static final String[] TOKENS = {
            "{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "false", "-", "0", "-1", "1e999", "-1e999",
            "1e-999", "99999999999999999999999999", "-9223372036854775809", "18446744073709551616", "4294967296",
            "\"data\"", "\"shape\"", "\"datatype\"", "\"name\"", "\"inputs\"", "\"outputs\"", "\"parameters\"",
            "\"id\"", "\"NaN\"", "\"Infinity\"", "NaN", "\"BYTES\"", "\"BOOL\"", "\"UINT64\"", "\"FP16\"",
            "\"binary_data_size\"", "\"classification\"", "\u0000", "\uFEFF", "\u00e9", "\ud83d\udc31", " ", "\n",
            "[[[[[[[[", "]]]]]]]]", "{\"a\":", "1.5", "0.0", "-0", "1" + "0".repeat(400),
    };

    private static final String[] DATATYPES = {
            "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
            "FP64", "BF16", "BYTES", "fp32", "FLOAT", "", "STRING"};

    @Test
    void decode_onlyEverThrowsInvalidArgumentForMutatedRequests() {
        Random random = new Random(SEED);
        List<String> failures = new ArrayList<>();
        int accepted = 0;
        for (int i = 0; i < ITERATIONS; i++) {
            byte[] body = mutate(random, SEEDS[random.nextInt(SEEDS.length)]);
            int prefix = random.nextBoolean() ? 0 : random.nextInt(16);
            int suffix = random.nextBoolean() ? 0 : random.nextInt(16);
            byte[] framed = new byte[prefix + body.length + suffix];
            for (int p = 0; p < prefix; p++) {
                framed[p] = (byte) "[{\"junk\": 1, \"data\": [".charAt(p % 22);
            }
            System.arraycopy(body, 0, framed, prefix, body.length);
            Arrays.fill(framed, prefix + body.length, framed.length, (byte) '}');
            String problem = check(framed, prefix, body.length);
            if (problem == null) {
                accepted++;
            } else if (failures.size() < MAX_REPORTED) {
                failures.add("#" + i + " (offset " + prefix + "): " + problem + "\n    body: "
                        + abbreviate(new String(body, StandardCharsets.UTF_8)));
            }
        }
        assertThat(failures).as("decoder contract violations (seed %d)", SEED).isEmpty();
        // The mutations must leave a fair share decodable, or the fuzzer only tests the tokenizer.
        assertThat(accepted).isGreaterThan(ITERATIONS / 20);
    }

    @Test
    void decode_isUnaffectedByWhereTheBodySitsInItsArray() {
        // A framed body must decode exactly like the same bytes at offset 0.
        Random random = new Random(7);
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < 2_000 && failures.size() < MAX_REPORTED; i++) {
            String seed = SEEDS[random.nextInt(SEEDS.length)];
            byte[] body = random.nextInt(3) == 0 ? mutate(random, seed) : seed.getBytes(StandardCharsets.UTF_8);
            int prefix = 1 + random.nextInt(40);
            byte[] framed = new byte[prefix + body.length + 3];
            Arrays.fill(framed, (byte) '[');
            System.arraycopy(body, 0, framed, prefix, body.length);
            String atZero = outcome(body, 0, body.length);
            String atOffset = outcome(framed, prefix, body.length);
            if (!atZero.equals(atOffset)) {
                failures.add("offset " + prefix + ": " + atOffset + "\n    at offset 0: " + atZero
                        + "\n    body: " + abbreviate(new String(body, StandardCharsets.UTF_8)));
            }
        }
        assertThat(failures).as("bodies decoded differently at a non-zero offset").isEmpty();
    }

    @Test
    void decode_rejectsDeepNestingAsInvalidArgument() {
        for (int depth : new int[] {10, 500, 999, 1_000, 1_001, 5_000, 100_000}) {
            String data = "[".repeat(depth) + "1" + "]".repeat(depth);
            for (String json : new String[] {
                    "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1], \"data\": " + data + "}]}",
                    "{\"inputs\": [{\"data\": " + data + ", \"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1]}]}",
                    "{\"parameters\": {\"p\": " + data + "}, \"inputs\": []}",
                    "{\"inputs\": " + data + "}"}) {
                byte[] body = json.getBytes(StandardCharsets.UTF_8);
                assertThat(check(body, 0, body.length)).as("depth %d: %s", depth, abbreviate(json)).isNull();
            }
        }
    }

    @Test
    void decode_rejectsHugeDeclaredShapesWithoutAllocating() {
        for (String datatype : DATATYPES) {
            for (String shape : new String[] {"[2147483647]", "[1073741824, 2]", "[9223372036854775807]",
                    "[3037000499, 3037000499]", "[65536, 65536, 65536]", "[100000]"}) {
                for (String json : new String[] {
                        "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"" + datatype + "\", \"shape\": " + shape
                                + ", \"data\": [1]}]}",
                        "{\"inputs\": [{\"name\": \"x\", \"data\": [1], \"datatype\": \"" + datatype + "\", \"shape\": "
                                + shape + "}]}",
                        "{\"inputs\": [{\"shape\": " + shape + ", \"data\": [1], \"name\": \"x\", \"datatype\": \""
                                + datatype + "\"}]}"}) {
                    byte[] body = json.getBytes(StandardCharsets.UTF_8);
                    assertThat(check(body, 0, body.length)).as(json).isNull();
                }
            }
        }
    }

    // ---------------------------------------------------------------- the oracle

    /** Null when the outcome honours the contract, else what went wrong. */
    private static String check(byte[] framed, int offset, int length) {
        InferenceRequest request;
        try {
            request = JsonRequestDecoder.decode(framed, offset, length, "m", "1", SPECS);
        } catch (ServalException e) {
            if (e.code() != ErrorCode.INVALID_ARGUMENT) {
                return "ServalException " + e.code() + ": " + e.getMessage();
            }
            if (e.getMessage() == null || e.getMessage().isBlank()) {
                return "ServalException without a message";
            }
            return null;
        } catch (Throwable t) {
            return t.getClass().getName() + ": " + t.getMessage() + " at " + firstFrames(t);
        }
        return consistency(request);
    }

    private static String consistency(InferenceRequest request) {
        if (request.inputs() == null || request.outputs() == null || request.parameters() == null) {
            return "request with null parts";
        }
        for (Tensor tensor : request.inputs()) {
            if (tensor == null || tensor.name() == null || tensor.type() == null || tensor.shape() == null) {
                return "tensor with null parts: " + tensor;
            }
            for (long dim : tensor.shape()) {
                if (dim < 0) {
                    return tensor + " has a negative dimension";
                }
            }
            long count;
            try {
                count = Shapes.elementCount(tensor.shape());
            } catch (RuntimeException e) {
                return tensor + " has a shape whose element count fails: " + e;
            }
            if (tensor.type() == DataType.BYTES) {
                if (!(tensor.data() instanceof TensorData.Bytes bytes)) {
                    return tensor + " is BYTES without byte strings";
                }
                if (bytes.elements().length != count) {
                    return tensor + " holds " + bytes.elements().length + " strings for " + count + " elements";
                }
                for (byte[] element : bytes.elements()) {
                    if (element == null) {
                        return tensor + " has a null string";
                    }
                }
            } else {
                if (!(tensor.data() instanceof TensorData.FixedWidth fixed)) {
                    return tensor + " is fixed-width without a buffer";
                }
                ByteBuffer buffer = fixed.buffer();
                if (buffer.order() != ByteOrder.LITTLE_ENDIAN || buffer.position() != 0) {
                    return tensor + " buffer is not little-endian from position 0";
                }
                if (buffer.limit() != count * tensor.type().byteSize()) {
                    return tensor + " buffer holds " + buffer.limit() + " bytes for " + count + " elements";
                }
                if (tensor.type() == DataType.BOOL) {
                    for (int i = 0; i < buffer.limit(); i++) {
                        if (buffer.get(i) != 0 && buffer.get(i) != 1) {
                            return tensor + " has BOOL byte " + buffer.get(i);
                        }
                    }
                }
            }
        }
        for (RequestedOutput output : request.outputs()) {
            if (output == null || output.name() == null || output.parameters() == null) {
                return "requested output with null parts";
            }
        }
        for (Map.Entry<String, Object> entry : request.parameters().asMap().entrySet()) {
            Object value = entry.getValue();
            if (!(value instanceof String || value instanceof Long || value instanceof Double || value instanceof Boolean)) {
                return "parameter " + entry.getKey() + " has a " + value;
            }
        }
        return null;
    }

    /** The decoded request in a comparable form, or the error. */
    private static String outcome(byte[] framed, int offset, int length) {
        try {
            InferenceRequest request = JsonRequestDecoder.decode(framed, offset, length, "m", "1", SPECS);
            StringBuilder text = new StringBuilder("ok");
            for (Tensor tensor : request.inputs()) {
                text.append(' ').append(tensor.name()).append(' ').append(tensor.type())
                        .append(Arrays.toString(tensor.shape())).append('=');
                if (tensor.type() == DataType.BYTES) {
                    text.append(Arrays.deepToString(tensor.bytesElements()));
                } else {
                    byte[] bytes = new byte[tensor.buffer().limit()];
                    tensor.buffer().get(0, bytes);
                    text.append(Arrays.toString(bytes));
                }
            }
            return text.toString();
        } catch (ServalException e) {
            return e.code() + " " + e.getMessage();
        } catch (Throwable t) {
            return t.toString();
        }
    }

    // ---------------------------------------------------------------- mutations

    static byte[] mutate(Random random, String seed) {
        String text = seed;
        int rounds = 1 + random.nextInt(3);
        for (int r = 0; r < rounds; r++) {
            text = switch (random.nextInt(11)) {
                case 0 -> text.substring(0, random.nextInt(text.length() + 1));
                case 1 -> insert(random, text, TOKENS[random.nextInt(TOKENS.length)]);
                case 2 -> delete(random, text);
                case 3 -> duplicate(random, text);
                case 4 -> replaceNumber(random, text);
                case 5 -> nest(random, text);
                case 6 -> replaceShape(random, text);
                case 7 -> replaceDatatype(random, text);
                case 8 -> splice(random, text, SEEDS[random.nextInt(SEEDS.length)]);
                case 9 -> swapFields(random, text);
                default -> text;
            };
        }
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (random.nextInt(4) == 0 && bytes.length > 0) {
            // Raw byte flips can break UTF-8 as well as JSON.
            int flips = 1 + random.nextInt(3);
            for (int f = 0; f < flips; f++) {
                bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
            }
        }
        return bytes;
    }

    private static String insert(Random random, String text, String token) {
        int at = random.nextInt(text.length() + 1);
        return text.substring(0, at) + token + text.substring(at);
    }

    private static String delete(Random random, String text) {
        if (text.isEmpty()) {
            return text;
        }
        int from = random.nextInt(text.length());
        int to = Math.min(text.length(), from + 1 + random.nextInt(8));
        return text.substring(0, from) + text.substring(to);
    }

    /** Copies a field (or any span) to another place: duplicate keys, repeated data, stray values. */
    private static String duplicate(Random random, String text) {
        String[] fields = {"\"data\":", "\"shape\":", "\"datatype\":", "\"name\":", "\"parameters\":", "\"inputs\":"};
        String field = fields[random.nextInt(fields.length)];
        if (text.isEmpty()) {
            return text;
        }
        int start = text.indexOf(field);
        if (start < 0 || random.nextInt(4) == 0) {
            int from = random.nextInt(text.length());
            int to = Math.min(text.length(), from + random.nextInt(40));
            return insert(random, text, text.substring(from, to));
        }
        int end = valueEnd(text, start + field.length());
        String copy = text.substring(start, end);
        // Put it right after the same object's opening brace so that it stays syntactically plausible.
        int brace = text.lastIndexOf('{', start);
        return text.substring(0, brace + 1) + copy + ", " + text.substring(brace + 1);
    }

    /** The end of the JSON value starting at or after {@code from}, by bracket counting. */
    private static int valueEnd(String text, int from) {
        int depth = 0;
        boolean inString = false;
        for (int i = from; i < text.length(); i++) {
            char c = text.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                    if (depth == 0) {
                        return i + 1;
                    }
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if (c == ']' || c == '}') {
                depth--;
                if (depth <= 0) {
                    return Math.min(text.length(), i + 1);
                }
            } else if (c == ',' && depth == 0) {
                return i;
            }
        }
        return text.length();
    }

    private static final String[] HUGE = {
            "1e400", "-1e400", "1e-400", "18446744073709551615", "18446744073709551616", "9223372036854775807",
            "9223372036854775808", "-9223372036854775809", "4294967296", "2147483648", "65536", "256", "-129",
            "1" + "0".repeat(300), "0." + "0".repeat(300) + "1", "-0", "-0.0", "3.4028236e38", "65520",
            "0", "1", "-1", "1.5", "2e0"};

    private static String replaceNumber(Random random, String text) {
        List<int[]> numbers = new ArrayList<>();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ((c == '-' || Character.isDigit(c)) && (i == 0 || "[, :".indexOf(text.charAt(i - 1)) >= 0)) {
                int j = i + 1;
                while (j < text.length() && "0123456789.eE+-".indexOf(text.charAt(j)) >= 0) {
                    j++;
                }
                numbers.add(new int[] {i, j});
                i = j;
            }
        }
        if (numbers.isEmpty()) {
            return text;
        }
        int[] span = numbers.get(random.nextInt(numbers.size()));
        return text.substring(0, span[0]) + HUGE[random.nextInt(HUGE.length)] + text.substring(span[1]);
    }

    private static String nest(Random random, String text) {
        int at = text.indexOf("\"data\":");
        if (at < 0) {
            return text;
        }
        int start = text.indexOf('[', at);
        if (start < 0) {
            return text;
        }
        int end = valueEnd(text, start);
        int depth = random.nextInt(4) == 0 ? 900 + random.nextInt(200) : 1 + random.nextInt(10);
        return text.substring(0, start) + "[".repeat(depth) + text.substring(start, end) + "]".repeat(depth)
                + text.substring(end);
    }

    private static String replaceShape(Random random, String text) {
        int at = text.indexOf("\"shape\":");
        if (at < 0) {
            return text;
        }
        int start = text.indexOf('[', at);
        if (start < 0) {
            return text;
        }
        int end = valueEnd(text, start);
        StringBuilder shape = new StringBuilder("[");
        int rank = random.nextInt(6);
        for (int d = 0; d < rank; d++) {
            if (d > 0) {
                shape.append(", ");
            }
            shape.append(switch (random.nextInt(8)) {
                case 0 -> "0";
                case 1 -> "-1";
                case 2 -> Long.toString(Long.MAX_VALUE);
                case 3 -> Integer.toString(random.nextInt(Integer.MAX_VALUE));
                case 4 -> "1.5";
                case 5 -> "\"2\"";
                default -> Integer.toString(1 + random.nextInt(4));
            });
        }
        shape.append(']');
        return text.substring(0, start) + shape + text.substring(end);
    }

    private static String replaceDatatype(Random random, String text) {
        int at = text.indexOf("\"datatype\": \"");
        if (at < 0) {
            return text;
        }
        int start = at + "\"datatype\": \"".length();
        int end = text.indexOf('"', start);
        if (end < 0) {
            return text;
        }
        return text.substring(0, start) + DATATYPES[random.nextInt(DATATYPES.length)] + text.substring(end);
    }

    private static String splice(Random random, String a, String b) {
        return a.substring(0, random.nextInt(a.length() + 1)) + b.substring(random.nextInt(b.length() + 1));
    }

    /** Moves "data" to the front of its object, so that it precedes name and datatype. */
    private static String swapFields(Random random, String text) {
        int at = text.indexOf("\"data\":");
        if (at < 0) {
            return text;
        }
        int end = valueEnd(text, at + "\"data\":".length());
        String field = text.substring(at, end);
        String without = text.substring(0, at) + text.substring(end);
        without = without.replace(", ,", ",").replace("{, ", "{").replace(", }", "}").replace(",}", "}");
        int brace = without.lastIndexOf('{', at);
        if (brace < 0) {
            return text;
        }
        return without.substring(0, brace + 1) + field + ", " + without.substring(brace + 1);
    }

    private static String abbreviate(String text) {
        String oneLine = text.replace("\n", "\\n");
        return oneLine.length() <= 400 ? oneLine : oneLine.substring(0, 400) + "... (" + oneLine.length() + " chars)";
    }

    private static String firstFrames(Throwable t) {
        StackTraceElement[] trace = t.getStackTrace();
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < Math.min(4, trace.length); i++) {
            text.append(i == 0 ? "" : " < ").append(trace[i]);
        }
        return text.toString();
    }
}
