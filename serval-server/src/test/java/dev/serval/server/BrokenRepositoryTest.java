package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.model.ModelStatus;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A repository with broken models: the server starts, serves the good model, reports each broken
 * one as unavailable with its reason, and never reads outside the repository.
 */
class BrokenRepositoryTest {
    private static final String IRIS = """
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}""";

    @TempDir
    static Path repository;
    @TempDir
    static Path outside;
    private static TestServer server;

    @BeforeAll
    static void start() throws IOException {
        Path iris = Examples.repository().resolve("iris/1/model.onnx");
        copy(iris, repository.resolve("good/1/model.onnx"));
        write(repository.resolve("garbage/1/model.onnx"), "this is not a protobuf, it is text\n");
        Files.createDirectories(repository.resolve("empty"));
        copy(iris, repository.resolve("badconfig/1/model.onnx"));
        write(repository.resolve("badconfig/config.yaml"), "instance_group:\n  count: two\n");
        copy(iris, repository.resolve("typo/1/model.onnx"));
        write(repository.resolve("typo/config.yaml"), "instance_groups:\n  count: 2\n");
        copy(iris, repository.resolve("badlabels/1/model.onnx"));
        write(repository.resolve("badlabels/config.yaml"), "labels: ../../../../etc/passwd\n");
        Path secret = outside.resolve("model.onnx");
        copy(iris, secret);
        Files.createDirectories(repository.resolve("escape/1"));
        Files.createSymbolicLink(repository.resolve("escape/1/model.onnx"), secret);
        Files.createDirectories(repository.resolve("noversion/1"));
        server = TestServer.start(repository);
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        Files.copy(from, to);
    }

    private static void write(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void goodModel_serves() {
        Reply reply = server.post("/v2/models/good/infer", IRIS);
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
    }

    @Test
    void strictReadiness_isFalseWhileAModelFailed() {
        assertThat(server.get("/v2/health/ready").status()).isEqualTo(503);
        assertThat(server.get("/v2/health/live").status()).isEqualTo(200);
    }

    @Test
    void brokenModels_are503_withTheirReason() {
        assertUnavailable("garbage", "ONNX Runtime cannot load", "model.onnx");
        assertUnavailable("empty", "no version folders");
        assertUnavailable("badconfig", "instance_group.count", "\"two\"", "an integer");
        assertUnavailable("typo", "unknown setting 'instance_groups'");
        assertUnavailable("badlabels", "labels", "inside the model's folder");
        assertUnavailable("escape", "outside the model repository");
        assertUnavailable("noversion", "does not exist");
    }

    private static void assertUnavailable(String model, String... reason) {
        Reply infer = server.post("/v2/models/" + model + "/infer", IRIS);
        assertThat(infer.status()).as(infer.body()).isEqualTo(503);
        assertThat(infer.error()).contains("'" + model + "'").contains(reason);
        assertThat(server.get("/v2/models/" + model + "/ready").status()).isEqualTo(503);
    }

    @Test
    void index_listsEveryModelWithState() {
        List<ModelStatus> index = server.server().registry().index();
        assertThat(index).filteredOn(ModelStatus::isReady).extracting(ModelStatus::name).containsExactly("good");
        assertThat(index).filteredOn(s -> !s.isReady()).extracting(ModelStatus::name)
                .containsExactlyInAnyOrder("badconfig", "badlabels", "empty", "escape", "garbage", "noversion", "typo");
    }

    @Test
    void repositoryIndexEndpoint_reportsStateAndReason() {
        Reply reply = server.post("/v2/repository/index", "");
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        assertThat(reply.json()).hasSize(8);
        assertThat(reply.json().toString())
                .contains("{\"name\":\"good\",\"version\":\"1\",\"state\":\"READY\"}")
                .contains("{\"name\":\"empty\",\"state\":\"UNAVAILABLE\",\"reason\":\"model 'empty' has no version folders");
    }

    @Test
    void relaxedReadiness_isReadyDespiteFailures() {
        ServerOptions relaxed = ServerOptions.defaults(repository).withStrictReadiness(false);
        try (TestServer lenient = TestServer.start(relaxed)) {
            assertThat(lenient.get("/v2/health/ready").status()).isEqualTo(200);
        }
    }
}
