package dev.serval.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.model.ModelControl;
import dev.serval.server.ServalServer;
import dev.serval.server.ServerOptions;
import dev.serval.testing.Examples;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The repository calls ({@code repositoryIndex}, {@code loadModel}, {@code unloadModel}) against a
 * real Serval in explicit model control mode, over REST and gRPC: the same index, the same effects
 * and the same failures on both wires.
 */
class RepositoryClientTest {
    private static final String ADMIN = "admin-secret";
    private static final float[] FLOWER = {5.1f, 3.5f, 1.4f, 0.2f};

    @TempDir
    Path repository;
    private ServalServer server;
    private ServalClient rest;
    private ServalClient grpc;

    @BeforeEach
    void start() throws IOException {
        copy("iris_small/1/model.onnx", "iris_small/1/model.onnx");
        byte[] model = Files.readAllBytes(Examples.repository().resolve("iris_small/2/model.onnx"));
        Files.createDirectories(repository.resolve("iris_small/2"));
        Files.write(repository.resolve("iris_small/2/model.onnx"), Arrays.copyOf(model, model.length / 3));
        copy("iris_small/2/model.onnx", "other/1/model.onnx");
        server = TestServers.start(ServerOptions.defaults(repository)
                .withTokens(Optional.empty(), Optional.of(ADMIN))
                .withModelControl(ModelControl.explicit(List.of("iris_small"))));
        rest = connect(Protocol.REST_JSON, Optional.of(ADMIN));
        grpc = connect(Protocol.GRPC, Optional.of(ADMIN));
    }

    private void copy(String from, String to) throws IOException {
        Files.createDirectories(repository.resolve(to).getParent());
        Files.copy(Examples.repository().resolve(from), repository.resolve(to));
    }

    private ServalClient connect(Protocol protocol, Optional<String> token) {
        int port = protocol == Protocol.GRPC ? server.grpcPort() : server.httpPort();
        ServalClient.Builder builder = ServalClient.builder().protocol(protocol)
                .endpoint(URI.create("http://127.0.0.1:" + port));
        token.ifPresent(builder::bearerToken);
        return builder.build();
    }

    @AfterEach
    void stop() {
        for (AutoCloseable closeable : new AutoCloseable[] {rest, grpc, server}) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static InferRequest flower(String model) {
        return InferRequest.builder(model).input(InferInput.fp32("input", new long[] {1, 4}, FLOWER)).build();
    }

    @Test
    void index_isTheSameOverRestAndGrpc_withStatesAndReasons() {
        List<ModelIndexEntry> index = grpc.repositoryIndex();
        assertThat(rest.repositoryIndex()).isEqualTo(index);
        assertThat(index).hasSize(3);
        assertThat(index.get(0)).isEqualTo(new ModelIndexEntry("iris_small", "1", "READY", ""));
        assertThat(index.get(0).isReady()).isTrue();
        assertThat(index.get(1).name()).isEqualTo("iris_small");
        assertThat(index.get(1).version()).isEqualTo("2");
        assertThat(index.get(1).state()).isEqualTo("UNAVAILABLE");
        assertThat(index.get(1).reason()).isNotBlank();
        assertThat(index.get(2)).isEqualTo(new ModelIndexEntry("other", "", "UNAVAILABLE",
                "not loaded; load it with POST /v2/repository/models/other/load"));
    }

    @Test
    void loadAndUnload_overEitherWire_showInTheOthersIndexAndInference() {
        for (ServalClient[] pair : new ServalClient[][] {{grpc, rest}, {rest, grpc}}) {
            ServalClient actor = pair[0];
            ServalClient observer = pair[1];
            actor.loadModel("other");
            assertThat(observer.repositoryIndex()).contains(new ModelIndexEntry("other", "1", "READY", ""));
            assertThat(observer.infer(flower("other")).modelVersion()).isEqualTo("1");

            actor.unloadModel("other");
            assertThat(observer.repositoryIndex()).contains(new ModelIndexEntry("other", "", "UNAVAILABLE", "unloaded"));
            assertThatThrownBy(() -> observer.infer(flower("other"))).isInstanceOfSatisfying(ServalClientException.class,
                    e -> assertThat(e.status()).isEqualTo(ServalClientException.Status.UNAVAILABLE));
            actor.unloadModel("other"); // again: nothing to do
        }
        assertThat(grpc.infer(flower("iris_small")).modelVersion()).isEqualTo("1");
    }

    @Test
    void failures_haveTheSameStatusAndMessageOnBothWires() {
        assertSameFailure(c -> c.loadModel("missing"), ServalClientException.Status.NOT_FOUND, "no folder 'missing'");
        assertSameFailure(c -> c.unloadModel("missing"), ServalClientException.Status.NOT_FOUND, "unknown model 'missing'");
        assertSameFailure(c -> c.loadModel(".hidden"), ServalClientException.Status.INVALID_ARGUMENT,
                "'.hidden' is not a valid model name");
        assertSameFailure(c -> c.loadModel(".."), ServalClientException.Status.INVALID_ARGUMENT,
                "'..' is not a valid model name");
        assertSameFailure(c -> c.loadModel("iris_small"), ServalClientException.Status.INVALID_ARGUMENT,
                "'iris_small' failed to load");
        assertThatThrownBy(() -> grpc.loadModel("a/b")).isInstanceOfSatisfying(ServalClientException.class, e -> {
            assertThat(e.status()).isEqualTo(ServalClientException.Status.INVALID_ARGUMENT);
            assertThat(e.getMessage()).contains("'a/b' is not a valid model name");
        });
        assertThatThrownBy(() -> grpc.loadModel("")).isInstanceOf(IllegalArgumentException.class);

        try (ServalClient anonymousRest = connect(Protocol.REST_JSON, Optional.empty());
             ServalClient anonymousGrpc = connect(Protocol.GRPC, Optional.empty());
             ServalClient wrongRest = connect(Protocol.REST_JSON, Optional.of("wrong"));
             ServalClient wrongGrpc = connect(Protocol.GRPC, Optional.of("wrong"))) {
            for (ServalClient client : List.of(anonymousRest, anonymousGrpc, wrongRest, wrongGrpc)) {
                ServalClientException.Status expected = client == anonymousRest || client == anonymousGrpc
                        ? ServalClientException.Status.UNAUTHENTICATED : ServalClientException.Status.PERMISSION_DENIED;
                for (Consumer<ServalClient> call : List.<Consumer<ServalClient>>of(c -> c.loadModel("other"),
                        c -> c.unloadModel("iris_small"), ServalClient::repositoryIndex)) {
                    assertThatThrownBy(() -> call.accept(client)).isInstanceOfSatisfying(ServalClientException.class,
                            e -> assertThat(e.status()).as(client.toString()).isEqualTo(expected));
                }
            }
        }
        assertThat(rest.repositoryIndex()).contains(new ModelIndexEntry("iris_small", "1", "READY", ""))
                .anyMatch(row -> row.name().equals("other") && row.reason().startsWith("not loaded"));
    }

    /** {@code call} fails over REST and over gRPC with {@code status} and the very same message. */
    private void assertSameFailure(Consumer<ServalClient> call, ServalClientException.Status status, String part) {
        ServalClientException overRest = failure(rest, call);
        ServalClientException overGrpc = failure(grpc, call);
        assertThat(overRest.status()).as(overRest.getMessage()).isEqualTo(status);
        assertThat(overGrpc.status()).as(overGrpc.getMessage()).isEqualTo(status);
        assertThat(overGrpc.getMessage()).contains(part).isEqualTo(overRest.getMessage());
    }

    private static ServalClientException failure(ServalClient client, Consumer<ServalClient> call) {
        try {
            call.accept(client);
        } catch (ServalClientException e) {
            return e;
        }
        throw new AssertionError(client + ": the call succeeded");
    }
}
