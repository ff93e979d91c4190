package dev.serval.transport.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import dev.serval.api.DataType;
import dev.serval.api.InferenceResponse;
import dev.serval.api.ModelMetadata;
import dev.serval.api.Parameters;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Writes v2 JSON bodies: inference responses element by element from the output buffers, and the
 * small metadata documents. NaN and infinities are written as the strings {@code "NaN"},
 * {@code "Infinity"} and {@code "-Infinity"}, which the decoder accepts back.
 *
 * <p>Inference responses whose strings need no escaping and whose outputs are fixed-width are
 * written by {@link InferenceJson}, without Jackson, into the same bytes; the others by Jackson.
 * There, FP32, FP16 and BF16 elements are written by {@link FloatText} into one scratch array per
 * response and handed to Jackson as a raw value, which copies the chars into its output buffer:
 * Jackson's {@code writeNumber(float)} would make a {@code String} per element (the same text).
 *
 * <p>Stateless and thread-safe.
 */
final class JsonResponseEncoder {
    /**
     * Jackson's default buffer recycling is per thread, which with a virtual thread per request
     * recycles nothing: a bounded shared pool reuses the generators' buffers.
     */
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .recyclerPool(JsonRecyclerPools.newBoundedPool(256))
            .build();

    private JsonResponseEncoder() {
    }

    /** A body written by {@code writer} into a fresh array. */
    static byte[] write(int sizeHint, JsonWriter writer) {
        try (ByteArrayBuilder bytes = new ByteArrayBuilder(sizeHint);
             JsonGenerator json = FACTORY.createGenerator(bytes)) {
            writer.write(json);
            json.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes one JSON document. */
    @FunctionalInterface
    interface JsonWriter {
        void write(JsonGenerator json) throws IOException;
    }

    static byte[] inference(InferenceResponse response) {
        return inference(response, null);
    }

    /**
     * The response's JSON; with {@code binary}, the outputs marked there carry
     * {@code "parameters": {"binary_data_size": S}} instead of {@code data} (their bytes follow the
     * JSON, see {@link BinaryResponse}).
     *
     * @param binary per output, whether it goes as binary data; null when none does
     */
    static byte[] inference(InferenceResponse response, boolean[] binary) {
        byte[] plain = InferenceJson.write(response, binary);
        return plain != null ? plain : inferenceWithJackson(response, binary);
    }

    /** {@link #inference(InferenceResponse, boolean[])} written by Jackson, for any response. */
    static byte[] inferenceWithJackson(InferenceResponse response, boolean[] binary) {
        long elements = 0;
        for (int i = 0; i < response.outputs().size(); i++) {
            if (binary == null || !binary[i]) {
                elements += response.outputs().get(i).elementCount();
            }
        }
        int hint = (int) Math.min(Integer.MAX_VALUE - 8, 256 + elements * 12);
        return write(hint, json -> {
            char[] scratch = new char[FloatText.MAX_CHARS];
            json.writeStartObject();
            json.writeStringField("model_name", response.modelName());
            json.writeStringField("model_version", response.modelVersion());
            if (response.id() != null) {
                json.writeStringField("id", response.id());
            }
            if (!response.parameters().isEmpty()) {
                json.writeFieldName("parameters");
                parameters(json, response.parameters());
            }
            json.writeArrayFieldStart("outputs");
            for (int i = 0; i < response.outputs().size(); i++) {
                Tensor output = response.outputs().get(i);
                json.writeStartObject();
                json.writeStringField("name", output.name());
                json.writeStringField("datatype", output.type().name());
                json.writeFieldName("shape");
                json.writeArray(output.shape(), 0, output.shape().length);
                if (binary != null && binary[i]) {
                    json.writeObjectFieldStart("parameters");
                    json.writeNumberField(JsonRequestDecoder.BINARY_DATA_SIZE, BinaryResponse.byteSize(output));
                    json.writeEndObject();
                } else {
                    json.writeFieldName("data");
                    data(json, output, scratch);
                }
                json.writeEndObject();
            }
            json.writeEndArray();
            json.writeEndObject();
        });
    }

    /** Writes the elements; {@code scratch} holds {@link FloatText#MAX_CHARS} chars. */
    private static void data(JsonGenerator json, Tensor tensor, char[] scratch) throws IOException {
        json.writeStartArray();
        if (tensor.type() == DataType.BYTES) {
            for (byte[] element : tensor.bytesElements()) {
                json.writeString(new String(element, StandardCharsets.UTF_8));
            }
            json.writeEndArray();
            return;
        }
        ByteBuffer in = tensor.buffer();
        int count = (int) tensor.elementCount();
        switch (tensor.type()) {
            case FP32 -> {
                for (int i = 0; i < count; i++) {
                    writeFloat(json, in.getFloat(i << 2), scratch);
                }
            }
            case FP64 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(in.getDouble(i << 3));
                }
            }
            case FP16 -> {
                for (int i = 0; i < count; i++) {
                    writeFloat(json, Float.float16ToFloat(in.getShort(i << 1)), scratch);
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    writeFloat(json, Float.intBitsToFloat((in.getShort(i << 1) & 0xFFFF) << 16), scratch);
                }
            }
            case INT8 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(in.get(i));
                }
            }
            case INT16 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(in.getShort(i << 1));
                }
            }
            case INT32 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(in.getInt(i << 2));
                }
            }
            case INT64 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(in.getLong(i << 3));
                }
            }
            case UINT8 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(in.get(i) & 0xFF);
                }
            }
            case UINT16 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(in.getShort(i << 1) & 0xFFFF);
                }
            }
            case UINT32 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(in.getInt(i << 2) & 0xFFFF_FFFFL);
                }
            }
            case UINT64 -> {
                for (int i = 0; i < count; i++) {
                    json.writeNumber(Long.toUnsignedString(in.getLong(i << 3)));
                }
            }
            case BOOL -> {
                for (int i = 0; i < count; i++) {
                    json.writeBoolean(in.get(i) != 0);
                }
            }
            case BYTES -> throw new IllegalStateException("handled above");
        }
        json.writeEndArray();
    }

    /**
     * {@code Float.toString(value)} as a JSON number, through {@code scratch}: Jackson's
     * {@code writeRawValue(char[], int, int)} adds the separator and copies the ASCII chars into its
     * buffer without allocating. NaN and the infinities still go through Jackson, which quotes them.
     */
    private static void writeFloat(JsonGenerator json, float value, char[] scratch) throws IOException {
        if (Float.isFinite(value)) {
            json.writeRawValue(scratch, 0, FloatText.write(value, scratch, 0));
        } else {
            json.writeNumber(value);
        }
    }

    static void parameters(JsonGenerator json, Parameters parameters) throws IOException {
        json.writeStartObject();
        for (Map.Entry<String, Object> entry : parameters.asMap().entrySet()) {
            json.writeFieldName(entry.getKey());
            switch (entry.getValue()) {
                case String text -> json.writeString(text);
                case Long number -> json.writeNumber(number);
                case Double number -> json.writeNumber(number);
                case Boolean flag -> json.writeBoolean(flag);
                default -> throw new IllegalStateException("unexpected parameter " + entry);
            }
        }
        json.writeEndObject();
    }

    static byte[] modelMetadata(ModelMetadata metadata) {
        return write(512, json -> {
            json.writeStartObject();
            json.writeStringField("name", metadata.name());
            json.writeArrayFieldStart("versions");
            for (String version : metadata.versions()) {
                json.writeString(version);
            }
            json.writeEndArray();
            json.writeStringField("platform", metadata.platform());
            tensorSpecs(json, "inputs", metadata.inputs());
            tensorSpecs(json, "outputs", metadata.outputs());
            json.writeEndObject();
        });
    }

    private static void tensorSpecs(JsonGenerator json, String field, List<TensorSpec> specs) throws IOException {
        json.writeArrayFieldStart(field);
        for (TensorSpec spec : specs) {
            json.writeStartObject();
            json.writeStringField("name", spec.name());
            json.writeStringField("datatype", spec.type().name());
            json.writeFieldName("shape");
            json.writeArray(spec.shape(), 0, spec.shape().length);
            json.writeEndObject();
        }
        json.writeEndArray();
    }

    static byte[] error(ServalException error) {
        return error(error.getMessage());
    }

    static byte[] error(String message) {
        return write(128 + message.length(), json -> {
            json.writeStartObject();
            json.writeStringField("error", message);
            json.writeEndObject();
        });
    }
}
