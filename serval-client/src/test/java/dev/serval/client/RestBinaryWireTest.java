package dev.serval.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.serval.client.ServalClientException.Status;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * REST with Triton's binary tensor data extension, byte for byte against a fake server: the request
 * is a JSON header without data followed by each input's raw little-endian bytes, and a response's
 * binary outputs are cut from the bytes after its header. Also the HTTP error mapping.
 */
class RestBinaryWireTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private FakeHttpServer fake;
    private ServalClient client;

    @BeforeEach
    void start() {
        fake = new FakeHttpServer();
        client = ServalClient.builder().endpoint(fake.uri()).protocol(Protocol.REST_BINARY).bearerToken("t0k").build();
    }

    @AfterEach
    void stop() {
        client.close();
        fake.close();
    }

    @Test
    void infer_sendsAJsonHeaderThenEveryInputsRawBytes() throws Exception {
        ByteBuffer fp16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
                .putShort(Float.floatToFloat16(1.5f)).putShort(Float.floatToFloat16(-2f)).flip();
        InferRequest request = InferRequest.builder("m").version("3").id("r1")
                .input(InferInput.fp32("x", new long[] {2, 2}, new float[] {1.5f, -2f, Float.NaN, 3f}))
                .input(InferInput.int64("n", new long[] {3}, new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}))
                .input(InferInput.bool("b", new long[] {3}, new boolean[] {true, false, true}))
                .input(InferInput.bytes("s", new long[] {2}, new String[] {"a", "Grüße"}))
                .input(InferInput.of("h", DataType.FP16, new long[] {2}, fp16))
                .input(InferInput.uint8("u", new long[] {2}, new byte[] {(byte) 255, 0}))
                .output("y")
                .output("top", 2)
                .priority(1)
                .build();
        byte[] response = response();
        fake.answer(200, headerLength(RESPONSE_HEADER.length()), response);

        InferResult result = client.infer(request);

        FakeHttpServer.Received sent = fake.received();
        assertThat(sent.method()).isEqualTo("POST");
        assertThat(sent.path()).isEqualTo("/v2/models/m/versions/3/infer");
        assertThat(sent.headers().getFirst("Content-Type")).isEqualTo("application/octet-stream");
        assertThat(sent.headers().getFirst("Authorization")).isEqualTo("Bearer t0k");
        int headerLength = Integer.parseInt(sent.headers().getFirst("Inference-Header-Content-Length"));
        JsonNode header = JSON.readTree(Arrays.copyOf(sent.body(), headerLength));
        assertThat(header.get("id").asText()).isEqualTo("r1");
        assertThat(header.get("parameters").get("priority").asLong()).isEqualTo(1);
        assertThat(header.get("parameters").has("binary_data_output")).isFalse();
        int[] sizes = {16, 24, 3, 4 + 1 + 4 + "Grüße".getBytes(UTF_8).length, 4, 2};
        for (int i = 0; i < sizes.length; i++) {
            JsonNode input = header.get("inputs").get(i);
            assertThat(input.has("data")).as(input.toString()).isFalse();
            assertThat(input.get("parameters").get("binary_data_size").asInt()).as(input.toString()).isEqualTo(sizes[i]);
        }
        assertThat(header.get("inputs").get(4).get("datatype").asText()).isEqualTo("FP16");
        assertThat(header.get("outputs").get(0).toString()).isEqualTo("{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}");
        assertThat(header.get("outputs").get(1).toString())
                .isEqualTo("{\"name\":\"top\",\"parameters\":{\"classification\":2,\"binary_data\":true}}");

        ByteBuffer expected = ByteBuffer.allocate(Arrays.stream(sizes).sum()).order(ByteOrder.LITTLE_ENDIAN);
        expected.putFloat(1.5f).putFloat(-2f).putFloat(Float.NaN).putFloat(3f);
        expected.putLong(Long.MIN_VALUE).putLong(0).putLong(Long.MAX_VALUE);
        expected.put((byte) 1).put((byte) 0).put((byte) 1);
        expected.putInt(1).put("a".getBytes(UTF_8)).putInt("Grüße".getBytes(UTF_8).length).put("Grüße".getBytes(UTF_8));
        expected.put(fp16.duplicate());
        expected.put((byte) 255).put((byte) 0);
        assertThat(Arrays.copyOfRange(sent.body(), headerLength, sent.body().length)).isEqualTo(expected.array());
        assertThat(fp16.position()).as("the caller's buffer is left as it was").isZero();

        assertThat(result.modelName()).isEqualTo("m");
        assertThat(result.modelVersion()).isEqualTo("3");
        assertThat(result.id()).contains("r1");
        assertThat(result.degraded()).isTrue();
        assertThat(result.parameters()).containsEntry("fallback_model", "m_small");
        InferOutput y = result.output("y");
        assertThat(y.shape()).containsExactly(2, 2);
        assertThat(y.toFloatArray()).containsExactly(0.25f, -1f, Float.POSITIVE_INFINITY, 7f);
        assertThat(y.parameters()).as("binary_data_size is the wire's business").isEmpty();
        assertThat(result.output("top").toStringArray()).containsExactly("0.9:1:b", "0.1:0:a");
        assertThat(result.output("flags").toBooleanArray()).containsExactly(true, false, true);
        assertThat(result.output("ids").asLongBuffer().get(1)).isEqualTo(-5L);
    }

    private static final String RESPONSE_HEADER = "{\"model_name\":\"m\",\"model_version\":\"3\",\"id\":\"r1\","
            + "\"parameters\":{\"degraded\":true,\"fallback_model\":\"m_small\"},\"outputs\":["
            + "{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2,2],\"parameters\":{\"binary_data_size\":16}},"
            + "{\"name\":\"flags\",\"datatype\":\"BOOL\",\"shape\":[3],\"data\":[true,false,true]},"
            + "{\"name\":\"top\",\"datatype\":\"BYTES\",\"shape\":[1,2],\"parameters\":{\"binary_data_size\":22}},"
            + "{\"parameters\":{\"binary_data_size\":16},\"shape\":[2],\"datatype\":\"INT64\",\"name\":\"ids\"}]}";

    /** A response with three binary outputs around one in JSON, and response parameters. */
    private static byte[] response() throws Exception {
        byte[] labels = ByteBuffer.allocate(4 + 7 + 4 + 7).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(7).put("0.9:1:b".getBytes(UTF_8)).putInt(7).put("0.1:0:a".getBytes(UTF_8)).array();
        byte[] y = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                .putFloat(0.25f).putFloat(-1f).putFloat(Float.POSITIVE_INFINITY).putFloat(7f).array();
        byte[] ids = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(4).putLong(-5).array();
        return concat(RESPONSE_HEADER.getBytes(UTF_8), y, labels, ids);
    }

    private static byte[] concat(byte[]... parts) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.write(part);
        }
        return out.toByteArray();
    }

    private static Map<String, String> headerLength(int length) {
        return Map.of("Inference-Header-Content-Length", Integer.toString(length));
    }

    @Test
    void infer_withNoOutputsNamedAsksForAllOutputsInBinary() throws Exception {
        String header = "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",\"datatype\":\"INT32\",\"shape\":[1],"
                + "\"parameters\":{\"binary_data_size\":4}}]}";
        byte[] body = concat(header.getBytes(UTF_8), new byte[] {42, 0, 0, 0});
        fake.answer(200, headerLength(header.length()), body);

        InferResult result = client.infer(InferRequest.builder("m")
                .input(InferInput.int32("x", new long[] {1}, new int[] {1})).build());

        JsonNode sent = JSON.readTree(Arrays.copyOf(fake.received().body(),
                Integer.parseInt(fake.received().headers().getFirst("Inference-Header-Content-Length"))));
        assertThat(sent.get("parameters").get("binary_data_output").asBoolean()).isTrue();
        assertThat(sent.has("outputs")).isFalse();
        assertThat(result.output("y").toIntArray()).containsExactly(42);
        assertThat(result.modelVersion()).isEmpty();
    }

    @Test
    void infer_refusesMalformedBinaryAnswers() {
        String oneFloat = "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[1],"
                + "\"parameters\":{\"binary_data_size\":4}}]}";
        byte[] header = oneFloat.getBytes(UTF_8);
        assertMalformed(headerLength(header.length), Arrays.copyOf(header, header.length + 3), "4 but 3 binary bytes remain");
        assertMalformed(headerLength(header.length), Arrays.copyOf(header, header.length + 5), "1 bytes after the last binary output");
        assertMalformed(headerLength(header.length + 100), Arrays.copyOf(header, header.length + 4), "Inference-Header-Content-Length");
        assertMalformed(headerLength(-1), header, "Inference-Header-Content-Length");
        assertMalformed(Map.of("Inference-Header-Content-Length", "ten"), header, "not a number");

        String wrongSize = oneFloat.replace("\"binary_data_size\":4", "\"binary_data_size\":3");
        assertMalformed(headerLength(wrongSize.length()), Arrays.copyOf(wrongSize.getBytes(UTF_8), wrongSize.length() + 3),
                "output 'y' has 3 bytes but FP32 shape [1] needs 4");

        String text = oneFloat.replace("FP32", "BYTES");
        byte[] lying = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(1000).array();
        byte[] body = Arrays.copyOf(text.getBytes(UTF_8), text.length() + 4);
        System.arraycopy(lying, 0, body, text.length(), 4);
        assertMalformed(headerLength(text.length()), body, "claims 1000 bytes but only 0 remain");

        assertMalformed(Map.of(), "<html>hello</html>".getBytes(UTF_8), "not JSON");
    }

    private void assertMalformed(Map<String, String> headers, byte[] body, String message) {
        fake.answer(200, headers, body);
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> client.infer(
                InferRequest.builder("m").input(InferInput.fp32("x", new long[] {1}, new float[] {1})).build()));
        assertThat(e.status()).isEqualTo(Status.INVALID_RESPONSE);
        assertThat(e.getMessage()).startsWith("malformed answer from the server").contains(message);
    }

    @Test
    void errors_mapHttpStatusTheServersMessageAndRetryAfter() {
        InferRequest request = InferRequest.builder("m").input(InferInput.fp32("x", new long[] {1}, new float[] {1})).build();

        fake.answer(429, Map.of("Retry-After", "3"), "{\"error\":\"model 'm' has 1024 requests waiting\"}".getBytes(UTF_8));
        ServalClientException busy = catchThrowableOfType(ServalClientException.class, () -> client.infer(request));
        assertThat(busy.status()).isEqualTo(Status.RESOURCE_EXHAUSTED);
        assertThat(busy.getMessage()).isEqualTo("model 'm' has 1024 requests waiting");
        assertThat(busy.retryAfter()).contains(Duration.ofSeconds(3));

        int[] statuses = {400, 401, 403, 404, 413, 500, 503, 504, 501};
        Status[] expected = {Status.INVALID_ARGUMENT, Status.UNAUTHENTICATED, Status.PERMISSION_DENIED, Status.NOT_FOUND,
                Status.PAYLOAD_TOO_LARGE, Status.INTERNAL, Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.UNIMPLEMENTED};
        for (int i = 0; i < statuses.length; i++) {
            fake.answer(statuses[i], Map.of(), ("{\"error\":\"because " + statuses[i] + "\"}").getBytes(UTF_8));
            ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> client.infer(request));
            assertThat(e.status()).as("HTTP %d", statuses[i]).isEqualTo(expected[i]);
            assertThat(e.getMessage()).isEqualTo("because " + statuses[i]);
            assertThat(e.retryAfter()).isEmpty();
        }

        fake.answer(502, Map.of(), "<html>bad gateway</html>".getBytes(UTF_8));
        ServalClientException proxy = catchThrowableOfType(ServalClientException.class, () -> client.infer(request));
        assertThat(proxy.status()).isEqualTo(Status.UNAVAILABLE);
        assertThat(proxy.getMessage()).isEqualTo("HTTP 502: <html>bad gateway</html>");
    }

    @Test
    void health_readsOkAsYesAnd503AsNo() {
        fake.answer(200, Map.of(), "{\"ready\":true}".getBytes(UTF_8));
        assertThat(client.ready()).isTrue();
        fake.answer(503, Map.of(), "{\"ready\":false}".getBytes(UTF_8));
        assertThat(client.ready()).isFalse();
        assertThat(client.modelReady("m", "2")).isFalse();
        assertThat(fake.received().path()).isEqualTo("/v2/models/m/versions/2/ready");
        fake.answer(404, Map.of(), "{\"error\":\"unknown model 'm'\"}".getBytes(UTF_8));
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> client.modelReady("m"));
        assertThat(e.status()).isEqualTo(Status.NOT_FOUND);
    }

    @Test
    void infer_unansweredCallEndsAtItsTimeout() {
        fake.hang();
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> client.infer(
                InferRequest.builder("m").input(InferInput.fp32("x", new long[] {1}, new float[] {1})).build(),
                Duration.ofMillis(100)));
        assertThat(e.status()).isEqualTo(Status.DEADLINE_EXCEEDED);
    }

    @Test
    void requests_goUnderTheEndpointsPathWithNamesEscaped() {
        fake.answer(200, Map.of(), ("{\"name\":\"my model\",\"versions\":[\"1\"],\"platform\":\"p\","
                + "\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT16\",\"shape\":[-1,2]}],\"outputs\":[]}").getBytes(UTF_8));
        try (ServalClient prefixed = ServalClient.rest(URI.create(fake.uri() + "/serving"))) {
            ModelMetadata metadata = prefixed.modelMetadata("my model", "1");
            assertThat(fake.received().path()).isEqualTo("/serving/v2/models/my%20model/versions/1");
            assertThat(metadata.inputs()).containsExactly(new ModelMetadata.Tensor("x", DataType.UINT16, new long[] {-1, 2}));
            assertThat(fake.received().headers().containsKey("Authorization")).isFalse();
        }
    }
}
