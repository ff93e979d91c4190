package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.serval.runtime.onnx.ModelCacheSettings;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Serving over HTTP with the model cache on for every model (thresholds 0): the example models
 * answer the reference requests exactly as a server without the cache does, each from a cache
 * entry whose data file ONNX Runtime mapped, and a truncated model is unavailable with the same
 * reason as without the cache.
 */
class ModelCacheServerTest {
    private static final List<String> MODELS = List.of("iris", "cnn", "text");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    private static Path cache;
    private static TestServer mapped;
    private static TestServer plain;

    @BeforeAll
    static void start() throws IOException {
        Path repository = dir.resolve("repository");
        for (String name : MODELS) {
            Files.copy(Examples.model(name), Files.createDirectories(repository.resolve(name).resolve("1")).resolve("model.onnx"));
        }
        byte[] cnn = Files.readAllBytes(Examples.model("cnn"));
        Files.write(Files.createDirectories(repository.resolve("broken/1")).resolve("model.onnx"),
                Arrays.copyOf(cnn, cnn.length / 2));
        cache = dir.resolve("cache");
        ServerOptions options = ServerOptions.defaults(repository).withGrpcPort(ServerOptions.GRPC_OFF).withStrictReadiness(false);
        mapped = TestServer.start(options,
                new OnnxBackend(Map.of(), Optional.of(new ModelCacheSettings(cache, 0, 0))));
        plain = TestServer.start(options, new OnnxBackend());
    }

    @AfterAll
    static void stop() {
        if (mapped != null) {
            mapped.close();
        }
        if (plain != null) {
            plain.close();
        }
    }

    @Test
    void exampleModels_answerAsWithoutTheCache() throws IOException {
        for (String name : MODELS) {
            JsonNode reference = JSON.readTree(Examples.references().resolve(name + ".json").toFile());
            for (JsonNode example : reference.get("cases")) {
                String request = example.get("request").toString();
                Reply expected = plain.post("/v2/models/" + name + "/infer", request);
                Reply actual = mapped.post("/v2/models/" + name + "/infer", request);
                assertThat(expected.status()).as(expected.body()).isEqualTo(200);
                assertThat(actual.status()).as(actual.body()).isEqualTo(200);
                assertThat(actual.json().get("outputs")).as("%s: %s", name, example.get("name"))
                        .isEqualTo(expected.json().get("outputs"));
            }
        }
    }

    @Test
    void eachModel_servesFromACacheEntry_whoseDataFileIsMapped() throws IOException {
        List<Path> data;
        try (Stream<Path> entries = Files.list(cache)) {
            data = entries.map(entry -> entry.resolve("weights.bin")).filter(Files::isRegularFile).toList();
        }
        assertThat(data).hasSize(MODELS.size());
        Path maps = Path.of("/proc/self/maps");
        if (Files.isReadable(maps)) {
            // text's embedding table is read in place by its Gather: at least its entry stays mapped.
            String mappings = Files.readString(maps);
            assertThat(data).anySatisfy(file -> assertThat(mappings).contains(file.toRealPath().toString()));
        }
    }

    @Test
    void truncatedModel_isUnavailable_withTheSameReasonAsWithoutTheCache() {
        String request = "{\"inputs\": [{\"name\": \"image\", \"shape\": [1, 3, 32, 32], \"datatype\": \"FP32\", "
                + "\"data\": " + Arrays.toString(new float[3 * 32 * 32]) + "}]}";
        Reply expected = plain.post("/v2/models/broken/infer", request);
        Reply actual = mapped.post("/v2/models/broken/infer", request);
        assertThat(expected.status()).isEqualTo(503);
        assertThat(actual.status()).isEqualTo(503);
        assertThat(actual.error()).isEqualTo(expected.error()).contains("model.onnx");
    }
}
