package dev.serval.client;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The REST wire: inference requests written with Jackson's streaming generator straight from the
 * inputs' arrays, responses parsed by streaming straight into little-endian buffers (no boxed
 * lists), and, for Triton's binary tensor data extension, the JSON header framed with the raw
 * tensors. The small metadata documents are read as trees.
 *
 * <p>Stateless and thread-safe.
 */
final class JsonCodec {
    /**
     * Jackson recycles its buffers per thread by default, which recycles nothing for callers on
     * virtual threads; a small shared pool serves both.
     */
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .recyclerPool(JsonRecyclerPools.newBoundedPool(64))
            .build();
    private static final ObjectMapper TREES = new ObjectMapper(FACTORY);
    static final String BINARY_DATA_SIZE = "binary_data_size";
    private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

    private JsonCodec() {
    }

    /** A request body and the length of its JSON part (the whole body for plain JSON). */
    record Body(byte[] bytes, int headerLength) {
    }

    // ---------------------------------------------------------------- requests

    /** The request as one JSON document, tensors as JSON arrays. */
    static Body encodeJson(InferRequest request) {
        long elements = 0;
        for (InferInput input : request.inputs()) {
            elements += input.byteSize();
        }
        byte[] json = write(request, false, (int) Math.min(Integer.MAX_VALUE - 8, 256 + elements * 4));
        return new Body(json, json.length);
    }

    /**
     * The request as a JSON header without tensor data, followed by every input's bytes in input
     * order; every output is asked for in binary. The tensors are copied once, from the caller's
     * arrays into the body.
     */
    static Body encodeBinary(InferRequest request) {
        byte[] header = write(request, true, 256 + 128 * request.inputs().size());
        long total = header.length;
        for (InferInput input : request.inputs()) {
            total += input.byteSize();
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the request's tensors total " + total + " bytes, more than one body can carry");
        }
        byte[] body = Arrays.copyOf(header, (int) total);
        ByteBuffer out = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).position(header.length);
        for (InferInput input : request.inputs()) {
            input.writeTo(out);
        }
        return new Body(body, header.length);
    }

    private static byte[] write(InferRequest request, boolean binary, int sizeHint) {
        try (ByteArrayBuilder bytes = new ByteArrayBuilder(sizeHint);
             JsonGenerator json = FACTORY.createGenerator(bytes)) {
            json.writeStartObject();
            if (request.id().isPresent()) {
                json.writeStringField("id", request.id().get());
            }
            Map<String, Object> parameters = request.parameters();
            if (binary && request.outputs().isEmpty()) {
                parameters = new LinkedHashMap<>(parameters);
                parameters.put("binary_data_output", true);
            }
            if (!parameters.isEmpty()) {
                json.writeFieldName("parameters");
                writeParameters(json, parameters);
            }
            json.writeArrayFieldStart("inputs");
            for (InferInput input : request.inputs()) {
                json.writeStartObject();
                json.writeStringField("name", input.name());
                json.writeFieldName("shape");
                long[] shape = input.shapeUnsafe();
                json.writeArray(shape, 0, shape.length);
                json.writeStringField("datatype", input.datatype().name());
                if (binary) {
                    json.writeObjectFieldStart("parameters");
                    json.writeNumberField(BINARY_DATA_SIZE, input.byteSize());
                    json.writeEndObject();
                } else {
                    json.writeFieldName("data");
                    writeElements(json, input);
                }
                json.writeEndObject();
            }
            json.writeEndArray();
            if (!request.outputs().isEmpty()) {
                json.writeArrayFieldStart("outputs");
                for (RequestedOutput output : request.outputs()) {
                    json.writeStartObject();
                    json.writeStringField("name", output.name());
                    if (binary || output.classification() > 0) {
                        json.writeObjectFieldStart("parameters");
                        if (output.classification() > 0) {
                            json.writeNumberField("classification", output.classification());
                        }
                        if (binary) {
                            json.writeBooleanField("binary_data", true);
                        }
                        json.writeEndObject();
                    }
                    json.writeEndObject();
                }
                json.writeEndArray();
            }
            json.writeEndObject();
            json.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("writing JSON into memory failed", e);
        }
    }

    private static void writeParameters(JsonGenerator json, Map<String, Object> parameters) throws IOException {
        json.writeStartObject();
        for (Map.Entry<String, Object> entry : parameters.entrySet()) {
            json.writeFieldName(entry.getKey());
            switch (entry.getValue()) {
                case String text -> json.writeString(text);
                case Boolean flag -> json.writeBoolean(flag);
                case Long number -> json.writeNumber(number);
                case Double number -> json.writeNumber(number);
                default -> throw new IllegalStateException("unexpected parameter " + entry);
            }
        }
        json.writeEndObject();
    }

    /** One input's elements as a flat JSON array, read from the caller's array or buffer. */
    private static void writeElements(JsonGenerator json, InferInput input) throws IOException {
        json.writeStartArray();
        switch (input.data()) {
            case float[] values -> {
                for (float value : values) {
                    json.writeNumber(value);
                }
            }
            case double[] values -> {
                for (double value : values) {
                    json.writeNumber(value);
                }
            }
            case int[] values -> {
                for (int value : values) {
                    json.writeNumber(value);
                }
            }
            case long[] values -> {
                for (long value : values) {
                    json.writeNumber(value);
                }
            }
            case short[] values -> {
                for (short value : values) {
                    json.writeNumber(value);
                }
            }
            case byte[] values -> {
                boolean unsigned = input.datatype() == DataType.UINT8;
                for (byte value : values) {
                    json.writeNumber(unsigned ? value & 0xFF : value);
                }
            }
            case boolean[] values -> {
                for (boolean value : values) {
                    json.writeBoolean(value);
                }
            }
            case byte[][] values -> {
                for (byte[] value : values) {
                    json.writeUTF8String(value, 0, value.length);
                }
            }
            case ByteBuffer buffer -> writeBinaryElements(json, input.datatype(), buffer);
            default -> throw new IllegalStateException("unexpected input data " + input.data().getClass());
        }
        json.writeEndArray();
    }

    private static void writeBinaryElements(JsonGenerator json, DataType type, ByteBuffer in) throws IOException {
        int bytes = in.remaining();
        int base = in.position();
        switch (type) {
            case FP32 -> {
                for (int at = 0; at < bytes; at += 4) {
                    json.writeNumber(in.getFloat(base + at));
                }
            }
            case FP64 -> {
                for (int at = 0; at < bytes; at += 8) {
                    json.writeNumber(in.getDouble(base + at));
                }
            }
            case FP16 -> {
                for (int at = 0; at < bytes; at += 2) {
                    json.writeNumber(Float.float16ToFloat(in.getShort(base + at)));
                }
            }
            case BF16 -> {
                for (int at = 0; at < bytes; at += 2) {
                    json.writeNumber(Float.intBitsToFloat((in.getShort(base + at) & 0xFFFF) << 16));
                }
            }
            case INT8 -> {
                for (int at = 0; at < bytes; at++) {
                    json.writeNumber(in.get(base + at));
                }
            }
            case UINT8 -> {
                for (int at = 0; at < bytes; at++) {
                    json.writeNumber(in.get(base + at) & 0xFF);
                }
            }
            case BOOL -> {
                for (int at = 0; at < bytes; at++) {
                    json.writeBoolean(in.get(base + at) != 0);
                }
            }
            case INT16 -> {
                for (int at = 0; at < bytes; at += 2) {
                    json.writeNumber(in.getShort(base + at));
                }
            }
            case UINT16 -> {
                for (int at = 0; at < bytes; at += 2) {
                    json.writeNumber(in.getShort(base + at) & 0xFFFF);
                }
            }
            case INT32 -> {
                for (int at = 0; at < bytes; at += 4) {
                    json.writeNumber(in.getInt(base + at));
                }
            }
            case UINT32 -> {
                for (int at = 0; at < bytes; at += 4) {
                    json.writeNumber(in.getInt(base + at) & 0xFFFF_FFFFL);
                }
            }
            case INT64 -> {
                for (int at = 0; at < bytes; at += 8) {
                    json.writeNumber(in.getLong(base + at));
                }
            }
            case UINT64 -> {
                for (int at = 0; at < bytes; at += 8) {
                    json.writeNumber(Long.toUnsignedString(in.getLong(base + at)));
                }
            }
            case BYTES -> {
                int at = 0;
                while (at < bytes) {
                    int length = in.getInt(base + at);
                    byte[] element = new byte[length];
                    in.get(base + at + 4, element);
                    json.writeUTF8String(element, 0, length);
                    at += 4 + length;
                }
            }
        }
    }

    // ---------------------------------------------------------------- responses

    /**
     * An inference response: the JSON in {@code body[0, headerLength)}, and for outputs that carry
     * {@code binary_data_size}, their bytes after it, in output order. The binary outputs view
     * {@code body}; nothing is copied.
     *
     * @throws ServalClientException INVALID_RESPONSE when the answer does not follow the protocol
     */
    static InferResult decodeInfer(byte[] body, int headerLength) {
        if (headerLength < 0 || headerLength > body.length) {
            throw Errors.invalidResponse("Inference-Header-Content-Length " + headerLength + " but the body has "
                    + body.length + " bytes", null);
        }
        ByteBuffer binary = ByteBuffer.wrap(body, headerLength, body.length - headerLength).slice().order(ByteOrder.LITTLE_ENDIAN);
        try (JsonParser json = TREES.createParser(body, 0, headerLength)) {
            expect(json.nextToken(), JsonToken.START_OBJECT, "the response");
            String modelName = null;
            String modelVersion = "";
            String id = null;
            Map<String, Object> parameters = Map.of();
            List<InferOutput> outputs = null;
            while (json.nextToken() == JsonToken.FIELD_NAME) {
                String field = json.currentName();
                JsonToken value = json.nextToken();
                switch (field) {
                    case "model_name" -> modelName = string(json, value, field);
                    case "model_version" -> modelVersion = string(json, value, field);
                    case "id" -> id = string(json, value, field);
                    case "parameters" -> parameters = parameters(json, value, "the response's parameters");
                    case "outputs" -> {
                        expect(value, JsonToken.START_ARRAY, "outputs");
                        outputs = new ArrayList<>();
                        while (json.nextToken() != JsonToken.END_ARRAY) {
                            outputs.add(output(json, binary, outputs.size()));
                        }
                    }
                    default -> json.skipChildren();
                }
            }
            if (json.nextToken() != null) {
                throw Errors.invalidResponse("text after the response's JSON object", null);
            }
            if (modelName == null) {
                throw Errors.invalidResponse("the response has no model_name", null);
            }
            if (outputs == null) {
                throw Errors.invalidResponse("the response has no outputs", null);
            }
            if (binary.hasRemaining()) {
                throw Errors.invalidResponse(binary.remaining() + " bytes after the last binary output", null);
            }
            return new InferResult(modelName, modelVersion, id, parameters, outputs);
        } catch (IOException e) {
            throw Errors.invalidResponse("not JSON: " + e.getMessage(), e);
        }
    }

    private static InferOutput output(JsonParser json, ByteBuffer binary, int index) throws IOException {
        expect(json.currentToken(), JsonToken.START_OBJECT, "outputs[" + index + "]");
        String name = null;
        DataType type = null;
        long[] shape = null;
        Map<String, Object> parameters = Map.of();
        ByteBuffer data = null;
        JsonNode early = null;
        while (json.nextToken() == JsonToken.FIELD_NAME) {
            String field = json.currentName();
            JsonToken value = json.nextToken();
            String where = name == null ? "outputs[" + index + "]" : "output '" + name + "'";
            switch (field) {
                case "name" -> name = string(json, value, where + " name");
                case "datatype" -> {
                    String text = string(json, value, where + " datatype");
                    try {
                        type = DataType.of(text);
                    } catch (IllegalArgumentException e) {
                        throw Errors.invalidResponse(where + ": " + e.getMessage(), e);
                    }
                }
                case "shape" -> shape = shape(json, value, where);
                case "parameters" -> parameters = parameters(json, value, where + " parameters");
                case "data" -> {
                    if (type != null && shape != null) {
                        data = elements(json, type, shape, where);
                    } else {
                        // A server may send data before datatype and shape: keep it until they come.
                        early = json.readValueAsTree();
                    }
                }
                default -> json.skipChildren();
            }
        }
        if (name == null || type == null || shape == null) {
            throw Errors.invalidResponse("outputs[" + index + "] lacks its " + (name == null ? "name" : type == null ? "datatype" : "shape"), null);
        }
        String where = "output '" + name + "'";
        if (early != null) {
            try (JsonParser tree = TREES.treeAsTokens(early)) {
                data = elements(tree, type, shape, where);
            }
        }
        Object binarySize = parameters.get(BINARY_DATA_SIZE);
        if (binarySize != null) {
            if (data != null) {
                throw Errors.invalidResponse(where + " has both data and " + BINARY_DATA_SIZE, null);
            }
            if (!(binarySize instanceof Long size) || size < 0 || size > binary.remaining()) {
                throw Errors.invalidResponse(where + " has " + BINARY_DATA_SIZE + " " + binarySize + " but "
                        + binary.remaining() + " binary bytes remain", null);
            }
            data = binary.slice(binary.position(), (int) (long) size).order(ByteOrder.LITTLE_ENDIAN);
            binary.position(binary.position() + (int) (long) size);
            Map<String, Object> rest = new LinkedHashMap<>(parameters);
            rest.remove(BINARY_DATA_SIZE);
            parameters = rest;
        }
        if (data == null) {
            throw Errors.invalidResponse(where + " has neither data nor " + BINARY_DATA_SIZE, null);
        }
        return new InferOutput(name, type, shape, parameters, data);
    }

    /** Reads a data array (flat or nested) into the binary layout, checking count and ranges. */
    private static ByteBuffer elements(JsonParser json, DataType type, long[] shape, String where) throws IOException {
        if (json.currentToken() == null) {
            json.nextToken();
        }
        expect(json.currentToken(), JsonToken.START_ARRAY, where + " data");
        long count;
        try {
            count = InferInput.elementCount(where, shape);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw Errors.invalidResponse(where + ": " + e.getMessage(), e);
        }
        if (type == DataType.BYTES) {
            return bytesElements(json, count, where);
        }
        if (count * type.byteSize() > Integer.MAX_VALUE - 8) {
            throw Errors.invalidResponse(where + " has shape " + Arrays.toString(shape) + ", too large", null);
        }
        ByteBuffer out = ByteBuffer.allocate((int) count * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        int depth = 1;
        long i = 0;
        while (depth > 0) {
            JsonToken token = json.nextToken();
            if (token == null) {
                throw Errors.invalidResponse(where + " data ends early", null);
            }
            switch (token) {
                case START_ARRAY -> depth++;
                case END_ARRAY -> depth--;
                default -> {
                    if (i >= count) {
                        throw Errors.invalidResponse(where + " has more than the " + count + " elements its shape "
                                + Arrays.toString(shape) + " needs", null);
                    }
                    element(json, token, type, out, where, i);
                    i++;
                }
            }
        }
        if (i != count) {
            throw Errors.invalidResponse(where + " has " + i + " elements but its shape " + Arrays.toString(shape)
                    + " needs " + count, null);
        }
        return out.flip();
    }

    private static void element(JsonParser json, JsonToken token, DataType type, ByteBuffer out, String where, long index)
            throws IOException {
        switch (type) {
            case FP32 -> out.putFloat((float) real(json, token, true, where, index));
            case FP64 -> out.putDouble(real(json, token, false, where, index));
            case FP16 -> out.putShort(Float.floatToFloat16((float) real(json, token, true, where, index)));
            case BF16 -> out.putShort(toBfloat16((float) real(json, token, true, where, index)));
            case BOOL -> {
                if (token != JsonToken.VALUE_TRUE && token != JsonToken.VALUE_FALSE) {
                    throw badElement(json, where, index, "true or false");
                }
                out.put(token == JsonToken.VALUE_TRUE ? (byte) 1 : (byte) 0);
            }
            case INT8 -> out.put((byte) integer(json, token, Byte.MIN_VALUE, Byte.MAX_VALUE, where, index));
            case UINT8 -> out.put((byte) integer(json, token, 0, 0xFF, where, index));
            case INT16 -> out.putShort((short) integer(json, token, Short.MIN_VALUE, Short.MAX_VALUE, where, index));
            case UINT16 -> out.putShort((short) integer(json, token, 0, 0xFFFF, where, index));
            case INT32 -> out.putInt((int) integer(json, token, Integer.MIN_VALUE, Integer.MAX_VALUE, where, index));
            case UINT32 -> out.putInt((int) integer(json, token, 0, 0xFFFF_FFFFL, where, index));
            case INT64 -> out.putLong(integer(json, token, Long.MIN_VALUE, Long.MAX_VALUE, where, index));
            case UINT64 -> {
                if (token != JsonToken.VALUE_NUMBER_INT) {
                    throw badElement(json, where, index, "an integer in [0, 2^64)");
                }
                BigInteger value = json.getBigIntegerValue();
                if (value.signum() < 0 || value.compareTo(TWO_64) >= 0) {
                    throw badElement(json, where, index, "an integer in [0, 2^64)");
                }
                out.putLong(value.longValue());
            }
            case BYTES -> throw new IllegalStateException("BYTES are read by bytesElements");
        }
    }

    private static double real(JsonParser json, JsonToken token, boolean single, String where, long index) throws IOException {
        if (token == JsonToken.VALUE_NUMBER_FLOAT || token == JsonToken.VALUE_NUMBER_INT) {
            // A float is parsed as a float: decimal -> double -> float could round twice.
            return single ? json.getFloatValue() : json.getDoubleValue();
        }
        if (token == JsonToken.VALUE_STRING) {
            switch (json.getText()) {
                case "NaN" -> {
                    return Double.NaN;
                }
                case "Infinity", "+Infinity" -> {
                    return Double.POSITIVE_INFINITY;
                }
                case "-Infinity" -> {
                    return Double.NEGATIVE_INFINITY;
                }
                default -> {
                }
            }
        }
        throw badElement(json, where, index, "a number, \"NaN\", \"Infinity\" or \"-Infinity\"");
    }

    private static long integer(JsonParser json, JsonToken token, long min, long max, String where, long index) throws IOException {
        if (token == JsonToken.VALUE_NUMBER_INT && json.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
            long value = json.getLongValue();
            if (value >= min && value <= max) {
                return value;
            }
        }
        throw badElement(json, where, index, "an integer in [" + min + ", " + max + "]");
    }

    private static ByteBuffer bytesElements(JsonParser json, long count, String where) throws IOException {
        List<byte[]> elements = new ArrayList<>();
        long total = 0;
        int depth = 1;
        while (depth > 0) {
            JsonToken token = json.nextToken();
            if (token == null) {
                throw Errors.invalidResponse(where + " data ends early", null);
            }
            switch (token) {
                case START_ARRAY -> depth++;
                case END_ARRAY -> depth--;
                case VALUE_STRING -> {
                    byte[] element = json.getText().getBytes(StandardCharsets.UTF_8);
                    elements.add(element);
                    total += 4 + element.length;
                    if (elements.size() > count || total > Integer.MAX_VALUE - 8) {
                        throw Errors.invalidResponse(where + " has more than the " + count + " elements its shape needs", null);
                    }
                }
                default -> throw badElement(json, where, elements.size(), "a string");
            }
        }
        if (elements.size() != count) {
            throw Errors.invalidResponse(where + " has " + elements.size() + " elements but its shape needs " + count, null);
        }
        ByteBuffer out = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
        for (byte[] element : elements) {
            out.putInt(element.length).put(element);
        }
        return out.flip();
    }

    private static ServalClientException badElement(JsonParser json, String where, long index, String expected) throws IOException {
        return Errors.invalidResponse(where + " element " + index + " is " + json.getText() + ", expected " + expected, null);
    }

    /** Rounds a float to bfloat16, to nearest even; NaN stays a (quiet) NaN. */
    static short toBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    private static long[] shape(JsonParser json, JsonToken value, String where) throws IOException {
        expect(value, JsonToken.START_ARRAY, where + " shape");
        long[] dims = new long[4];
        int n = 0;
        JsonToken token;
        while ((token = json.nextToken()) != JsonToken.END_ARRAY) {
            if (token != JsonToken.VALUE_NUMBER_INT || json.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw Errors.invalidResponse(where + " shape holds " + json.getText() + ", expected integers", null);
            }
            if (n == dims.length) {
                dims = Arrays.copyOf(dims, n * 2);
            }
            dims[n++] = json.getLongValue();
        }
        return Arrays.copyOf(dims, n);
    }

    private static Map<String, Object> parameters(JsonParser json, JsonToken value, String where) throws IOException {
        expect(value, JsonToken.START_OBJECT, where);
        Map<String, Object> parameters = new LinkedHashMap<>();
        while (json.nextToken() == JsonToken.FIELD_NAME) {
            String name = json.currentName();
            JsonToken token = json.nextToken();
            switch (token) {
                case VALUE_STRING -> parameters.put(name, json.getText());
                case VALUE_TRUE, VALUE_FALSE -> parameters.put(name, token == JsonToken.VALUE_TRUE);
                case VALUE_NUMBER_INT -> parameters.put(name, json.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                        ? (Object) json.getDoubleValue() : (Object) json.getLongValue());
                case VALUE_NUMBER_FLOAT -> parameters.put(name, json.getDoubleValue());
                case VALUE_NULL -> {
                }
                default -> throw Errors.invalidResponse(where + " '" + name + "' is not a string, number or boolean", null);
            }
        }
        return parameters;
    }

    private static String string(JsonParser json, JsonToken value, String what) throws IOException {
        if (value != JsonToken.VALUE_STRING) {
            throw Errors.invalidResponse(what + " is " + json.getText() + ", expected a string", null);
        }
        return json.getText();
    }

    private static void expect(JsonToken actual, JsonToken expected, String what) {
        if (actual != expected) {
            throw Errors.invalidResponse(what + " is " + (actual == null ? "missing" : actual.asString() != null
                    ? actual.asString() : actual.name()) + ", expected " + expected.asString(), null);
        }
    }

    // ---------------------------------------------------------------- metadata and health

    static ServerMetadata decodeServerMetadata(byte[] body) {
        JsonNode root = tree(body, "server metadata");
        List<String> extensions = new ArrayList<>();
        JsonNode list = root.path("extensions");
        if (!list.isMissingNode() && !list.isArray()) {
            throw Errors.invalidResponse("server metadata extensions is not an array", null);
        }
        for (JsonNode extension : list) {
            extensions.add(extension.asText());
        }
        return new ServerMetadata(text(root, "name", "server metadata"), root.path("version").asText(""), extensions);
    }

    static ModelMetadata decodeModelMetadata(byte[] body) {
        JsonNode root = tree(body, "model metadata");
        List<String> versions = new ArrayList<>();
        for (JsonNode version : root.path("versions")) {
            versions.add(version.asText());
        }
        return new ModelMetadata(text(root, "name", "model metadata"), versions, root.path("platform").asText(""),
                tensors(root, "inputs"), tensors(root, "outputs"));
    }

    private static List<ModelMetadata.Tensor> tensors(JsonNode root, String field) {
        JsonNode list = root.path(field);
        if (!list.isArray()) {
            throw Errors.invalidResponse("model metadata has no " + field + " array", null);
        }
        List<ModelMetadata.Tensor> tensors = new ArrayList<>();
        for (JsonNode tensor : list) {
            String where = "model metadata " + field + "[" + tensors.size() + "]";
            String name = text(tensor, "name", where);
            DataType type;
            try {
                type = DataType.of(text(tensor, "datatype", where));
            } catch (IllegalArgumentException e) {
                throw Errors.invalidResponse(where + ": " + e.getMessage(), e);
            }
            JsonNode shapeNode = tensor.path("shape");
            if (!shapeNode.isArray()) {
                throw Errors.invalidResponse(where + " has no shape array", null);
            }
            long[] shape = new long[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!shapeNode.get(i).canConvertToLong() || !shapeNode.get(i).isIntegralNumber()) {
                    throw Errors.invalidResponse(where + " shape holds " + shapeNode.get(i) + ", expected integers", null);
                }
                shape[i] = shapeNode.get(i).asLong();
            }
            tensors.add(new ModelMetadata.Tensor(name, type, shape));
        }
        return tensors;
    }

    /** Triton's repository index: an array of {@code {"name", "version"?, "state", "reason"?}}. */
    static List<ModelIndexEntry> decodeIndex(byte[] body) {
        JsonNode root;
        try {
            root = TREES.readTree(body);
        } catch (IOException e) {
            throw Errors.invalidResponse("the repository index is not JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isArray()) {
            throw Errors.invalidResponse("the repository index is not a JSON array", null);
        }
        List<ModelIndexEntry> rows = new ArrayList<>(root.size());
        for (JsonNode row : root) {
            String where = "repository index row " + rows.size();
            if (!row.isObject()) {
                throw Errors.invalidResponse(where + " is not a JSON object", null);
            }
            rows.add(new ModelIndexEntry(text(row, "name", where), optionalText(row, "version", where),
                    text(row, "state", where), optionalText(row, "reason", where)));
        }
        return rows;
    }

    private static String optionalText(JsonNode node, String field, String where) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return "";
        }
        if (!value.isTextual()) {
            throw Errors.invalidResponse(where + " has '" + field + "' " + value + ", expected a string", null);
        }
        return value.asText();
    }

    private static JsonNode tree(byte[] body, String what) {
        try {
            JsonNode root = TREES.readTree(body);
            if (root == null || !root.isObject()) {
                throw Errors.invalidResponse(what + " is not a JSON object", null);
            }
            return root;
        } catch (IOException e) {
            throw Errors.invalidResponse(what + " is not JSON: " + e.getMessage(), e);
        }
    }

    private static String text(JsonNode node, String field, String where) {
        JsonNode value = node.get(field);
        if (value == null || !value.isTextual()) {
            throw Errors.invalidResponse(where + " has no string '" + field + "'", null);
        }
        return value.asText();
    }
}
