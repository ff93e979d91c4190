package dev.serval.transport.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.serval.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Client side of the binary tensor data extension for tests: encodes JSON {@code data} as raw
 * little-endian bytes, builds bodies (JSON header + raw tensors), sends them over a real socket,
 * and splits binary answers back into their JSON and each output's bytes.
 */
final class BinaryBodies {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String HEADER = "Inference-Header-Content-Length";
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private BinaryBodies() {
    }

    /** An HTTP answer whose body may hold raw tensors after its JSON. */
    record Answer(int status, HttpHeaders headers, byte[] body) {
        /** The JSON part: the first Inference-Header-Content-Length bytes, or the whole body. */
        JsonNode json() {
            try {
                return JSON.readTree(body, 0, jsonLength());
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON (status " + status + "): " + text(), e);
            }
        }

        int jsonLength() {
            return headers.firstValue(HEADER).map(Integer::parseInt).orElse(body.length);
        }

        String error() {
            return json().path("error").asText();
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** Each binary output's bytes, by name, cut from the body in output order. */
        Map<String, byte[]> binaryOutputs() {
            Map<String, byte[]> outputs = new LinkedHashMap<>();
            int at = jsonLength();
            for (JsonNode output : json().get("outputs")) {
                JsonNode size = output.path("parameters").path("binary_data_size");
                if (!size.isMissingNode()) {
                    outputs.put(output.get("name").asText(), Arrays.copyOfRange(body, at, at + size.asInt()));
                    at += size.asInt();
                }
            }
            if (at != body.length) {
                throw new AssertionError("binary outputs take " + (at - jsonLength()) + " bytes but "
                        + (body.length - jsonLength()) + " follow the JSON");
            }
            return outputs;
        }

        @Override
        public String toString() {
            return status + " " + text();
        }
    }

    /** Posts {@code json} followed by {@code parts}, with Inference-Header-Content-Length. */
    static Answer post(TestServer server, String path, String json, byte[]... parts) {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        return send(server, path, concat(header, parts), HEADER, Integer.toString(header.length));
    }

    /** Posts raw bytes with the given extra headers. */
    static Answer send(TestServer server, String path, byte[] body, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.uri(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (headers.length > 0) {
            request.headers(headers);
        }
        return send(request.build());
    }

    static Answer send(HttpRequest request) {
        try {
            HttpResponse<byte[]> response = CLIENT.send(request, HttpResponse.BodyHandlers.ofByteArray());
            return new Answer(response.statusCode(), response.headers(), response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static byte[] concat(byte[] first, byte[]... rest) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(first);
        for (byte[] part : rest) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    /** A JSON tensor's (flat) {@code data} as the extension's raw bytes for {@code datatype}. */
    static byte[] encode(String datatype, JsonNode data) {
        if (datatype.equals("BYTES")) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (JsonNode element : data) {
                byte[] bytes = element.asText().getBytes(StandardCharsets.UTF_8);
                out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(bytes.length).array());
                out.writeBytes(bytes);
            }
            return out.toByteArray();
        }
        int width = switch (datatype) {
            case "BOOL", "INT8", "UINT8" -> 1;
            case "INT16", "UINT16", "FP16", "BF16" -> 2;
            case "INT32", "UINT32", "FP32" -> 4;
            default -> 8;
        };
        ByteBuffer out = ByteBuffer.allocate(width * data.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (JsonNode element : data) {
            switch (datatype) {
                case "BOOL" -> out.put((byte) (element.asBoolean() ? 1 : 0));
                case "INT8", "UINT8" -> out.put((byte) element.asInt());
                case "INT16", "UINT16" -> out.putShort((short) element.asInt());
                case "INT32", "UINT32" -> out.putInt((int) element.asLong());
                case "INT64", "UINT64" -> out.putLong(element.bigIntegerValue().longValue());
                case "FP16" -> out.putShort(Float.floatToFloat16((float) number(element)));
                case "FP32" -> out.putFloat((float) number(element));
                case "FP64" -> out.putDouble(number(element));
                default -> throw new IllegalArgumentException(datatype);
            }
        }
        return out.array();
    }

    private static double number(JsonNode element) {
        if (element.isTextual()) {
            return switch (element.asText()) {
                case "NaN" -> Double.NaN;
                case "Infinity" -> Double.POSITIVE_INFINITY;
                case "-Infinity" -> Double.NEGATIVE_INFINITY;
                default -> throw new IllegalArgumentException(element.toString());
            };
        }
        return element.asDouble();
    }

    /**
     * Turns a JSON request into a binary one: the named inputs (all when none are named) lose
     * {@code data} and gain {@code binary_data_size}; returns the JSON and, in input order, the bytes.
     */
    static Binary toBinary(JsonNode request, String... names) {
        ObjectNode copy = request.deepCopy();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (JsonNode node : (ArrayNode) copy.get("inputs")) {
            ObjectNode input = (ObjectNode) node;
            if (names.length > 0 && !Arrays.asList(names).contains(input.get("name").asText())) {
                continue;
            }
            byte[] raw = encode(input.get("datatype").asText(), input.get("data"));
            input.remove("data");
            input.putObject("parameters").put("binary_data_size", raw.length);
            bytes.writeBytes(raw);
        }
        return new Binary(copy, bytes.toByteArray());
    }

    /** A binary request: its JSON header and the raw bytes after it. */
    record Binary(ObjectNode json, byte[] bytes) {
        String header() {
            return json.toString();
        }
    }
}
