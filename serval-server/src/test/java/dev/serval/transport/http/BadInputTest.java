package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.server.ServerOptions;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every client mistake gets a 4xx whose {@code error} names the field, the value and what was
 * expected, and the server keeps serving: after each case a good request still succeeds.
 */
class BadInputTest {
    private static final String GOOD = """
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}""";
    private static final long LIMIT = 64 * 1024;
    private static TestServer server;

    @BeforeAll
    static void start() {
        server = TestServer.start(ServerOptions.defaults(Examples.repository()).withMaxRequestBytes(LIMIT));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @AfterEach
    void serverStillServes() {
        Reply reply = server.post("/v2/models/iris/infer", GOOD);
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
    }

    static Stream<Arguments> badRequests() {
        return Stream.of(
                bad("malformed JSON", "iris", "{\"inputs\": [}", 400, "malformed JSON", "line 1"),
                bad("truncated JSON", "iris", GOOD.substring(0, 60), 400, "malformed JSON", "end-of-input"),
                bad("empty body", "iris", "", 400, "JSON object"),
                bad("body is an array", "iris", "[1, 2]", 400, "JSON object"),
                bad("trailing garbage", "iris", GOOD + " {}", 400, "after the request"),
                bad("no inputs", "iris", "{\"id\": \"x\"}", 400, "no 'inputs'"),
                bad("inputs not an array", "iris", "{\"inputs\": {}}", 400, "'inputs'", "an object", "array"),
                bad("unknown top-level field", "iris", "{\"input\": []}", 400, "unknown field 'input'", "inputs"),
                bad("missing input", "text", """
                        {"inputs": [{"name": "input_ids", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}""",
                        400, "missing input 'attention_mask'", "input_ids INT64 [-1,-1]"),
                bad("extra input", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                                    {"name": "extra", "shape": [1], "datatype": "FP32", "data": [1]}]}""",
                        400, "unknown input 'extra'", "input FP32 [-1,4]"),
                bad("misnamed input", "iris", """
                        {"inputs": [{"name": "inputs", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}""",
                        400, "unknown input 'inputs'", "input FP32 [-1,4]"),
                bad("input given twice", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                                    {"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}""",
                        400, "'input'", "more than once"),
                bad("wrong datatype", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}""",
                        400, "'input'", "FP64", "expects FP32"),
                bad("unknown datatype", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FLOAT32", "data": [1, 2, 3, 4]}]}""",
                        400, "'FLOAT32'", "FP32"),
                bad("wrong rank", "iris", """
                        {"inputs": [{"name": "input", "shape": [4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}""",
                        400, "shape [4]", "expects [-1,4]"),
                bad("wrong fixed dimension", "iris", """
                        {"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}]}""",
                        400, "shape [2,3]", "expects [-1,4]"),
                bad("too few elements", "iris", """
                        {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7]}]}""",
                        400, "7 elements", "[2,4]", "needs 8"),
                bad("too many elements", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}""",
                        400, "5 elements", "needs 4"),
                bad("too many elements, shape after data", "iris", """
                        {"inputs": [{"name": "input", "data": [1, 2, 3, 4, 5], "datatype": "FP32", "shape": [1, 4]}]}""",
                        400, "5 elements", "needs 4"),
                bad("non-numeric value", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, "two", 3, 4]}]}""",
                        400, "\"two\"", "index 1", "number (FP32)"),
                bad("null value", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, null, 3, 4]}]}""",
                        400, "null", "index 1"),
                bad("float for an integer input", "text", """
                        {"inputs": [{"name": "input_ids", "shape": [1, 2], "datatype": "INT64", "data": [1, 2.5]},
                                    {"name": "attention_mask", "shape": [1, 2], "datatype": "INT64", "data": [1, 1]}]}""",
                        400, "2.5", "index 1", "integer (INT64)"),
                bad("integer out of range", "text", """
                        {"inputs": [{"name": "input_ids", "shape": [1, 1], "datatype": "INT64", "data": [99999999999999999999]},
                                    {"name": "attention_mask", "shape": [1, 1], "datatype": "INT64", "data": [1]}]}""",
                        400, "99999999999999999999", "INT64's range"),
                bad("symbolic dimensions disagree", "text", """
                        {"inputs": [{"name": "input_ids", "shape": [1, 3], "datatype": "INT64", "data": [1, 2, 3]},
                                    {"name": "attention_mask", "shape": [1, 2], "datatype": "INT64", "data": [1, 1]}]}""",
                        400, "'attention_mask'", "dimension 'sequence'", "'input_ids' has 3"),
                bad("negative dimension", "iris", """
                        {"inputs": [{"name": "input", "shape": [-1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}""",
                        400, "shape has -1", "non-negative"),
                bad("shape larger than the body", "iris", """
                        {"inputs": [{"name": "input", "shape": [100000000, 4], "datatype": "FP32", "data": [1]}]}""",
                        400, "[100000000,4]", "more than"),
                bad("missing shape", "iris", """
                        {"inputs": [{"name": "input", "datatype": "FP32", "data": [1, 2, 3, 4]}]}""",
                        400, "'input'", "no 'shape'"),
                bad("missing name", "iris", """
                        {"inputs": [{"shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}""",
                        400, "inputs[0]", "no 'name'"),
                bad("data is not an array", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": 5}]}""",
                        400, "data", "expected an array"),
                bad("unknown output", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}],
                         "outputs": [{"name": "scores"}]}""",
                        400, "unknown output 'scores'", "logits FP32 [-1,3]"),
                bad("bad parameter value", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}],
                         "parameters": {"priority": [1]}}""",
                        400, "'priority'", "string, number or boolean"),
                bad("classification on an unknown size", "iris", """
                        {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}],
                         "outputs": [{"name": "logits", "parameters": {"classification": 0}}]}""",
                        400, "'logits'", "classification 0"),
                bad("unknown model", "resnet", GOOD, 404, "unknown model 'resnet'", "iris"));
    }

    private static Arguments bad(String name, String model, String body, int status, String... fragments) {
        return Arguments.of(name, model, body, status, fragments);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badRequests")
    void badRequest_getsClearError(String name, String model, String body, int status, String[] fragments) {
        Reply reply = server.post("/v2/models/" + model + "/infer", body);
        assertThat(reply.status()).as(reply.body()).isEqualTo(status);
        assertThat(reply.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(reply.error()).contains(fragments);
    }

    @Test
    void bodyOverLimit_is413() {
        StringBuilder data = new StringBuilder();
        while (data.length() < LIMIT) {
            data.append("1.0, ");
        }
        Reply reply = server.post("/v2/models/iris/infer",
                "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": [" + data + "1]}]}");
        assertThat(reply.status()).isEqualTo(413);
        assertThat(reply.error()).contains("limit is " + LIMIT);
    }

    @Test
    void dataBeforeNameAndType_isStillDecoded() {
        Reply reply = server.post("/v2/models/iris/infer", """
                {"inputs": [{"data": [[5.1, 3.5, 1.4, 0.2]], "shape": [1, 4], "datatype": "FP32", "name": "input"}]}""");
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        Reply normal = server.post("/v2/models/iris/infer", GOOD);
        assertThat(reply.json().get("outputs")).isEqualTo(normal.json().get("outputs"));
    }
}
