package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every bundled model answers, over HTTP, what PyTorch (or numpy, for the hand-built test models)
 * computed for the same inputs, within the tolerance recorded beside each reference.
 */
class ReferenceOutputsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
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

    static Stream<Arguments> cases() throws IOException {
        List<Arguments> cases = new ArrayList<>();
        try (Stream<Path> files = Files.list(Examples.references())) {
            for (Path file : files.filter(f -> f.toString().endsWith(".json")).sorted().toList()) {
                JsonNode reference = JSON.readTree(file.toFile());
                for (JsonNode testCase : reference.get("cases")) {
                    cases.add(Arguments.of(file.getFileName() + ": " + testCase.get("name").asText(), reference, testCase));
                }
            }
        }
        assertThat(cases).as("reference cases").hasSizeGreaterThanOrEqualTo(20);
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void infer_matchesReferenceOutputs(String name, JsonNode reference, JsonNode testCase) {
        TestServer server = "test-repository".equals(reference.path("repository").asText()) ? testModels : bundled;
        String path = "/v2/models/" + reference.get("model").asText() + "/versions/"
                + reference.get("version").asText() + "/infer";
        Reply reply = server.post(path, testCase.get("request").toString());
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);

        double absolute = reference.get("tolerance").get("absolute").asDouble();
        double relative = reference.get("tolerance").get("relative").asDouble();
        JsonNode expected = testCase.get("response").get("outputs");
        JsonNode actual = reply.json().get("outputs");
        assertThat(actual.size()).isEqualTo(expected.size());
        for (JsonNode want : expected) {
            JsonNode got = find(actual, want.get("name").asText());
            assertThat(got.get("datatype")).isEqualTo(want.get("datatype"));
            assertThat(got.get("shape")).isEqualTo(want.get("shape"));
            boolean single = "FP32".equals(want.get("datatype").asText());
            JsonNode wantData = want.get("data");
            JsonNode gotData = got.get("data");
            assertThat(gotData.size()).isEqualTo(wantData.size());
            for (int i = 0; i < wantData.size(); i++) {
                JsonNode w = wantData.get(i);
                JsonNode g = gotData.get(i);
                if (w.isNumber()) {
                    // FP32 values are compared as the floats they are: the reference may spell
                    // 0.1f as 0.10000000149011612 where Serval writes the shortest form, 0.1.
                    double wantValue = single ? (float) w.asDouble() : w.asDouble();
                    double gotValue = single ? (float) g.asDouble() : g.asDouble();
                    double bound = absolute + relative * Math.abs(wantValue);
                    assertThat(Math.abs(gotValue - wantValue))
                            .as("%s[%d]: got %s, expected %s", want.get("name").asText(), i, g, w)
                            .isLessThanOrEqualTo(bound);
                } else {
                    assertThat(g).as("%s[%d]", want.get("name").asText(), i).isEqualTo(w);
                }
            }
        }
    }

    private static JsonNode find(JsonNode outputs, String name) {
        for (JsonNode output : outputs) {
            if (output.get("name").asText().equals(name)) {
                return output;
            }
        }
        throw new AssertionError("no output '" + name + "' in " + outputs);
    }
}
