package dev.serval.transport.http;

import static dev.serval.transport.http.BinaryBodies.JSON;
import static dev.serval.transport.http.BinaryBodies.encode;
import static dev.serval.transport.http.BinaryBodies.post;
import static dev.serval.transport.http.BinaryBodies.toBinary;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import dev.serval.transport.http.BinaryBodies.Answer;
import dev.serval.transport.http.BinaryBodies.Binary;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Triton's binary tensor data extension over a real socket: raw inputs and outputs give exactly the
 * bytes the JSON path and the references give, and every malformed body is a 400 that says why.
 */
class BinaryTensorsTest {
    private static final String DATATYPES = "/v2/models/datatypes/infer";
    private static final String IRIS = "/v2/models/iris/infer";
    private static final String FP16 = "/v2/models/fp16/infer";
    private static TestServer bundled;
    private static TestServer testModels;

    @BeforeAll
    static void start() {
        bundled = TestServer.start(Examples.repository());
        testModels = TestServer.start(Examples.testRepository());
    }

    @AfterAll
    static void stop() {
        bundled.close();
        testModels.close();
    }

    private static JsonNode reference(String file) throws IOException {
        return JSON.readTree(Examples.references().resolve(file).toFile());
    }

    // ---------------------------------------------------------------- equivalence with JSON

    @Test
    void datatypes_binaryInputsAndOutputs_areBitIdenticalToJsonAndReference() throws IOException {
        for (JsonNode testCase : reference("datatypes.json").get("cases")) {
            Binary binary = toBinary(testCase.get("request"));
            binary.json().putObject("parameters").put("binary_data_output", true);
            Answer answer = post(testModels, DATATYPES, binary.header(), binary.bytes());
            assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
            assertThat(answer.headers().firstValue("Content-Type")).contains("application/octet-stream");
            assertThat(answer.headers().firstValue("Content-Length"))
                    .contains(Integer.toString(answer.body().length));

            Reply viaJson = testModels.post(DATATYPES, testCase.get("request").toString());
            assertThat(viaJson.status()).as(viaJson.body()).isEqualTo(200);
            Map<String, byte[]> raw = answer.binaryOutputs();
            JsonNode expected = testCase.get("response").get("outputs");
            assertThat(raw.keySet()).hasSize(expected.size());
            for (JsonNode want : expected) {
                String name = want.get("name").asText();
                String type = want.get("datatype").asText();
                JsonNode header = find(answer.json(), name);
                assertThat(header.get("datatype").asText()).isEqualTo(type);
                assertThat(header.get("shape")).isEqualTo(want.get("shape"));
                assertThat(header.has("data")).isFalse();
                assertThat(raw.get(name)).as("%s: %s vs reference", testCase.get("name"), name)
                        .isEqualTo(encode(type, want.get("data")));
                assertThat(raw.get(name)).as("%s: %s vs JSON path", testCase.get("name"), name)
                        .isEqualTo(encode(type, find(viaJson.json(), name).get("data")));
            }
        }
    }

    @Test
    void datatypes_mixedJsonAndBinaryInputs_perOutputBinaryData() throws IOException {
        JsonNode testCase = reference("datatypes.json").get("cases").get(1);
        // Half the inputs binary, half JSON; two outputs asked binary, one JSON.
        Binary binary = toBinary(testCase.get("request"), "fp64", "int8", "bool", "string");
        binary.json().putArray("outputs")
                .add(output("string_out", true)).add(output("fp32_doubled", false)).add(output("int64_out", true));
        Answer answer = post(testModels, DATATYPES, binary.header(), binary.bytes());
        assertThat(answer.status()).as(answer.toString()).isEqualTo(200);

        JsonNode outputs = answer.json().get("outputs");
        assertThat(outputs).hasSize(3);
        assertThat(outputs.get(1).get("name").asText()).isEqualTo("fp32_doubled");
        assertThat(encode("FP32", outputs.get(1).get("data")))
                .isEqualTo(encode("FP32", find(testCase.get("response"), "fp32_doubled").get("data")));
        assertThat(outputs.get(1).has("parameters")).isFalse();
        Map<String, byte[]> raw = answer.binaryOutputs();
        assertThat(raw.keySet()).containsExactly("string_out", "int64_out");
        assertThat(raw.get("string_out")).isEqualTo(encode("BYTES", find(testCase.get("response"), "string_out").get("data")));
        assertThat(raw.get("int64_out")).isEqualTo(encode("INT64", find(testCase.get("response"), "int64_out").get("data")));
    }

    @Test
    void binaryDataOutput_appliesToEveryOutput_butAnExplicitFalseWins() throws IOException {
        JsonNode testCase = reference("datatypes.json").get("cases").get(0);
        ObjectNode request = testCase.get("request").deepCopy();
        request.putObject("parameters").put("binary_data_output", true);
        request.putArray("outputs").add(output("int8_out", false)).add(JSON.createObjectNode().put("name", "uint8_out"));
        // All-JSON inputs, but the header present: its length is the whole body.
        Answer answer = post(testModels, DATATYPES, request.toString());
        assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
        assertThat(find(answer.json(), "int8_out").get("data").toString()).isEqualTo("[-128]");
        assertThat(answer.binaryOutputs()).containsOnlyKeys("uint8_out");
        assertThat(answer.binaryOutputs().get("uint8_out")).containsExactly(0);
    }

    @Test
    void binaryInputs_withJsonOutputs_answerPlainJson() throws IOException {
        JsonNode testCase = reference("datatypes.json").get("cases").get(2);
        Binary binary = toBinary(testCase.get("request"));
        Answer answer = post(testModels, DATATYPES, binary.header(), binary.bytes());
        assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
        assertThat(answer.headers().firstValue("Content-Type")).contains("application/json");
        assertThat(answer.headers().firstValue(BinaryBodies.HEADER)).isEmpty();
        Reply viaJson = testModels.post(DATATYPES, testCase.get("request").toString());
        assertThat(answer.json()).isEqualTo(viaJson.json());
    }

    @Test
    void classificationOutput_canBeBinary() {
        String json = """
                {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": 32}}],
                 "outputs": [{"name": "probabilities", "parameters": {"classification": 2, "binary_data": true}}]}""";
        float[] flowers = {6.7f, 3.0f, 5.2f, 2.3f, 5.1f, 3.5f, 1.4f, 0.2f};
        Answer answer = post(bundled, IRIS, json, floats(flowers));
        assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
        JsonNode header = find(answer.json(), "probabilities");
        assertThat(header.get("datatype").asText()).isEqualTo("BYTES");
        assertThat(header.get("shape").toString()).isEqualTo("[2,2]");

        Reply viaJson = bundled.post(IRIS, """
                {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32",
                  "data": [6.7, 3.0, 5.2, 2.3, 5.1, 3.5, 1.4, 0.2]}],
                 "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]}""");
        List<String> expected = new ArrayList<>();
        find(viaJson.json(), "probabilities").get("data").forEach(element -> expected.add(element.asText()));
        assertThat(expected).hasSize(4);
        assertThat(strings(answer.binaryOutputs().get("probabilities"))).isEqualTo(expected);
    }

    @Test
    void cnn_binaryInput_givesBitIdenticalOutputsToJson() throws IOException {
        JsonNode reference = reference("cnn.json");
        for (JsonNode testCase : reference.get("cases")) {
            Binary binary = toBinary(testCase.get("request"));
            binary.json().putObject("parameters").put("binary_data_output", true);
            Answer answer = post(bundled, "/v2/models/cnn/infer", binary.header(), binary.bytes());
            assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
            Reply viaJson = bundled.post("/v2/models/cnn/infer", testCase.get("request").toString());
            // Serval writes each float's shortest text, which reads back as exactly that float.
            assertThat(answer.binaryOutputs().get("logits"))
                    .isEqualTo(encode("FP32", find(viaJson.json(), "logits").get("data")));
        }
    }

    @Test
    void iris_binaryInputSentChunked_isReadWhole() {
        String json = """
                {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}],
                 "parameters": {"binary_data_output": true}}""";
        byte[] body = BinaryBodies.concat(json.getBytes(StandardCharsets.UTF_8), floats(5.1f, 3.5f, 1.4f, 0.2f));
        // An InputStream publisher of unknown length: sent with Transfer-Encoding: chunked.
        HttpRequest request = HttpRequest.newBuilder(bundled.uri(IRIS)).timeout(Duration.ofSeconds(60))
                .header(BinaryBodies.HEADER, Integer.toString(json.length()))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))).build();
        Answer answer = BinaryBodies.send(request);
        assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
        Reply viaJson = bundled.post(IRIS, """
                {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}""");
        assertThat(answer.binaryOutputs().get("logits")).isEqualTo(encode("FP32", find(viaJson.json(), "logits").get("data")));
    }

    // ---------------------------------------------------------------- FP16

    @Test
    void fp16_binaryRoundTrip_keepsEveryBitPattern() {
        short[] halves = {0x3E00, (short) 0xC080, 0x0001, (short) 0x8001, 0x03FF, 0x0400, 0x7BFF, (short) 0xFBFF,
                0x7C00, (short) 0xFC00, 0x7E00, (short) 0x8000, 0x0000, 0x3555, 0x5BFF, (short) 0x7A00};
        ByteBuffer in = ByteBuffer.allocate(halves.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (short half : halves) {
            in.putShort(half);
        }
        String json = "{\"inputs\": [{\"name\": \"x\", \"shape\": [4, 4], \"datatype\": \"FP16\", "
                + "\"parameters\": {\"binary_data_size\": 32}}], \"parameters\": {\"binary_data_output\": true}}";
        Answer answer = post(testModels, FP16, json, in.array());
        assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
        Map<String, byte[]> raw = answer.binaryOutputs();
        assertThat(raw.get("y")).isEqualTo(in.array());
        ByteBuffer doubled = ByteBuffer.wrap(raw.get("doubled")).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer widened = ByteBuffer.wrap(raw.get("widened")).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < halves.length; i++) {
            float value = Float.float16ToFloat(halves[i]);
            assertThat(Float.floatToRawIntBits(widened.getFloat(i * 4)) == Float.floatToRawIntBits(value)
                    || Float.isNaN(value) && Float.isNaN(widened.getFloat(i * 4)))
                    .as("widened[%d] of 0x%04x", i, halves[i]).isTrue();
            short twice = doubled.getShort(i * 2);
            if (Float.isNaN(value)) {
                assertThat(Float.isNaN(Float.float16ToFloat(twice))).isTrue();
            } else {
                assertThat(twice).as("doubled[%d] of 0x%04x", i, halves[i]).isEqualTo(Float.floatToFloat16(value * 2));
            }
        }
    }

    @Test
    void fp16_referenceCases_viaBinary_matchReference() throws IOException {
        for (JsonNode testCase : reference("fp16.json").get("cases")) {
            Binary binary = toBinary(testCase.get("request"));
            binary.json().putObject("parameters").put("binary_data_output", true);
            Answer answer = post(testModels, FP16, binary.header(), binary.bytes());
            assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
            for (JsonNode want : testCase.get("response").get("outputs")) {
                assertThat(answer.binaryOutputs().get(want.get("name").asText()))
                        .as("%s %s", testCase.get("name"), want.get("name"))
                        .isEqualTo(encode(want.get("datatype").asText(), want.get("data")));
            }
        }
    }

    // ---------------------------------------------------------------- bad input: 400, never 500

    private static final String IRIS_BINARY = """
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}]}""";

    @Test
    void headerLongerThanBody_is400() {
        byte[] body = IRIS_BINARY.getBytes(StandardCharsets.UTF_8);
        Answer answer = BinaryBodies.send(bundled, IRIS, body, BinaryBodies.HEADER, Integer.toString(body.length + 1));
        assertBadRequest(answer, "header Inference-Header-Content-Length is " + (body.length + 1)
                + ", but the body has only " + body.length + " bytes");
    }

    @Test
    void negativeOrNonNumericHeaderLength_is400() {
        byte[] body = BinaryBodies.concat(IRIS_BINARY.getBytes(StandardCharsets.UTF_8), new byte[16]);
        for (String value : new String[] {"-1", "abc", "1e3", "", "99999999999999999999"}) {
            Answer answer = BinaryBodies.send(bundled, IRIS, body, BinaryBodies.HEADER, value);
            assertBadRequest(answer, "header Inference-Header-Content-Length is \"" + value
                    + "\"; expected the length in bytes of the JSON at the start of the body");
        }
    }

    @Test
    void binaryDataPastTheBodysEnd_is400() {
        Answer answer = post(bundled, IRIS, IRIS_BINARY, new byte[12]);
        assertBadRequest(answer, "the inputs' binary_data_size add up to 16 bytes ('input' 16), but only 12 bytes "
                + "follow the " + IRIS_BINARY.length() + "-byte JSON header");
    }

    @Test
    void binaryDataSizeDisagreeingWithShape_is400() {
        String json = IRIS_BINARY.replace("\"binary_data_size\": 16", "\"binary_data_size\": 12");
        Answer answer = post(bundled, IRIS, json, new byte[12]);
        assertBadRequest(answer, "input 'input' has binary_data_size 12 but shape [1,4] of FP32 needs 4 x 4 = 16 bytes");
    }

    @Test
    void dataAndBinaryDataSizeOnOneInput_is400() {
        String json = IRIS_BINARY.replace("\"parameters\"", "\"data\": [1, 2, 3, 4], \"parameters\"");
        Answer answer = post(bundled, IRIS, json, new byte[16]);
        assertBadRequest(answer, "input 'input' has both 'data' and parameter binary_data_size");
    }

    @Test
    void bytesLeftOverAfterTheLastBinaryInput_is400() {
        Answer answer = post(bundled, IRIS, IRIS_BINARY, new byte[20]);
        assertBadRequest(answer, "20 bytes follow the " + IRIS_BINARY.length() + "-byte JSON header "
                + "(Inference-Header-Content-Length), but the inputs' binary_data_size add up to 16 ('input' 16): "
                + "4 bytes are left over");
        String plain = "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": [1, 2, 3, 4]}]}";
        assertBadRequest(post(bundled, IRIS, plain, new byte[3]), "3 bytes follow the " + plain.length()
                + "-byte JSON header (Inference-Header-Content-Length), but no input has parameter binary_data_size");
    }

    @Test
    void bytesElementRunningPastItsInput_is400() {
        String json = "{\"inputs\": [{\"name\": \"string\", \"shape\": [1, 2], \"datatype\": \"BYTES\", "
                + "\"parameters\": {\"binary_data_size\": 12}}]}";
        byte[] bytes = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(2).put((byte) 'h').put((byte) 'i')
                .putInt(7).put((byte) 'x').put((byte) 'y').array();
        assertBadRequest(post(testModels, DATATYPES, json, bytes),
                "input 'string' (BYTES) element 1 declares 7 bytes, but only 2 of the input's 12 bytes remain");
        byte[] huge = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(-1).putInt(0).putInt(0).array();
        assertBadRequest(post(testModels, DATATYPES, json, huge),
                "input 'string' (BYTES) element 0 declares 4294967295 bytes, but only 8 of the input's 12 bytes remain");
        byte[] short1 = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(6).put(new byte[6]).put(new byte[2])
                .array();
        assertBadRequest(post(testModels, DATATYPES, json, short1),
                "input 'string' (BYTES) ends after 1 of the 2 elements shape [1,2] needs");
        byte[] extra = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(1).put((byte) 'a').putInt(0)
                .put(new byte[3]).array();
        assertBadRequest(post(testModels, DATATYPES, json, extra),
                "input 'string' (BYTES) has 3 bytes left after its 2 elements");
    }

    @Test
    void binaryDataSizeWithoutTheHeader_is400() {
        byte[] body = BinaryBodies.concat(IRIS_BINARY.getBytes(StandardCharsets.UTF_8), new byte[16]);
        Reply reply = bundled.post(IRIS, IRIS_BINARY);
        assertThat(reply.status()).as(reply.body()).isEqualTo(400);
        assertThat(reply.error()).contains("input 'input' has binary_data_size 16, but the request has no "
                + "Inference-Header-Content-Length header");
        // With the bytes appended but no header, the JSON has content after its end.
        Answer answer = BinaryBodies.send(bundled, IRIS, body);
        assertThat(answer.status()).as(answer.toString()).isEqualTo(400);
    }

    @Test
    void unknownDatatype_is400() {
        String json = IRIS_BINARY.replace("\"FP32\"", "\"FLOAT8\"");
        assertBadRequest(post(bundled, IRIS, json, new byte[16]), "input 'input' has unknown datatype 'FLOAT8'");
    }

    @Test
    void boolBytesOtherThanZeroOrOne_is400() {
        String json = "{\"inputs\": [{\"name\": \"bool\", \"shape\": [1, 3], \"datatype\": \"BOOL\", "
                + "\"parameters\": {\"binary_data_size\": 3}}]}";
        assertBadRequest(post(testModels, DATATYPES, json, new byte[] {1, 0, 2}),
                "input 'bool' (BOOL) has byte 2 at element 2; expected 0 (false) or 1 (true)");
    }

    @Test
    void badHeaderBeforeALargeBinaryPart_is400() {
        // The JSON is refused before the megabyte after it is read; the client still gets the 400.
        String json = "{\"inputs\": [{\"name\": \"input\", \"shape\": [65536, 4], \"datatype\": \"FP32\", "
                + "\"parameters\": {\"binary_data_size\": 1048577}}]}";
        Answer answer = post(bundled, IRIS, json, new byte[1 << 20]);
        assertBadRequest(answer, "input 'input' has binary_data_size 1048577 but shape [65536,4] of FP32 needs");
    }

    @Test
    void bodyEndingBeforeItsContentLength_is400() throws IOException {
        // Content-Length promises 16 binary bytes; the client sends 6 and stops.
        byte[] json = IRIS_BINARY.getBytes(StandardCharsets.UTF_8);
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", bundled.uri("/").getPort())) {
            socket.setSoTimeout(30_000);
            String head = "POST " + IRIS + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + (json.length + 16)
                    + "\r\n" + BinaryBodies.HEADER + ": " + json.length + "\r\nConnection: close\r\n\r\n";
            socket.getOutputStream().write(BinaryBodies.concat(head.getBytes(StandardCharsets.US_ASCII), json, new byte[6]));
            socket.shutdownOutput();
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 400");
            assertThat(answer).contains("the body ended before the " + (json.length + 16)
                    + " bytes its Content-Length announced");
        }
    }

    @Test
    void jsonBodyEndingBeforeItsContentLength_is400() throws IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", bundled.uri("/").getPort())) {
            socket.setSoTimeout(30_000);
            String head = "POST " + IRIS + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n"
                    + "Connection: close\r\n\r\n{\"inputs\": [";
            socket.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
            socket.shutdownOutput();
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 400");
            assertThat(answer).contains("the body ended before the 500 bytes its Content-Length announced");
        }
    }

    @Test
    void binaryBodyOverTheSizeLimit_is413() {
        try (TestServer small = TestServer.start(dev.serval.server.ServerOptions.defaults(Examples.repository())
                .withMaxRequestBytes(1024))) {
            String json = "{\"inputs\": [{\"name\": \"input\", \"shape\": [100, 4], \"datatype\": \"FP32\", "
                    + "\"parameters\": {\"binary_data_size\": 1600}}]}";
            Answer answer = post(small, IRIS, json, new byte[1600]);
            assertThat(answer.status()).as(answer.toString()).isEqualTo(413);
            assertThat(answer.error()).contains("the limit is 1024 bytes");
        }
    }

    // ---------------------------------------------------------------- helpers

    private static void assertBadRequest(Answer answer, String message) {
        assertThat(answer.status()).as(answer.toString()).isEqualTo(400);
        assertThat(answer.headers().firstValue("Content-Type")).contains("application/json");
        assertThat(answer.error()).contains(message);
    }

    private static ObjectNode output(String name, boolean binary) {
        ObjectNode output = JSON.createObjectNode().put("name", name);
        output.putObject("parameters").put("binary_data", binary);
        return output;
    }

    private static JsonNode find(JsonNode response, String name) {
        for (JsonNode output : response.get("outputs")) {
            if (output.get("name").asText().equals(name)) {
                return output;
            }
        }
        throw new AssertionError("no output '" + name + "' in " + response);
    }

    private static byte[] floats(float... values) {
        ByteBuffer out = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : values) {
            out.putFloat(value);
        }
        return out.array();
    }

    private static List<String> strings(byte[] raw) {
        ByteBuffer in = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        List<String> strings = new ArrayList<>();
        while (in.hasRemaining()) {
            byte[] element = new byte[in.getInt()];
            in.get(element);
            strings.add(new String(element, StandardCharsets.UTF_8));
        }
        return strings;
    }
}
