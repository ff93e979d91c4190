package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A repository with a model in ONNX's external data format and a broken copy of it (its data
 * file truncated): the good one serves over HTTP, the broken one is unavailable with the reason,
 * and the server does not crash on it.
 */
class ExternalDataRepositoryTest {
    private static final String REQUEST = """
            {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}""";

    @TempDir
    static Path repository;
    private static TestServer server;

    @BeforeAll
    static void start() throws IOException {
        Path source = Examples.testModel("external_data").getParent();
        for (String name : new String[] {"good", "truncated"}) {
            Path version = Files.createDirectories(repository.resolve(name).resolve("1"));
            Files.copy(source.resolve("model.onnx"), version.resolve("model.onnx"));
            Files.copy(source.resolve("weights.bin"), version.resolve("weights.bin"));
        }
        Path weights = repository.resolve("truncated/1/weights.bin");
        Files.write(weights, Arrays.copyOf(Files.readAllBytes(weights), 30));
        server = TestServer.start(repository);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void modelWithExternalData_serves() {
        Reply reply = server.post("/v2/models/good/infer", REQUEST);
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        // y = x @ w + b for x = [1, 2, 3, 4] (see export_models.py): exact in float32.
        JsonNode y = reply.json().get("outputs").get(0).get("data");
        assertThat(y).hasSize(3);
        assertThat(new double[] {y.get(0).asDouble(), y.get(1).asDouble(), y.get(2).asDouble()})
                .containsExactly(3.0, 4.0, 9.5);
    }

    @Test
    void truncatedExternalData_isUnavailable_withTheReason() {
        Reply reply = server.post("/v2/models/truncated/infer", REQUEST);
        assertThat(reply.status()).isEqualTo(503);
        assertThat(reply.error()).contains("weights.bin").contains("the file has only 30 bytes");
        Reply index = server.post("/v2/repository/index", "");
        assertThat(index.body()).contains("\"name\":\"truncated\"").contains("UNAVAILABLE").contains("truncated");
    }
}
