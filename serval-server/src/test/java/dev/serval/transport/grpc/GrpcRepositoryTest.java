package dev.serval.transport.grpc;

import static dev.serval.transport.grpc.GrpcInferenceTest.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.serval.model.ModelControl;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.protocol.grpc.ModelRepositoryParameter;
import dev.serval.protocol.grpc.RepositoryIndexRequest;
import dev.serval.protocol.grpc.RepositoryIndexResponse;
import dev.serval.protocol.grpc.RepositoryModelLoadRequest;
import dev.serval.protocol.grpc.RepositoryModelUnloadRequest;
import dev.serval.server.ServerOptions;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import dev.serval.transport.RequestGate;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Triton's repository calls over gRPC against a real server on a real socket, beside the REST
 * endpoints on the same server: the same index, the same rules, the same statuses and messages.
 * iris_small's version folders 1 and 2 hold two different models, so every answer shows which
 * file computed it (examples/reference/iris_small.v1.json, v2.json).
 */
@Timeout(300)
class GrpcRepositoryTest {
    private static final ModelInferRequest FLOWER = GrpcFixtures.request("iris_small", GrpcFixtures.parse("""
            {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]}"""), true);
    /** The first logit for FLOWER of iris_small's file 1 and file 2. */
    private static final double FILE1 = 1.8944979906082153;
    private static final double FILE2 = 14.232958793640137;
    private static final String ADMIN = "admin-secret";
    private static final String INFERENCE = "infer-secret";
    private static final String[] AS_ADMIN = {"Authorization", "Bearer " + ADMIN};

    @TempDir
    Path repository;
    private TestServer server;
    private ManagedChannel channel;
    private final List<Client> clients = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        for (Client client : clients) {
            client.stop();
        }
        if (channel != null) {
            GrpcFixtures.close(channel);
        }
        if (server != null) {
            server.close();
        }
    }

    /** Version folder {@code version} of {@code model} holding iris_small's file {@code file}. */
    private void addVersion(String model, long version, int file) throws IOException {
        Path folder = Files.createDirectories(repository.resolve(model).resolve(String.valueOf(version)));
        Files.copy(Examples.repository().resolve("iris_small/" + file + "/model.onnx"), folder.resolve("model.onnx"),
                StandardCopyOption.REPLACE_EXISTING);
    }

    /** Version folder {@code version} of {@code model} holding the first third of a model file. */
    private void addTruncatedVersion(String model, long version) throws IOException {
        Path folder = Files.createDirectories(repository.resolve(model).resolve(String.valueOf(version)));
        byte[] bytes = Files.readAllBytes(Examples.repository().resolve("iris_small/2/model.onnx"));
        Files.write(folder.resolve("model.onnx"), Arrays.copyOf(bytes, bytes.length / 3));
    }

    private static int fileOf(long version) {
        return version % 2 == 1 ? 1 : 2;
    }

    private void start(ModelControl control) {
        server = TestServer.start(ServerOptions.defaults(repository)
                .withTokens(Optional.of(INFERENCE), Optional.of(ADMIN)).withModelControl(control));
        channel = GrpcFixtures.channel(server.grpcPort());
    }

    private GRPCInferenceServiceBlockingStub stub(String authorization) {
        GRPCInferenceServiceBlockingStub stub = GrpcFixtures.stub(channel);
        if (authorization == null) {
            return stub;
        }
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), authorization);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    private GRPCInferenceServiceBlockingStub admin() {
        return stub("Bearer " + ADMIN);
    }

    private static RepositoryModelLoadRequest load(String model) {
        return RepositoryModelLoadRequest.newBuilder().setModelName(model).build();
    }

    private static RepositoryModelUnloadRequest unload(String model) {
        return RepositoryModelUnloadRequest.newBuilder().setModelName(model).build();
    }

    private static List<String> rows(RepositoryIndexResponse index) {
        return index.getModelsList().stream()
                .map(row -> row.getName() + "|" + row.getVersion() + "|" + row.getState() + "|" + row.getReason())
                .toList();
    }

    private List<String> grpcIndex() {
        return rows(admin().repositoryIndex(RepositoryIndexRequest.getDefaultInstance()));
    }

    /** The REST index in the same form: absent version and reason read as empty, as on the gRPC wire. */
    private List<String> restIndex() {
        return restIndex("");
    }

    private List<String> restIndex(String body) {
        Reply reply = server.post("/v2/repository/index", body, AS_ADMIN);
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        List<String> rows = new ArrayList<>();
        for (JsonNode row : reply.json()) {
            rows.add(row.get("name").asText() + "|" + row.path("version").asText("") + "|" + row.get("state").asText()
                    + "|" + row.path("reason").asText(""));
        }
        return rows;
    }

    /**
     * A gRPC client sending FLOWER to a model, unversioned, as fast as the server answers, checking
     * each answer: a version no older than the one current when it was sent, and the logits of
     * that version's file.
     */
    private final class Client {
        final AtomicLong minimumVersion;
        final AtomicInteger answered = new AtomicInteger();
        final Queue<String> failures = new ConcurrentLinkedQueue<>();
        final AtomicBoolean running = new AtomicBoolean(true);
        final Thread thread;

        Client(long firstVersion) {
            this.minimumVersion = new AtomicLong(firstVersion);
            GRPCInferenceServiceBlockingStub stub = stub("Bearer " + INFERENCE);
            this.thread = Thread.ofPlatform().name("grpc-client").start(() -> run(stub));
            clients.add(this);
        }

        private void run(GRPCInferenceServiceBlockingStub stub) {
            while (running.get()) {
                long minimum = minimumVersion.get();
                ModelInferResponse response;
                try {
                    response = stub.withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(FLOWER);
                } catch (StatusRuntimeException e) {
                    failures.add(e.getStatus().toString());
                    continue;
                }
                long version = Long.parseLong(response.getModelVersion());
                double logit = GrpcFixtures.value(GrpcFixtures.canonical(response, 0).get(0));
                double expected = fileOf(version) == 1 ? FILE1 : FILE2;
                if (version < minimum) {
                    failures.add("sent once version " + minimum + " served, answered by version " + version);
                } else if (Math.abs(logit - expected) > 1e-4) {
                    failures.add("version " + version + " answered " + logit + ", its file gives " + expected);
                } else {
                    answered.incrementAndGet();
                }
            }
        }

        /** Waits for {@code more} further good answers, so a check covers traffic after an event. */
        void awaitAnswers(int more) {
            int target = answered.get() + more;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (answered.get() < target && failures.isEmpty()) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("timed out waiting for " + more + " answers");
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            }
        }

        void stop() throws InterruptedException {
            running.set(false);
            thread.join(TimeUnit.SECONDS.toMillis(60));
        }
    }

    @Test
    void index_listsEveryModelWithStateAndReason_asTheRestIndexDoes() throws IOException {
        addVersion("iris_small", 1, 1);
        addTruncatedVersion("iris_small", 2);
        addVersion("other", 1, 1);
        start(ModelControl.explicit(List.of("iris_small")));

        List<String> index = grpcIndex();
        assertThat(index).isEqualTo(restIndex());
        assertThat(index).hasSize(3);
        assertThat(index.get(0)).isEqualTo("iris_small|1|READY|");
        assertThat(index.get(1)).startsWith("iris_small|2|UNAVAILABLE|").hasSizeGreaterThan("iris_small|2|UNAVAILABLE|".length());
        assertThat(index.get(2)).isEqualTo("other||UNAVAILABLE|not loaded; load it with POST /v2/repository/models/other/load");

        RepositoryIndexResponse ready = admin().repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build());
        assertThat(rows(ready)).containsExactly("iris_small|1|READY|");
    }

    @Test
    void index_withReady_listsOnlyServingVersions_onRestAsOnGrpc() throws IOException {
        addVersion("iris_small", 1, 1);
        addTruncatedVersion("iris_small", 2);
        addVersion("other", 1, 1);
        start(ModelControl.explicit(List.of("iris_small")));

        RepositoryIndexResponse ready = admin().repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build());
        assertThat(rows(ready)).containsExactly("iris_small|1|READY|");
        assertThat(restIndex("{\"ready\": true}")).isEqualTo(rows(ready));
        assertThat(restIndex("{\"ready\": false}")).hasSize(3).isEqualTo(grpcIndex());
        assertThat(restIndex("{}")).hasSize(3);
        assertThat(restIndex(" \n")).hasSize(3);

        Reply notBoolean = server.post("/v2/repository/index", "{\"ready\": \"yes\"}", AS_ADMIN);
        assertThat(notBoolean.status()).isEqualTo(400);
        assertThat(notBoolean.error()).contains("'ready'").contains("yes").contains("true or false");
        Reply notObject = server.post("/v2/repository/index", "[true]", AS_ADMIN);
        assertThat(notObject.status()).isEqualTo(400);
        assertThat(notObject.error()).contains("JSON object");
    }

    @Test
    void loadAndUnload_underConcurrentInference_failNoRequest() throws Exception {
        addVersion("iris_small", 1, 1);
        Files.writeString(repository.resolve("iris_small/config.yaml"), "version_policy: {latest: {num_versions: 1}}\n");
        addVersion("spare", 1, 2);
        start(ModelControl.explicit(List.of("iris_small")));
        List<Client> load = List.of(new Client(1), new Client(1));
        load.get(0).awaitAnswers(10);

        for (long version = 2; version <= 4; version++) {
            addVersion("iris_small", version, fileOf(version));
            admin().repositoryModelLoad(load("iris_small"));
            // The load has returned: from here on every request sent is answered by the new file.
            for (Client client : load) {
                client.minimumVersion.set(version);
            }
            load.get((int) version % 2).awaitAnswers(5);
        }
        assertThat(grpcIndex()).contains("iris_small|4|READY|").noneMatch(row -> row.startsWith("iris_small|3|"));

        // A second model loaded and unloaded beside the traffic, twice.
        ModelInferRequest spare = FLOWER.toBuilder().setModelName("spare").build();
        for (int round = 0; round < 2; round++) {
            admin().repositoryModelLoad(load("spare"));
            assertThat(GrpcFixtures.value(GrpcFixtures.canonical(stub("Bearer " + INFERENCE).modelInfer(spare), 0).get(0)))
                    .isCloseTo(FILE2, org.assertj.core.api.Assertions.within(1e-4));
            admin().repositoryModelUnload(unload("spare"));
            assertThatThrownBy(() -> stub("Bearer " + INFERENCE).modelInfer(spare))
                    .satisfies(e -> assertStatus(e, Status.Code.UNAVAILABLE, "unloaded"));
            assertThat(grpcIndex()).contains("spare||UNAVAILABLE|unloaded");
        }
        admin().repositoryModelUnload(unload("spare")); // again: nothing to do

        for (Client client : load) {
            client.awaitAnswers(5);
            client.stop();
            assertThat(client.failures).as("failed requests").isEmpty();
            assertThat(client.answered.get()).isPositive();
        }
    }

    @Test
    void repositoryCalls_needTheAdminToken() throws IOException {
        addVersion("iris_small", 1, 1);
        start(ModelControl.explicit(List.of()));

        for (String authorization : new String[] {null, "Bearer " + INFERENCE, "Bearer wrong"}) {
            Status.Code expected = authorization == null ? Status.Code.UNAUTHENTICATED : Status.Code.PERMISSION_DENIED;
            GRPCInferenceServiceBlockingStub caller = stub(authorization);
            assertThatThrownBy(() -> caller.repositoryModelLoad(load("iris_small")))
                    .satisfies(e -> assertStatus(e, expected, "admin token"));
            assertThatThrownBy(() -> caller.repositoryModelUnload(unload("iris_small")))
                    .satisfies(e -> assertStatus(e, expected, "admin token"));
            assertThatThrownBy(() -> caller.repositoryIndex(RepositoryIndexRequest.getDefaultInstance()))
                    .satisfies(e -> assertStatus(e, expected, "admin token"));
        }
        assertThat(grpcIndex()).containsExactly(
                "iris_small||UNAVAILABLE|not loaded; load it with POST /v2/repository/models/iris_small/load");
        admin().repositoryModelLoad(load("iris_small"));
        assertThat(grpcIndex()).containsExactly("iris_small|1|READY|");
    }

    @Test
    void badNamesAndUnknownModels_getTheStatusAndMessageRestGives() throws IOException {
        addVersion("iris_small", 1, 1);
        addTruncatedVersion("broken", 1);
        start(ModelControl.explicit(List.of("iris_small")));
        List<String> before = grpcIndex();

        for (String name : List.of("a/b", "..", "../iris_small", "a\\b", "iris_small/../iris_small")) {
            assertThatThrownBy(() -> admin().repositoryModelLoad(load(name)))
                    .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "'" + name + "' is not a valid model name"));
            assertThatThrownBy(() -> admin().repositoryModelUnload(unload(name)))
                    .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "'" + name + "' is not a valid model name"));
        }
        // Names a REST path can carry as they are: the same status and the same message on both wires.
        for (String name : List.of(".hidden", "missing", "in valid", "broken")) {
            Reply rest = server.post("/v2/repository/models/" + URLEncoder.encode(name, StandardCharsets.UTF_8)
                    .replace("+", "%20") + "/load", "", AS_ADMIN);
            Status.Code expected = switch (rest.status()) {
                case 400 -> Status.Code.INVALID_ARGUMENT;
                case 404 -> Status.Code.NOT_FOUND;
                default -> throw new AssertionError("REST answered " + rest);
            };
            assertThatThrownBy(() -> admin().repositoryModelLoad(load(name))).satisfies(e -> {
                Status status = ((StatusRuntimeException) e).getStatus();
                assertThat(status.getCode()).as(name).isEqualTo(expected);
                assertThat(status.getDescription()).as(name).isEqualTo(rest.error());
            });
        }
        assertThatThrownBy(() -> admin().repositoryModelLoad(load("missing")))
                .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "no folder 'missing'"));
        assertThatThrownBy(() -> admin().repositoryModelUnload(unload("missing")))
                .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "unknown model 'missing'"));
        assertThatThrownBy(() -> admin().repositoryModelLoad(load("broken")))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "'broken' failed to load"));
        assertThatThrownBy(() -> admin().repositoryModelLoad(load("")))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "model_name is empty"));

        List<String> after = grpcIndex();
        assertThat(after).contains("iris_small|1|READY|").anyMatch(row -> row.startsWith("broken|1|UNAVAILABLE|"));
        assertThat(after.stream().filter(row -> !row.startsWith("broken|")).toList())
                .isEqualTo(before.stream().filter(row -> !row.startsWith("broken|")).toList());
    }

    @Test
    void requestFields_repositoryNameAndParameters_areCheckedNotIgnored() throws IOException {
        addVersion("iris_small", 1, 1);
        start(ModelControl.explicit(List.of("iris_small")));

        assertThatThrownBy(() -> admin().repositoryIndex(RepositoryIndexRequest.newBuilder().setRepositoryName("models").build()))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "repository_name is 'models'"));
        assertThatThrownBy(() -> admin().repositoryModelLoad(load("iris_small").toBuilder().setRepositoryName("models").build()))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "repository_name is 'models'"));
        RepositoryModelLoadRequest withConfig = load("iris_small").toBuilder().putParameters("config",
                ModelRepositoryParameter.newBuilder().setStringParam("{\"max_batch_size\": 8}").build()).build();
        assertThatThrownBy(() -> admin().repositoryModelLoad(withConfig))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "load parameter 'config' is not supported"));
        RepositoryModelLoadRequest withFile = load("iris_small").toBuilder().putParameters("file:1/model.onnx",
                ModelRepositoryParameter.newBuilder().setBytesParam(ByteString.copyFromUtf8("onnx")).build()).build();
        assertThatThrownBy(() -> admin().repositoryModelLoad(withFile))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "'file:1/model.onnx'"));
        RepositoryModelUnloadRequest textual = unload("iris_small").toBuilder().putParameters("unload_dependents",
                ModelRepositoryParameter.newBuilder().setStringParam("yes").build()).build();
        assertThatThrownBy(() -> admin().repositoryModelUnload(textual))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "'unload_dependents' is string_param 'yes'"));
        RepositoryModelUnloadRequest other = unload("iris_small").toBuilder().putParameters("force",
                ModelRepositoryParameter.newBuilder().setBoolParam(true).build()).build();
        assertThatThrownBy(() -> admin().repositoryModelUnload(other))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "unload parameter 'force'"));
        assertThat(grpcIndex()).containsExactly("iris_small|1|READY|");

        admin().repositoryModelUnload(unload("iris_small").toBuilder().putParameters("unload_dependents",
                ModelRepositoryParameter.newBuilder().setBoolParam(true).build()).build());
        assertThat(grpcIndex()).containsExactly("iris_small||UNAVAILABLE|unloaded");
    }

    @Test
    void noneMode_refusesLoadAndUnload_butServesTheIndex() throws IOException {
        addVersion("iris_small", 1, 1);
        start(ModelControl.NONE);
        assertThatThrownBy(() -> admin().repositoryModelLoad(load("iris_small")))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "--model-control-mode none"));
        assertThatThrownBy(() -> admin().repositoryModelUnload(unload("iris_small")))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "--model-control-mode explicit"));
        assertThat(grpcIndex()).containsExactly("iris_small|1|READY|").isEqualTo(restIndex());
        assertThat(stub("Bearer " + INFERENCE).modelInfer(FLOWER).getModelVersion()).isEqualTo("1");
    }

    @Test
    void whileTheServerShutsDown_loadAndUnloadAreRefused_butTheIndexAnswers() throws Exception {
        addVersion("iris_small", 1, 1);
        addVersion("spare", 1, 2);
        GatedRuntime runtime = new GatedRuntime();
        server = TestServer.start(ServerOptions.defaults(repository).withTokens(Optional.of(INFERENCE), Optional.of(ADMIN))
                .withModelControl(ModelControl.explicit(List.of("iris_small", "spare"))), runtime);
        channel = GrpcFixtures.channel(server.grpcPort());
        runtime.close("iris_small");
        try {
            GRPCInferenceServiceBlockingStub inference = stub("Bearer " + INFERENCE);
            CompletableFuture<ModelInferResponse> held = CompletableFuture.supplyAsync(() -> inference.modelInfer(FLOWER),
                    command -> Thread.ofVirtual().start(command));
            runtime.awaitBlocked("iris_small"); // an admitted request keeps the server draining
            CompletableFuture<Boolean> shutdown = CompletableFuture.supplyAsync(
                    () -> server.server().shutdown(Duration.ofSeconds(60)), command -> Thread.ofVirtual().start(command));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (server.server().isAcceptingRequests()) {
                assertThat(System.nanoTime() - deadline).as("the shutdown began").isNegative();
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            }

            assertThatThrownBy(() -> admin().repositoryModelLoad(load("spare")))
                    .satisfies(e -> assertStatus(e, Status.Code.UNAVAILABLE, RequestGate.SHUTTING_DOWN));
            assertThatThrownBy(() -> admin().repositoryModelUnload(unload("spare")))
                    .satisfies(e -> assertStatus(e, Status.Code.UNAVAILABLE, RequestGate.SHUTTING_DOWN));
            assertThat(grpcIndex()).containsExactly("iris_small|1|READY|", "spare|1|READY|");
            assertThat(shutdown).isNotDone();

            runtime.open("iris_small");
            assertThat(held.get(60, TimeUnit.SECONDS).getModelVersion()).isEqualTo("1");
            assertThat(shutdown.get(60, TimeUnit.SECONDS)).as("every admitted request was answered").isTrue();
        } finally {
            runtime.open("iris_small");
        }
    }
}
