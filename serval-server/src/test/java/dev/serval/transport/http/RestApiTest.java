package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every REST endpoint of the protocol, over a real socket, on the bundled example models. */
class RestApiTest {
    private static final String IRIS_ONE = """
            {"id": "req-42", "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
             "data": [5.1, 3.5, 1.4, 0.2]}]}""";
    private static TestServer server;

    @BeforeAll
    static void start() {
        server = TestServer.start(Examples.repository());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void health_liveAndReady() {
        Reply live = server.get("/v2/health/live");
        assertThat(live.status()).isEqualTo(200);
        assertThat(live.json().get("live").asBoolean()).isTrue();
        Reply ready = server.get("/v2/health/ready");
        assertThat(ready.status()).isEqualTo(200);
        assertThat(ready.json().get("ready").asBoolean()).isTrue();
    }

    @Test
    void serverMetadata_namesServerVersionAndExtensions() {
        JsonNode metadata = server.get("/v2").json();
        assertThat(metadata.get("name").asText()).isEqualTo("serval");
        assertThat(metadata.get("version").asText()).isNotBlank();
        assertThat(metadata.get("extensions").isArray()).isTrue();
        assertThat(metadata.get("extensions").toString()).contains("\"classification\"", "\"binary_tensor_data\"",
                "\"model_repository\"");
    }

    @Test
    void modelMetadata_describesIris() {
        Reply reply = server.get("/v2/models/iris");
        assertThat(reply.status()).isEqualTo(200);
        JsonNode metadata = reply.json();
        assertThat(metadata.get("name").asText()).isEqualTo("iris");
        assertThat(metadata.get("versions").toString()).isEqualTo("[\"1\"]");
        assertThat(metadata.get("platform").asText()).isEqualTo("onnxruntime_onnx");
        assertThat(metadata.get("inputs").toString())
                .isEqualTo("[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[-1,4]}]");
        assertThat(metadata.get("outputs").toString()).isEqualTo("[{\"name\":\"logits\",\"datatype\":\"FP32\","
                + "\"shape\":[-1,3]},{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[-1,3]}]");
    }

    @Test
    void modelMetadata_withVersion_listsAllVersions() {
        Reply reply = server.get("/v2/models/iris_small/versions/1");
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.json().get("versions").toString()).isEqualTo("[\"1\",\"2\"]");
    }

    @Test
    void modelReady_withAndWithoutVersion() {
        Reply latest = server.get("/v2/models/iris_small/ready");
        assertThat(latest.status()).isEqualTo(200);
        assertThat(latest.json().get("version").asText()).isEqualTo("2");
        assertThat(latest.json().get("ready").asBoolean()).isTrue();
        Reply one = server.get("/v2/models/iris_small/versions/1/ready");
        assertThat(one.status()).isEqualTo(200);
        assertThat(one.json().get("version").asText()).isEqualTo("1");
    }

    @Test
    void infer_echoesIdAndReturnsEveryOutput() {
        Reply reply = server.post("/v2/models/iris/infer", IRIS_ONE);
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        JsonNode body = reply.json();
        assertThat(body.get("model_name").asText()).isEqualTo("iris");
        assertThat(body.get("model_version").asText()).isEqualTo("1");
        assertThat(body.get("id").asText()).isEqualTo("req-42");
        assertThat(body.get("outputs")).hasSize(2);
        JsonNode probabilities = body.get("outputs").get(1);
        assertThat(probabilities.get("name").asText()).isEqualTo("probabilities");
        assertThat(probabilities.get("shape").toString()).isEqualTo("[1,3]");
        double sum = 0;
        for (JsonNode p : probabilities.get("data")) {
            sum += p.asDouble();
        }
        assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
        assertThat(probabilities.get("data").get(0).asDouble()).as("setosa").isGreaterThan(0.9);
    }

    @Test
    void infer_answersOverHttp2TheSameAsOverHttp11() throws Exception {
        // The server's explicit HTTP/1.1 settings must leave h2c (the upgrade from HTTP/1.1) in place.
        try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()) {
            HttpResponse<String> ready = client.send(HttpRequest.newBuilder(server.uri("/v2/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ready.version()).isEqualTo(HttpClient.Version.HTTP_2);
            for (String path : new String[] {"/v2/models/iris/infer", "/v2/models/iris/versions/1/infer"}) {
                HttpResponse<String> answer = client.send(HttpRequest.newBuilder(server.uri(path))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(IRIS_ONE)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(answer.version()).isEqualTo(HttpClient.Version.HTTP_2);
                assertThat(answer.statusCode()).isEqualTo(200);
                assertThat(answer.headers().firstValue("content-type")).contains("application/json");
                assertThat(answer.body()).isEqualTo(server.post(path, IRIS_ONE).body());
            }
        }
    }

    @Test
    void infer_returnsOnlyRequestedOutputs_inRequestedOrder() {
        Reply reply = server.post("/v2/models/iris/infer", """
                {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32",
                  "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}],
                 "outputs": [{"name": "probabilities"}]}""");
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        JsonNode outputs = reply.json().get("outputs");
        assertThat(outputs).hasSize(1);
        assertThat(outputs.get(0).get("name").asText()).isEqualTo("probabilities");
        assertThat(outputs.get(0).get("shape").toString()).isEqualTo("[2,3]");
        assertThat(reply.json().has("id")).isFalse();
    }

    @Test
    void infer_classificationExtension_returnsTopClassesWithLabels() {
        Reply reply = server.post("/v2/models/iris/infer", """
                {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32",
                  "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}],
                 "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]}""");
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        JsonNode output = reply.json().get("outputs").get(0);
        assertThat(output.get("datatype").asText()).isEqualTo("BYTES");
        assertThat(output.get("shape").toString()).isEqualTo("[2,2]");
        assertThat(output.get("data").get(0).asText()).endsWith(":0:setosa");
        assertThat(output.get("data").get(2).asText()).endsWith(":2:virginica");
    }

    @Test
    void infer_withoutVersion_usesHighestVersion() {
        String request = """
                {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.9, 3.0, 5.1, 1.8]}]}""";
        Reply latest = server.post("/v2/models/iris_small/infer", request);
        Reply v1 = server.post("/v2/models/iris_small/versions/1/infer", request);
        Reply v2 = server.post("/v2/models/iris_small/versions/2/infer", request);
        assertThat(latest.json().get("model_version").asText()).isEqualTo("2");
        assertThat(latest.json().get("outputs")).isEqualTo(v2.json().get("outputs"));
        assertThat(v1.json().get("model_version").asText()).isEqualTo("1");
        assertThat(v1.json().get("outputs")).isNotEqualTo(v2.json().get("outputs"));
    }

    @Test
    void infer_textModel_acceptsAnySequenceLength() {
        for (int length : new int[] {1, 3, 40}) {
            StringBuilder ids = new StringBuilder();
            StringBuilder mask = new StringBuilder();
            for (int i = 0; i < length; i++) {
                ids.append(i == 0 ? "" : ",").append(10 + i);
                mask.append(i == 0 ? "" : ",").append(1);
            }
            Reply reply = server.post("/v2/models/text/infer", """
                    {"inputs": [{"name": "input_ids", "shape": [1, %d], "datatype": "INT64", "data": [%s]},
                                {"name": "attention_mask", "shape": [1, %d], "datatype": "INT64", "data": [%s]}]}"""
                    .formatted(length, ids, length, mask));
            assertThat(reply.status()).as(reply.body()).isEqualTo(200);
            assertThat(reply.json().get("outputs").get(0).get("shape").toString()).isEqualTo("[1,2]");
        }
    }

    @Test
    void unknownModel_is404_namingTheModelsServed() {
        Reply reply = server.post("/v2/models/nope/infer", IRIS_ONE);
        assertThat(reply.status()).isEqualTo(404);
        assertThat(reply.error()).contains("'nope'").contains("iris");
        assertThat(server.get("/v2/models/nope").status()).isEqualTo(404);
        assertThat(server.get("/v2/models/nope/ready").status()).isEqualTo(404);
    }

    @Test
    void unknownVersion_is404_namingTheReadyVersions() {
        Reply reply = server.post("/v2/models/iris/versions/7/infer", IRIS_ONE);
        assertThat(reply.status()).isEqualTo(404);
        assertThat(reply.error()).contains("'7'").contains("[1]");
        assertThat(server.get("/v2/models/iris/versions/abc").status()).isEqualTo(404);
    }

    @Test
    void unknownPath_is404WithJsonError() {
        Reply reply = server.get("/v3/whatever");
        assertThat(reply.status()).isEqualTo(404);
        assertThat(reply.error()).contains("GET /v3/whatever");
        Reply wrongMethod = server.get("/v2/models/iris/infer");
        assertThat(wrongMethod.status()).isEqualTo(404);
        assertThat(wrongMethod.error()).contains("GET /v2/models/iris/infer");
    }
}
