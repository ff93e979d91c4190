package dev.serval.transport.http;

import dev.serval.api.DataType;
import dev.serval.api.InferenceRequest;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import dev.serval.transport.http.JsonReader.Token;
import java.math.BigInteger;
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
 * <p>Design note on speed: a large tensor is almost all numbers, and Jackson's general-purpose
 * parser spent about 28 ns on each (tokenize into a char buffer, then convert the text): 5 to 6 ms
 * for one 224x224 RGB image. The body is already one {@code byte[]}, so {@link JsonReader} reads it
 * in place, gathers each number's digits while checking its grammar, and pours runs of numbers
 * straight into the tensor's buffer ({@link JsonReader#readFloats}); {@link DecimalConversion} rounds
 * them exactly, mostly without looking at the digits again. That is about 2 ms for the same image
 * (3 ms when PyTorch writes each float with 17 digits). Tokens, limits, the order of errors and their
 * wording are Jackson's, so clients see the same answers, "malformed JSON at line L, column C: ..."
 * included.
 *
 * <p>Stateless and thread-safe.
 */
final class JsonRequestDecoder {
    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    private static final DataType[] DATA_TYPES = DataType.values();
    /** Binary tensor data extension: an input's byte count after the JSON. */
    static final String BINARY_DATA_SIZE = "binary_data_size";
    /** Binary tensor data extension: an output wanted as raw bytes. */
    static final String BINARY_DATA = "binary_data";
    /** Binary tensor data extension: every output (unless it says otherwise) wanted as raw bytes. */
    static final String BINARY_DATA_OUTPUT = "binary_data_output";

    private JsonRequestDecoder() {
    }

    /**
     * Decodes a request whose tensors are all in its JSON (no {@code Inference-Header-Content-Length}).
     *
     * @param specs the model's declared inputs, used to type {@code data} that precedes {@code datatype}
     * @throws ServalException INVALID_ARGUMENT for malformed JSON or inconsistent tensors, and for an
     *                         input with {@code binary_data_size}, which needs the binary extension's header
     */
    static InferenceRequest decode(byte[] body, int offset, int length, String model, String version,
                                   List<TensorSpec> specs) {
        Header header = decodeHeader(body, offset, length, specs);
        if (!header.binary().isEmpty()) {
            BinaryInput first = header.binary().getFirst();
            throw ServalException.invalidArgument("input '%s' has binary_data_size %d, but the request has no "
                    + "Inference-Header-Content-Length header saying where its JSON ends and the binary data begin",
                    first.name(), first.size());
        }
        return new InferenceRequest(model, version, header.id(), header.parameters(), header.inputs(),
                header.outputs());
    }

    /**
     * Decodes the JSON part of a request that may carry binary tensors (Triton's binary tensor data
     * extension): inputs with {@code data} are decoded as by {@link #decode}, inputs with
     * {@code binary_data_size} are checked against their shape and datatype and listed in
     * {@link Header#binary()}, to be read from the bytes that follow.
     *
     * @throws ServalException INVALID_ARGUMENT for malformed JSON or inconsistent tensors
     */
    static Header decodeHeader(byte[] body, int offset, int length, List<TensorSpec> specs) {
        requireUtf8(body, offset, length);
        return new Reader(new JsonReader(body, offset, length), body, length, specs).request();
    }

    /**
     * An input whose elements follow the JSON as {@code size} raw bytes.
     *
     * @param index where the input stands among the request's inputs
     */
    record BinaryInput(int index, String name, DataType type, long[] shape, int size) {
    }

    /**
     * A request's JSON part.
     *
     * @param inputs every input in request order; null at the index of each {@link BinaryInput}
     * @param binary the inputs whose data follow the JSON, in request order (the order of their bytes)
     */
    record Header(String id, Parameters parameters, List<Tensor> inputs, List<BinaryInput> binary,
                  List<RequestedOutput> outputs) {
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

    /** One pass over one request body. */
    private static final class Reader {
        private final JsonReader parser;
        private final byte[] body;
        private final int bodyLength;
        private final List<TensorSpec> specs;

        Reader(JsonReader parser, byte[] body, int bodyLength, List<TensorSpec> specs) {
            this.parser = parser;
            this.body = body;
            this.bodyLength = bodyLength;
            this.specs = specs;
        }

        Header request() {
            if (parser.nextToken() != Token.START_OBJECT) {
                throw ServalException.invalidArgument("the request body must be a JSON object with 'inputs'");
            }
            String id = null;
            Parameters parameters = Parameters.empty();
            List<Tensor> inputs = null;
            List<BinaryInput> binary = new ArrayList<>(0);
            List<RequestedOutput> outputs = List.of();
            while (parser.nextToken() == Token.FIELD_NAME) {
                String field = parser.currentName();
                Token value = parser.nextToken();
                switch (field) {
                    case "id" -> id = string("id", value);
                    case "parameters" -> parameters = parameters("parameters", value);
                    case "inputs" -> inputs = inputs(value, binary);
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
            parameters.getBoolean(BINARY_DATA_OUTPUT, false); // a non-boolean is refused here, before any work
            return new Header(id, parameters, inputs, binary, outputs);
        }

        private List<Tensor> inputs(Token token, List<BinaryInput> binary) {
            expect(token, Token.START_ARRAY, "'inputs'", "an array of tensors");
            List<Tensor> inputs = new ArrayList<>(specs.size());
            for (int index = 0; parser.nextToken() != Token.END_ARRAY; index++) {
                inputs.add(input(index, binary));
            }
            return inputs;
        }

        /** The input the parser is on, or null when its data follow the JSON (added to {@code binary}). */
        private Tensor input(int index, List<BinaryInput> binary) {
            expect(parser.currentToken(), Token.START_OBJECT, "inputs[" + index + "]", "a tensor object");
            String name = null;
            long[] shape = null;
            DataType type = null;
            Parameters parameters = Parameters.empty();
            TensorData data = null;
            DataType dataParsedAs = null;
            int deferredStart = -1;
            int deferredEnd = -1;
            while (parser.nextToken() == Token.FIELD_NAME) {
                String field = parser.currentName();
                Token value = parser.nextToken();
                String label = name == null ? "inputs[" + index + "]" : "input '" + name + "'";
                switch (field) {
                    case "name" -> name = inputName(index, value);
                    case "shape" -> shape = shape(label, value);
                    case "datatype" -> type = datatype(label, value);
                    case "parameters" -> parameters = parameters(label + " parameters", value);
                    case "data" -> {
                        expect(value, Token.START_ARRAY, label + " data", "an array");
                        DataType known = type != null ? type : declaredType(name);
                        if (known != null) {
                            data = data(parser, label, known, shape);
                            dataParsedAs = known;
                        } else {
                            deferredStart = parser.tokenStart();
                            parser.skipChildren();
                            deferredEnd = parser.position();
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
            if (parameters.asMap().containsKey(BINARY_DATA_SIZE)) {
                if (data != null || deferredStart >= 0) {
                    throw ServalException.invalidArgument("%s has both 'data' and parameter binary_data_size; "
                            + "send its elements one way: in 'data' or as binary data after the JSON", label);
                }
                binary.add(binaryInput(index, name, type, shape, parameters.asMap().get(BINARY_DATA_SIZE)));
                return null;
            }
            if (dataParsedAs != null && dataParsedAs != type) {
                throw ServalException.invalidArgument("input '%s' has datatype %s but the model expects %s",
                        name, type, dataParsedAs);
            }
            if (data == null && deferredStart >= 0) {
                JsonReader again = new JsonReader(body, deferredStart, deferredEnd - deferredStart);
                again.nextToken();
                data = data(again, label, type, shape);
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

        /** An input's name: the model's own String when the client wrote one of its input names plainly. */
        private String inputName(int index, Token value) {
            for (int i = 0; i < specs.size(); i++) {
                String known = specs.get(i).name();
                if (parser.stringIs(known)) {
                    return known;
                }
            }
            return string("inputs[" + index + "].name", value);
        }

        /** An input's datatype, read without a String when spelled as the protocol spells it. */
        private DataType datatype(String label, Token value) {
            for (DataType type : DATA_TYPES) {
                if (parser.stringIs(type.name())) {
                    return type;
                }
            }
            return DataType.parse(label, string(label + " datatype", value));
        }

        /** Checks a binary input's declared size against its shape and datatype. */
        private static BinaryInput binaryInput(int index, String name, DataType type, long[] shape, Object declared) {
            String label = "input '" + name + "'";
            if (!(declared instanceof Long size) || size < 0) {
                throw ServalException.invalidArgument("%s parameter binary_data_size is %s; expected its byte count, "
                        + "a non-negative integer", label, declared instanceof String text ? "\"" + text + "\"" : declared);
            }
            if (size > Integer.MAX_VALUE - 8) {
                throw ServalException.invalidArgument("%s binary_data_size %d is over the 2 GB a tensor may hold",
                        label, size);
            }
            long elements = Shapes.elementCount(shape);
            if (type.isFixedWidth()) {
                long needed = elements > Long.MAX_VALUE / type.byteSize() ? -1 : elements * type.byteSize();
                if (needed != size) {
                    throw ServalException.invalidArgument("%s has binary_data_size %d but shape %s of %s needs %s bytes",
                            label, size, Shapes.format(shape), type,
                            needed < 0 ? "more than 2^63" : elements + " x " + type.byteSize() + " = " + needed);
                }
            } else if (elements > size / 4) {
                throw ServalException.invalidArgument("%s has binary_data_size %d but shape %s has %d BYTES elements, "
                        + "which need at least 4 bytes each for their lengths", label, size, Shapes.format(shape), elements);
            }
            return new BinaryInput(index, name, type, shape, (int) (long) size);
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

        private long[] shape(String label, Token token) {
            expect(token, Token.START_ARRAY, label + " shape", "an array of non-negative integers");
            long[] dims = new long[4];
            int rank = 0;
            while (parser.nextToken() != Token.END_ARRAY) {
                if (parser.currentToken() != Token.NUMBER_INT || !parser.fitsLong() || parser.longValue() < 0) {
                    throw ServalException.invalidArgument("%s shape has %s; expected non-negative integers",
                            label, text(parser));
                }
                if (rank == dims.length) {
                    dims = Arrays.copyOf(dims, rank * 2);
                }
                dims[rank++] = parser.longValue();
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
        private TensorData data(JsonReader in, String label, DataType type, long[] shape) {
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
            boolean floating = type == DataType.FP32 || type == DataType.FP64 || type == DataType.FP16
                    || type == DataType.BF16;
            int depth = 1;
            while (depth > 0) {
                if (floating) {
                    in.readFloats(elements, type);
                }
                Token token = in.nextToken();
                if (token == Token.NUMBER_FLOAT || token == Token.NUMBER_INT) {
                    int at = elements.next();
                    if (at >= 0) {
                        number(in, token, elements, at, type, label);
                    }
                } else if (token == Token.START_ARRAY) {
                    depth++;
                } else if (token == Token.END_ARRAY) {
                    depth--;
                } else if (token == null) {
                    throw ServalException.invalidArgument("%s data ends before its array closes", label);
                } else {
                    int at = elements.next();
                    if (at >= 0) {
                        other(in, token, elements, at, type, label);
                    }
                }
            }
            if (expected >= 0 && elements.count() != expected) {
                throw ServalException.invalidArgument("%s has %d elements in 'data' but shape %s needs %d",
                        label, elements.count(), Shapes.format(shape), expected);
            }
            return new TensorData.FixedWidth(elements.finish(), true);
        }

        /** Writes the number the reader is on as an element of {@code type}, or says why it cannot be one. */
        private static void number(JsonReader in, Token token, ElementBuffer out, int at, DataType type, String label) {
            long index = out.count() - 1;
            switch (type) {
                case FP32 -> out.putFloat(at, in.floatValue());
                case FP64 -> out.putDouble(at, in.doubleValue());
                case FP16 -> out.putFloat16(at, in.floatValue());
                case BF16 -> out.putBfloat16(at, in.floatValue());
                case INT8 -> out.putByte(at, (byte) integer(in, token, type, label, index, Byte.MIN_VALUE, Byte.MAX_VALUE));
                case INT16 -> out.putShort(at, (short) integer(in, token, type, label, index, Short.MIN_VALUE, Short.MAX_VALUE));
                case INT32 -> out.putInt(at, (int) integer(in, token, type, label, index, Integer.MIN_VALUE, Integer.MAX_VALUE));
                case INT64 -> out.putLong(at, integer(in, token, type, label, index, Long.MIN_VALUE, Long.MAX_VALUE));
                case UINT8 -> out.putByte(at, (byte) integer(in, token, type, label, index, 0, 0xFF));
                case UINT16 -> out.putShort(at, (short) integer(in, token, type, label, index, 0, 0xFFFF));
                case UINT32 -> out.putInt(at, (int) integer(in, token, type, label, index, 0, 0xFFFF_FFFFL));
                case UINT64 -> out.putLong(at, unsigned64(in, token, label, index));
                case BOOL -> throw badElement(in, label, index, "true or false");
                case BYTES -> throw new IllegalStateException("BYTES are decoded as strings");
            }
        }

        /** Writes an element that is not a number (a boolean, "NaN" ...), or says why it cannot be one. */
        private static void other(JsonReader in, Token token, ElementBuffer out, int at, DataType type, String label) {
            long index = out.count() - 1;
            switch (type) {
                case FP32 -> out.putFloat(at, (float) special(in, token, type, label, index));
                case FP64 -> out.putDouble(at, special(in, token, type, label, index));
                case FP16 -> out.putFloat16(at, (float) special(in, token, type, label, index));
                case BF16 -> out.putBfloat16(at, (float) special(in, token, type, label, index));
                case BOOL -> {
                    if (token != Token.TRUE && token != Token.FALSE) {
                        throw badElement(in, label, index, "true or false");
                    }
                    out.putByte(at, (byte) (token == Token.TRUE ? 1 : 0));
                }
                case BYTES -> throw new IllegalStateException("BYTES are decoded as strings");
                default -> throw badElement(in, label, index, "an integer (" + type + ")");
            }
        }

        /** NaN and the infinities, which JSON has no numbers for, arrive as strings. */
        private static double special(JsonReader in, Token token, DataType type, String label, long index) {
            if (token == Token.STRING) {
                switch (in.getText()) {
                    case "NaN": return Double.NaN;
                    case "Infinity": return Double.POSITIVE_INFINITY;
                    case "-Infinity": return Double.NEGATIVE_INFINITY;
                    default: break;
                }
            }
            throw badElement(in, label, index, "a number (" + type + ")");
        }

        private static long integer(JsonReader in, Token token, DataType type, String label, long index,
                                    long min, long max) {
            if (token != Token.NUMBER_INT) {
                throw badElement(in, label, index, "an integer (" + type + ")");
            }
            if (!in.fitsLong()) {
                throw outOfRange(in, label, index, type, min, max);
            }
            long value = in.longValue();
            if (value < min || value > max) {
                throw outOfRange(in, label, index, type, min, max);
            }
            return value;
        }

        private static long unsigned64(JsonReader in, Token token, String label, long index) {
            if (token != Token.NUMBER_INT) {
                throw badElement(in, label, index, "an integer (UINT64)");
            }
            if (in.fitsLong() && in.longValue() >= 0) {
                return in.longValue();
            }
            BigInteger value = in.bigIntegerValue();
            if (value.signum() < 0 || value.compareTo(UINT64_MAX) > 0) {
                throw ServalException.invalidArgument("%s has %s at data index %d, outside UINT64's range [0, %s]",
                        label, value, index, UINT64_MAX);
            }
            return value.longValue();
        }

        private static ServalException outOfRange(JsonReader in, String label, long index, DataType type,
                                                  long min, long max) {
            return ServalException.invalidArgument("%s has %s at data index %d, outside %s's range [%d, %d]",
                    label, in.getText(), index, type, min, max);
        }

        private static ServalException badElement(JsonReader in, String label, long index, String expected) {
            return ServalException.invalidArgument("%s has %s at data index %d; expected %s",
                    label, text(in), index, expected);
        }

        private TensorData strings(JsonReader in, String label, long expected) {
            List<byte[]> elements = new ArrayList<>(expected >= 0 ? (int) expected : 16);
            int depth = 1;
            while (depth > 0) {
                Token token = in.nextToken();
                if (token == Token.START_ARRAY) {
                    depth++;
                } else if (token == Token.END_ARRAY) {
                    depth--;
                } else if (token == Token.STRING) {
                    elements.add(in.stringUtf8());
                } else if (token == null) {
                    throw ServalException.invalidArgument("%s data ends before its array closes", label);
                } else {
                    throw badElement(in, label, elements.size(), "a string (BYTES)");
                }
            }
            return new TensorData.Bytes(elements.toArray(new byte[0][]));
        }

        private List<RequestedOutput> outputs(Token token) {
            expect(token, Token.START_ARRAY, "'outputs'", "an array of {\"name\": ...} objects");
            List<RequestedOutput> outputs = new ArrayList<>();
            for (int index = 0; parser.nextToken() != Token.END_ARRAY; index++) {
                String label = "outputs[" + index + "]";
                expect(parser.currentToken(), Token.START_OBJECT, label, "an object with 'name'");
                String name = null;
                Parameters parameters = Parameters.empty();
                while (parser.nextToken() == Token.FIELD_NAME) {
                    String field = parser.currentName();
                    Token value = parser.nextToken();
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
                Object binary = parameters.asMap().get(BINARY_DATA);
                if (binary != null && !(binary instanceof Boolean)) {
                    throw ServalException.invalidArgument("output '%s' parameter binary_data is %s; expected true or false",
                            name, binary instanceof String text ? "\"" + text + "\"" : binary);
                }
                outputs.add(new RequestedOutput(name, parameters));
            }
            return outputs;
        }

        private Parameters parameters(String label, Token token) {
            expect(token, Token.START_OBJECT, label, "an object");
            Map<String, Object> values = new LinkedHashMap<>();
            while (parser.nextToken() == Token.FIELD_NAME) {
                String name = parser.currentName();
                Token value = parser.nextToken();
                Object parsed = switch (value) {
                    case STRING -> parser.getText();
                    case TRUE -> Boolean.TRUE;
                    case FALSE -> Boolean.FALSE;
                    case NUMBER_FLOAT -> parser.doubleValue();
                    case NUMBER_INT -> {
                        if (!parser.fitsLong()) {
                            throw ServalException.invalidArgument("%s '%s' is %s, too large for a 64-bit integer",
                                    label, name, parser.getText());
                        }
                        yield parser.longValue();
                    }
                    default -> throw ServalException.invalidArgument(
                            "%s '%s' is %s; expected a string, number or boolean", label, name, text(parser));
                };
                values.put(name, parsed);
            }
            return Parameters.of(values);
        }

        private String string(String label, Token token) {
            if (token != Token.STRING) {
                throw ServalException.invalidArgument("%s is %s; expected a string", label, text(parser));
            }
            return parser.getText();
        }

        private void expect(Token actual, Token wanted, String label, String description) {
            if (actual != wanted) {
                throw ServalException.invalidArgument("%s is %s; expected %s", label, text(parser), description);
            }
        }
    }

    /** The current token as the client wrote it, shortened for error messages. */
    static String text(JsonReader parser) {
        Token token = parser.currentToken();
        if (token == null) {
            return "missing";
        }
        if (token == Token.START_ARRAY) {
            return "an array";
        }
        if (token == Token.START_OBJECT) {
            return "an object";
        }
        String text = parser.getText();
        if (text.length() > 40) {
            text = text.substring(0, 40) + "...";
        }
        return token == Token.STRING ? "\"" + text + "\"" : text;
    }
}
