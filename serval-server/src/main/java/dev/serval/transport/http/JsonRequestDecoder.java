package dev.serval.transport.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import dev.serval.api.DataType;
import dev.serval.api.InferenceRequest;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decodes a v2 JSON inference request by streaming: {@code data} arrays go token by token straight
 * into direct little-endian buffers, with no intermediate lists and no boxing.
 *
 * <p>Design note: to write an element the decoder must know its type. Clients almost always send
 * {@code name} and {@code datatype} before {@code data}; when they do not, the model's declared type
 * for that name is used, and only if the name is unknown too is the array skipped, its byte range
 * remembered, and parsed again once the input's fields are known. Every error names the input, the
 * value and what was expected.
 *
 * <p>Stateless and thread-safe.
 */
final class JsonRequestDecoder {
    /**
     * Shared by every request. Jackson's default buffer recycling is per thread, which with a
     * virtual thread per request recycles nothing: a bounded shared pool reuses the parse buffers.
     */
    static final JsonFactory FACTORY = JsonFactory.builder()
            .recyclerPool(JsonRecyclerPools.newBoundedPool(256))
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .enable(StreamReadFeature.USE_FAST_BIG_NUMBER_PARSER)
            .build();

    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private JsonRequestDecoder() {
    }

    /**
     * @param specs the model's declared inputs, used to type {@code data} that precedes {@code datatype}
     * @throws ServalException INVALID_ARGUMENT for malformed JSON or inconsistent tensors
     */
    static InferenceRequest decode(byte[] body, int offset, int length, String model, String version,
                                   List<TensorSpec> specs) {
        requireUtf8(body, offset, length);
        try (JsonParser parser = FACTORY.createParser(body, offset, length)) {
            return new Reader(parser, body, offset, length, specs).request(model, version);
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw ServalException.invalidArgument("cannot read the request body: %s", e.getMessage());
        }
    }

    /**
     * JSON between systems is UTF-8 (RFC 8259). UTF-16 and UTF-32 bodies start with a byte-order
     * mark or have a zero byte among the first ones (the first character is ASCII): refuse them
     * plainly rather than half-decode them.
     */
    private static void requireUtf8(byte[] body, int offset, int length) {
        if (length < 2) {
            return;
        }
        int first = body[offset] & 0xFF;
        int second = body[offset + 1] & 0xFF;
        if (first == 0 || second == 0 || (first == 0xFE && second == 0xFF) || (first == 0xFF && second == 0xFE)) {
            throw ServalException.invalidArgument("the request body is not UTF-8; send JSON encoded as UTF-8 (RFC 8259)");
        }
    }

    static ServalException malformed(JsonProcessingException e) {
        var location = e.getLocation();
        String where = location == null ? "" : " at line " + location.getLineNr() + ", column " + location.getColumnNr();
        return ServalException.invalidArgument("malformed JSON%s: %s", where, e.getOriginalMessage());
    }

    /** One pass over one request body. */
    private static final class Reader {
        private final JsonParser parser;
        private final byte[] body;
        private final int bodyOffset;
        private final int bodyLength;
        private final List<TensorSpec> specs;

        Reader(JsonParser parser, byte[] body, int bodyOffset, int bodyLength, List<TensorSpec> specs) {
            this.parser = parser;
            this.body = body;
            this.bodyOffset = bodyOffset;
            this.bodyLength = bodyLength;
            this.specs = specs;
        }

        InferenceRequest request(String model, String version) throws IOException {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw ServalException.invalidArgument("the request body must be a JSON object with 'inputs'");
            }
            String id = null;
            Parameters parameters = Parameters.empty();
            List<Tensor> inputs = null;
            List<RequestedOutput> outputs = List.of();
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                JsonToken value = parser.nextToken();
                switch (field) {
                    case "id" -> id = string("id", value);
                    case "parameters" -> parameters = parameters("parameters", value);
                    case "inputs" -> inputs = inputs(value);
                    case "outputs" -> outputs = outputs(value);
                    default -> throw ServalException.invalidArgument(
                            "unknown field '%s' in the request; expected id, parameters, inputs, outputs", field);
                }
            }
            if (parser.nextToken() != null) {
                throw ServalException.invalidArgument("unexpected content after the request's JSON object");
            }
            if (inputs == null) {
                throw ServalException.invalidArgument("the request has no 'inputs'");
            }
            if (parameters.getBoolean("binary_data_output", false)) {
                throw ServalException.invalidArgument(
                        "parameter binary_data_output is set, but this endpoint answers in JSON only");
            }
            return new InferenceRequest(model, version, id, parameters, inputs, outputs);
        }

        private List<Tensor> inputs(JsonToken token) throws IOException {
            expect(token, JsonToken.START_ARRAY, "'inputs'", "an array of tensors");
            List<Tensor> inputs = new ArrayList<>(specs.size());
            for (int index = 0; parser.nextToken() != JsonToken.END_ARRAY; index++) {
                inputs.add(input(index));
            }
            return inputs;
        }

        private Tensor input(int index) throws IOException {
            expect(parser.currentToken(), JsonToken.START_OBJECT, "inputs[" + index + "]", "a tensor object");
            String name = null;
            long[] shape = null;
            DataType type = null;
            Parameters parameters = Parameters.empty();
            TensorData data = null;
            DataType dataParsedAs = null;
            int deferredStart = -1;
            int deferredEnd = -1;
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                JsonToken value = parser.nextToken();
                String label = name == null ? "inputs[" + index + "]" : "input '" + name + "'";
                switch (field) {
                    case "name" -> name = string("inputs[" + index + "].name", value);
                    case "shape" -> shape = shape(label, value);
                    case "datatype" -> type = DataType.parse(label, string(label + " datatype", value));
                    case "parameters" -> parameters = parameters(label + " parameters", value);
                    case "data" -> {
                        expect(value, JsonToken.START_ARRAY, label + " data", "an array");
                        DataType known = type != null ? type : declaredType(name);
                        if (known != null) {
                            data = data(parser, label, known, shape);
                            dataParsedAs = known;
                        } else {
                            // Jackson's byte offsets count from the start of the parsed range.
                            deferredStart = bodyOffset + (int) parser.currentTokenLocation().getByteOffset();
                            parser.skipChildren();
                            deferredEnd = bodyOffset + (int) parser.currentLocation().getByteOffset();
                        }
                    }
                    default -> throw ServalException.invalidArgument(
                            "unknown field '%s' in %s; expected name, shape, datatype, parameters, data", field, label);
                }
            }
            if (name == null) {
                throw ServalException.invalidArgument("inputs[%d] has no 'name'", index);
            }
            String label = "input '" + name + "'";
            if (shape == null) {
                throw ServalException.invalidArgument("%s has no 'shape'", label);
            }
            if (type == null) {
                throw ServalException.invalidArgument("%s has no 'datatype'", label);
            }
            if (parameters.asMap().containsKey("binary_data_size")) {
                throw ServalException.invalidArgument(
                        "%s uses binary_data_size, but this endpoint accepts JSON data only", label);
            }
            if (dataParsedAs != null && dataParsedAs != type) {
                throw ServalException.invalidArgument("input '%s' has datatype %s but the model expects %s",
                        name, type, dataParsedAs);
            }
            if (data == null && deferredStart >= 0) {
                try (JsonParser again = FACTORY.createParser(body, deferredStart, deferredEnd - deferredStart)) {
                    again.nextToken();
                    data = data(again, label, type, shape);
                }
            }
            if (data == null) {
                throw ServalException.invalidArgument("%s has no 'data'", label);
            }
            long expected = Shapes.elementCount(shape);
            long actual = data.elementCount(type);
            if (actual != expected) {
                throw ServalException.invalidArgument("%s has %d elements in 'data' but shape %s needs %d",
                        label, actual, Shapes.format(shape), expected);
            }
            return new Tensor(name, type, shape, data);
        }

        private DataType declaredType(String name) {
            if (name == null) {
                return null;
            }
            for (TensorSpec spec : specs) {
                if (spec.name().equals(name)) {
                    return spec.type();
                }
            }
            return null;
        }

        private long[] shape(String label, JsonToken token) throws IOException {
            expect(token, JsonToken.START_ARRAY, label + " shape", "an array of non-negative integers");
            long[] dims = new long[4];
            int rank = 0;
            while (parser.nextToken() != JsonToken.END_ARRAY) {
                if (parser.currentToken() != JsonToken.VALUE_NUMBER_INT
                        || parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER || parser.getLongValue() < 0) {
                    throw ServalException.invalidArgument("%s shape has %s; expected non-negative integers",
                            label, text(parser));
                }
                if (rank == dims.length) {
                    dims = Arrays.copyOf(dims, rank * 2);
                }
                dims[rank++] = parser.getLongValue();
            }
            long[] shape = Arrays.copyOf(dims, rank);
            try {
                Shapes.elementCount(shape);
            } catch (ArithmeticException e) {
                throw ServalException.invalidArgument("%s shape %s is too large", label, Shapes.format(shape));
            }
            return shape;
        }

        /**
         * Reads a {@code data} array (the parser is on its START_ARRAY), flat or nested, straight into
         * a buffer of {@code type}.
         */
        private TensorData data(JsonParser in, String label, DataType type, long[] shape) throws IOException {
            long expected = shape == null ? -1 : Shapes.elementCount(shape);
            // Each element takes at least two bytes of JSON ("0,"): a shape that claims more than
            // the body can hold is refused before anything is allocated for it.
            if (expected > bodyLength / 2 + 1) {
                throw ServalException.invalidArgument("%s shape %s needs %d elements, more than a %d-byte body can hold",
                        label, Shapes.format(shape), expected, bodyLength);
            }
            if (type == DataType.BYTES) {
                return strings(in, label, expected);
            }
            ElementBuffer elements = new ElementBuffer(type.byteSize(), expected);
            int depth = 1;
            while (depth > 0) {
                JsonToken token = in.nextToken();
                if (token == JsonToken.START_ARRAY) {
                    depth++;
                } else if (token == JsonToken.END_ARRAY) {
                    depth--;
                } else if (token == null) {
                    throw ServalException.invalidArgument("%s data ends before its array closes", label);
                } else {
                    int at = elements.next();
                    if (at >= 0) {
                        write(in, token, elements.buffer(), at, type, label, elements.count() - 1);
                    }
                }
            }
            if (expected >= 0 && elements.count() != expected) {
                throw ServalException.invalidArgument("%s has %d elements in 'data' but shape %s needs %d",
                        label, elements.count(), Shapes.format(shape), expected);
            }
            return new TensorData.FixedWidth(elements.finish());
        }

        private static void write(JsonParser in, JsonToken token, ByteBuffer out, int at, DataType type,
                                  String label, long index) throws IOException {
            switch (type) {
                case FP32 -> out.putFloat(at, (float) floating(in, token, type, label, index));
                case FP64 -> out.putDouble(at, floating(in, token, type, label, index));
                case FP16 -> out.putShort(at, Float.floatToFloat16((float) floating(in, token, type, label, index)));
                case BF16 -> out.putShort(at, toBfloat16((float) floating(in, token, type, label, index)));
                case INT8 -> out.put(at, (byte) integer(in, token, type, label, index, Byte.MIN_VALUE, Byte.MAX_VALUE));
                case INT16 -> out.putShort(at, (short) integer(in, token, type, label, index, Short.MIN_VALUE, Short.MAX_VALUE));
                case INT32 -> out.putInt(at, (int) integer(in, token, type, label, index, Integer.MIN_VALUE, Integer.MAX_VALUE));
                case INT64 -> out.putLong(at, integer(in, token, type, label, index, Long.MIN_VALUE, Long.MAX_VALUE));
                case UINT8 -> out.put(at, (byte) integer(in, token, type, label, index, 0, 0xFF));
                case UINT16 -> out.putShort(at, (short) integer(in, token, type, label, index, 0, 0xFFFF));
                case UINT32 -> out.putInt(at, (int) integer(in, token, type, label, index, 0, 0xFFFF_FFFFL));
                case UINT64 -> out.putLong(at, unsigned64(in, token, label, index));
                case BOOL -> {
                    if (token != JsonToken.VALUE_TRUE && token != JsonToken.VALUE_FALSE) {
                        throw badElement(in, label, index, "true or false");
                    }
                    out.put(at, (byte) (token == JsonToken.VALUE_TRUE ? 1 : 0));
                }
                case BYTES -> throw new IllegalStateException("BYTES are decoded as strings");
            }
        }

        private static double floating(JsonParser in, JsonToken token, DataType type, String label, long index)
                throws IOException {
            if (token == JsonToken.VALUE_NUMBER_FLOAT || token == JsonToken.VALUE_NUMBER_INT) {
                return type == DataType.FP64 ? in.getDoubleValue() : in.getFloatValue();
            }
            if (token == JsonToken.VALUE_STRING) {
                switch (in.getText()) {
                    case "NaN": return Double.NaN;
                    case "Infinity": return Double.POSITIVE_INFINITY;
                    case "-Infinity": return Double.NEGATIVE_INFINITY;
                    default: break;
                }
            }
            throw badElement(in, label, index, "a number (" + type + ")");
        }

        private static long integer(JsonParser in, JsonToken token, DataType type, String label, long index,
                                    long min, long max) throws IOException {
            if (token != JsonToken.VALUE_NUMBER_INT) {
                throw badElement(in, label, index, "an integer (" + type + ")");
            }
            long value;
            try {
                value = in.getLongValue();
            } catch (InputCoercionException e) {
                throw outOfRange(in, label, index, type, min, max);
            }
            if (value < min || value > max) {
                throw outOfRange(in, label, index, type, min, max);
            }
            return value;
        }

        private static long unsigned64(JsonParser in, JsonToken token, String label, long index) throws IOException {
            if (token != JsonToken.VALUE_NUMBER_INT) {
                throw badElement(in, label, index, "an integer (UINT64)");
            }
            BigInteger value = in.getBigIntegerValue();
            if (value.signum() < 0 || value.compareTo(UINT64_MAX) > 0) {
                throw ServalException.invalidArgument("%s has %s at data index %d, outside UINT64's range [0, %s]",
                        label, value, index, UINT64_MAX);
            }
            return value.longValue();
        }

        private static ServalException outOfRange(JsonParser in, String label, long index, DataType type,
                                                  long min, long max) throws IOException {
            return ServalException.invalidArgument("%s has %s at data index %d, outside %s's range [%d, %d]",
                    label, in.getText(), index, type, min, max);
        }

        private static ServalException badElement(JsonParser in, String label, long index, String expected)
                throws IOException {
            return ServalException.invalidArgument("%s has %s at data index %d; expected %s",
                    label, text(in), index, expected);
        }

        /** Round to nearest even, keeping NaN a NaN. */
        private static short toBfloat16(float value) {
            int bits = Float.floatToRawIntBits(value);
            if (Float.isNaN(value)) {
                return (short) ((bits >>> 16) | 0x40);
            }
            bits += 0x7FFF + ((bits >>> 16) & 1);
            return (short) (bits >>> 16);
        }

        private TensorData strings(JsonParser in, String label, long expected) throws IOException {
            List<byte[]> elements = new ArrayList<>(expected >= 0 ? (int) expected : 16);
            int depth = 1;
            while (depth > 0) {
                JsonToken token = in.nextToken();
                if (token == JsonToken.START_ARRAY) {
                    depth++;
                } else if (token == JsonToken.END_ARRAY) {
                    depth--;
                } else if (token == JsonToken.VALUE_STRING) {
                    elements.add(in.getText().getBytes(StandardCharsets.UTF_8));
                } else if (token == null) {
                    throw ServalException.invalidArgument("%s data ends before its array closes", label);
                } else {
                    throw badElement(in, label, elements.size(), "a string (BYTES)");
                }
            }
            return new TensorData.Bytes(elements.toArray(new byte[0][]));
        }

        private List<RequestedOutput> outputs(JsonToken token) throws IOException {
            expect(token, JsonToken.START_ARRAY, "'outputs'", "an array of {\"name\": ...} objects");
            List<RequestedOutput> outputs = new ArrayList<>();
            for (int index = 0; parser.nextToken() != JsonToken.END_ARRAY; index++) {
                String label = "outputs[" + index + "]";
                expect(parser.currentToken(), JsonToken.START_OBJECT, label, "an object with 'name'");
                String name = null;
                Parameters parameters = Parameters.empty();
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String field = parser.currentName();
                    JsonToken value = parser.nextToken();
                    switch (field) {
                        case "name" -> name = string(label + ".name", value);
                        case "parameters" -> parameters = parameters(label + " parameters", value);
                        default -> throw ServalException.invalidArgument(
                                "unknown field '%s' in %s; expected name, parameters", field, label);
                    }
                }
                if (name == null) {
                    throw ServalException.invalidArgument("%s has no 'name'", label);
                }
                if (parameters.getBoolean("binary_data", false)) {
                    throw ServalException.invalidArgument(
                            "output '%s' asks for binary_data, but this endpoint answers in JSON only", name);
                }
                outputs.add(new RequestedOutput(name, parameters));
            }
            return outputs;
        }

        private Parameters parameters(String label, JsonToken token) throws IOException {
            expect(token, JsonToken.START_OBJECT, label, "an object");
            Map<String, Object> values = new LinkedHashMap<>();
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                Object parsed = switch (value) {
                    case VALUE_STRING -> parser.getText();
                    case VALUE_TRUE -> Boolean.TRUE;
                    case VALUE_FALSE -> Boolean.FALSE;
                    case VALUE_NUMBER_FLOAT -> parser.getDoubleValue();
                    case VALUE_NUMBER_INT -> {
                        try {
                            yield parser.getLongValue();
                        } catch (InputCoercionException e) {
                            throw ServalException.invalidArgument("%s '%s' is %s, too large for a 64-bit integer",
                                    label, name, parser.getText());
                        }
                    }
                    default -> throw ServalException.invalidArgument(
                            "%s '%s' is %s; expected a string, number or boolean", label, name, text(parser));
                };
                values.put(name, parsed);
            }
            return Parameters.of(values);
        }

        private String string(String label, JsonToken token) throws IOException {
            if (token != JsonToken.VALUE_STRING) {
                throw ServalException.invalidArgument("%s is %s; expected a string", label, text(parser));
            }
            return parser.getText();
        }

        private void expect(JsonToken actual, JsonToken wanted, String label, String description) throws IOException {
            if (actual != wanted) {
                throw ServalException.invalidArgument("%s is %s; expected %s", label, text(parser), description);
            }
        }
    }

    /** The current token as the client wrote it, shortened for error messages. */
    static String text(JsonParser parser) throws IOException {
        JsonToken token = parser.currentToken();
        if (token == null) {
            return "missing";
        }
        if (token == JsonToken.START_ARRAY) {
            return "an array";
        }
        if (token == JsonToken.START_OBJECT) {
            return "an object";
        }
        String text = parser.getText();
        if (text.length() > 40) {
            text = text.substring(0, 40) + "...";
        }
        return token == JsonToken.VALUE_STRING ? "\"" + text + "\"" : text;
    }
}
