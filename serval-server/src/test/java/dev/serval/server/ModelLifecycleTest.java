package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.serval.model.ModelControl;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deploying models while clients hammer the server over real sockets: swaps, unload and reload,
 * a corrupt version, the poller. iris_small's version folders 1 and 2 hold two different models,
 * so every answer shows which file computed it (examples/reference/iris_small.v1.json, v2.json).
 */
@Timeout(300)
class ModelLifecycleTest {
    private static final Logger log = LoggerFactory.getLogger(ModelLifecycleTest.class);
    private static final String FLOWER = """
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}""";
    /** The first logit for FLOWER of iris_small's file 1 and file 2. */
    private static final double FILE1 = 1.8944979906082153;
    private static final double FILE2 = 14.232958793640137;
    private static final String ADMIN = "admin-secret";
    private static final String[] AS_ADMIN = {"Authorization", "Bearer " + ADMIN};

    @TempDir
    Path repository;
    @TempDir
    Path outside;
    private TestServer server;
    private final List<Client> clients = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        for (Client client : clients) {
            client.stop();
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

    private static int fileOf(long version) {
        return version % 2 == 1 ? 1 : 2;
    }

    private void start(ModelControl control) {
        server = TestServer.start(ServerOptions.defaults(repository).withGrpcPort(ServerOptions.GRPC_OFF)
                .withTokens(Optional.empty(), Optional.of(ADMIN)).withModelControl(control));
    }

    /**
     * A client sending FLOWER to a model, unversioned, as fast as the server answers, checking
     * each answer: status 200, a version no older than the one current when it was sent, and the
     * logits of that version's file.
     */
    private final class Client {
        final String model;
        final AtomicLong minimumVersion;
        final AtomicInteger answered = new AtomicInteger();
        final Queue<String> failures = new ConcurrentLinkedQueue<>();
        final AtomicBoolean running = new AtomicBoolean(true);
        final Thread thread;

        Client(String model, long firstVersion) {
            this.model = model;
            this.minimumVersion = new AtomicLong(firstVersion);
            this.thread = Thread.ofPlatform().name("client-" + model).start(this::run);
            clients.add(this);
        }

        private void run() {
            while (running.get()) {
                long minimum = minimumVersion.get();
                Reply reply;
                try {
                    reply = server.post("/v2/models/" + model + "/infer", FLOWER);
                } catch (RuntimeException e) {
                    failures.add(e.toString());
                    continue;
                }
                if (reply.status() != 200) {
                    failures.add(reply.toString());
                    continue;
                }
                JsonNode json = reply.json();
                long version = json.get("model_version").asLong();
                double logit = json.get("outputs").get(0).get("data").get(0).asDouble();
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
            awaitTrue(() -> answered.get() >= target || !failures.isEmpty(), model + " answers");
        }

        void stop() throws InterruptedException {
            running.set(false);
            thread.join(TimeUnit.SECONDS.toMillis(60));
        }

        void assertNoFailure() {
            assertThat(failures).as(model + " failed requests").isEmpty();
            assertThat(answered.get()).as(model + " answers").isPositive();
        }
    }

    /** Polls {@code condition} until it holds, for at most a minute. */
    private static void awaitTrue(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    private Reply load(String model) {
        return server.post("/v2/repository/models/" + model + "/load", "", AS_ADMIN);
    }

    private Reply unload(String model) {
        return server.post("/v2/repository/models/" + model + "/unload", "", AS_ADMIN);
    }

    private String index() {
        Reply reply = server.post("/v2/repository/index", "", AS_ADMIN);
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        return reply.body();
    }

    @Test
    void tenSwapsUnderLoad_failNoRequest_andMoveTrafficWhenTheLoadReturns() throws Exception {
        addVersion("iris_small", 1, 1);
        Files.writeString(repository.resolve("iris_small/config.yaml"),
                "version_policy: {latest: {num_versions: 1}}\nwarmup: {count: 2}\n");
        addVersion("other", 1, 1);
        start(ModelControl.explicit(List.of("iris_small", "other")));
        List<Client> swapped = List.of(new Client("iris_small", 1), new Client("iris_small", 1),
                new Client("iris_small", 1));
        Client bystander = new Client("other", 1);
        swapped.get(0).awaitAnswers(20);

        for (long version = 2; version <= 11; version++) {
            addVersion("iris_small", version, fileOf(version));
            Reply loaded = load("iris_small");
            assertThat(loaded.status()).as(loaded.body()).isEqualTo(200);
            assertThat(loaded.body()).isEqualTo("[{\"name\":\"iris_small\",\"version\":\"" + version
                    + "\",\"state\":\"READY\"}]");
            // From here on every request sent must be answered by the new version's file.
            for (Client client : swapped) {
                client.minimumVersion.set(version);
            }
            swapped.get((int) version % 3).awaitAnswers(5);
        }
        for (Client client : swapped) {
            client.awaitAnswers(5);
            client.stop();
            client.assertNoFailure();
        }
        bystander.stop();
        bystander.assertNoFailure();
        log.info("ten swaps under load: {} answers from the swapped model, {} from the bystander, none failed",
                swapped.stream().mapToInt(c -> c.answered.get()).sum(), bystander.answered.get());
        assertThat(index()).contains("{\"name\":\"iris_small\",\"version\":\"11\",\"state\":\"READY\"}")
                .doesNotContain("\"version\":\"10\"");
        JsonNode metadata = server.get("/v2/models/iris_small").json();
        assertThat(metadata.get("versions").toString()).isEqualTo("[\"11\"]");
        Reply old = server.post("/v2/models/iris_small/versions/10/infer", FLOWER);
        assertThat(old.status()).isEqualTo(404);
        assertThat(old.error()).contains("ready versions are [11]");
    }

    @Test
    void unloadAndReload_leaveOtherModelsServing() throws Exception {
        addVersion("iris_small", 1, 1);
        addVersion("other", 1, 1);
        start(ModelControl.explicit(List.of("iris_small", "other")));
        Client bystander = new Client("other", 1);
        bystander.awaitAnswers(10);

        Reply unloaded = unload("iris_small");
        assertThat(unloaded.status()).as(unloaded.body()).isEqualTo(200);
        assertThat(unloaded.body()).contains("\"state\":\"UNAVAILABLE\",\"reason\":\"unloaded\"");
        Reply refused = server.post("/v2/models/iris_small/infer", FLOWER);
        assertThat(refused.status()).isEqualTo(503);
        assertThat(refused.error()).contains("'iris_small'").contains("unloaded");
        assertThat(server.get("/v2/models/iris_small/ready").status()).isEqualTo(503);
        assertThat(server.get("/v2/health/ready").status()).isEqualTo(200);
        assertThat(unload("iris_small").status()).isEqualTo(200); // again: nothing to do

        assertThat(load("iris_small").status()).isEqualTo(200);
        Reply served = server.post("/v2/models/iris_small/infer", FLOWER);
        assertThat(served.status()).as(served.body()).isEqualTo(200);
        assertThat(served.json().get("outputs").get(0).get("data").get(0).asDouble()).isCloseTo(FILE1,
                org.assertj.core.api.Assertions.within(1e-4));
        bystander.awaitAnswers(10);
        bystander.stop();
        bystander.assertNoFailure();
    }

    @Test
    void corruptVersion_underLoad_neverServes_andTheIndexSaysWhy() throws Exception {
        addVersion("iris_small", 1, 1);
        Files.writeString(repository.resolve("iris_small/config.yaml"), "version_policy: {latest: {num_versions: 1}}\n");
        start(ModelControl.explicit(List.of("iris_small")));
        Client client = new Client("iris_small", 1);
        client.awaitAnswers(10);

        Path broken = Files.createDirectories(repository.resolve("iris_small/2"));
        byte[] model = Files.readAllBytes(Examples.repository().resolve("iris_small/2/model.onnx"));
        Files.write(broken.resolve("model.onnx"), Arrays.copyOf(model, model.length / 3));
        Reply failed = load("iris_small");
        assertThat(failed.status()).as(failed.body()).isEqualTo(400);
        assertThat(failed.error()).contains("'iris_small' failed to load").contains("version 2")
                .contains("serving versions [1]");
        assertThat(index()).contains("{\"name\":\"iris_small\",\"version\":\"1\",\"state\":\"READY\"}")
                .contains("{\"name\":\"iris_small\",\"version\":\"2\",\"state\":\"UNAVAILABLE\",\"reason\":");
        assertThat(server.get("/v2/health/ready").status()).isEqualTo(200);
        client.awaitAnswers(10);

        Files.writeString(broken.resolve("model.onnx"), "plain text, not ONNX");
        assertThat(load("iris_small").status()).isEqualTo(400);
        client.awaitAnswers(10);
        client.stop();
        client.assertNoFailure();
        assertThat(client.minimumVersion.get()).isEqualTo(1);
    }

    @Test
    void pollMode_picksUpANewVersionAndAChangedConfig_underLoad() throws Exception {
        addVersion("iris_small", 1, 1);
        start(ModelControl.poll(Duration.ofSeconds(1)));
        Client client = new Client("iris_small", 1);
        client.awaitAnswers(10);
        Reply refused = load("iris_small");
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.error()).contains("--model-control-mode poll");

        addVersion("iris_small", 2, 2);
        awaitTrue(() -> server.get("/v2/models/iris_small").json().get("versions").size() == 2, "version 2 loaded");
        client.minimumVersion.set(2);
        client.awaitAnswers(10);

        // Back to version 1 only: the config changed, so version 1 reloads beside the old one.
        client.minimumVersion.set(1);
        Files.writeString(repository.resolve("iris_small/config.yaml"), "version_policy: {specific: {versions: [1]}}\n");
        awaitTrue(() -> server.get("/v2/models/iris_small").json().get("versions").toString().equals("[\"1\"]"),
                "version 2 unloaded");
        client.stop();
        client.assertNoFailure();
        Reply served = server.post("/v2/models/iris_small/infer", FLOWER);
        assertThat(served.json().get("model_version").asText()).isEqualTo("1");
    }

    @Test
    void noneMode_refusesTheLoadApi() {
        addVersionUnchecked("iris_small", 1, 1);
        start(ModelControl.NONE);
        Reply refused = load("iris_small");
        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.error()).contains("--model-control-mode none").contains("explicit");
        assertThat(unload("iris_small").status()).isEqualTo(400);
        assertThat(server.post("/v2/models/iris_small/infer", FLOWER).status()).isEqualTo(200);
    }

    private void addVersionUnchecked(String model, long version, int file) {
        try {
            addVersion(model, version, file);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void loadApi_needsTheAdminToken_andRefusesBadNames() throws IOException {
        addVersion("iris_small", 1, 1);
        Path secret = Files.createDirectories(outside.resolve("secret/1"));
        Files.copy(Examples.repository().resolve("iris_small/2/model.onnx"), secret.resolve("model.onnx"));
        Files.createSymbolicLink(repository.resolve("escape"), outside.resolve("secret"));
        Files.createDirectories(repository.resolve("empty"));
        Files.createDirectories(repository.resolve("nofile/1"));
        start(ModelControl.explicit(List.of("iris_small")));
        String before = index();

        assertThat(server.post("/v2/repository/models/iris_small/load", "").status()).isEqualTo(401);
        assertThat(server.post("/v2/repository/models/iris_small/unload", "", "Authorization", "Bearer nope").status())
                .isEqualTo(403);
        for (String name : List.of("a%2Fb", "%2E%2E", "..%2Firis_small", "%00")) {
            Reply reply = load(name);
            assertThat(reply.status()).as(name + ": " + reply.body()).isIn(400, 404);
        }
        Reply hidden = load(".hidden");
        assertThat(hidden.status()).isEqualTo(400);
        assertThat(hidden.error()).contains("'.hidden' is not a valid model name");
        Reply missing = load("missing");
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.error()).contains("no folder 'missing'");
        assertThat(index()).isEqualTo(before);

        Reply escape = load("escape");
        assertThat(escape.status()).isEqualTo(400);
        assertThat(escape.error()).contains("outside the model repository");
        Reply empty = load("empty");
        assertThat(empty.status()).isEqualTo(400);
        assertThat(empty.error()).contains("no version folders");
        Reply nofile = load("nofile");
        assertThat(nofile.status()).isEqualTo(400);
        assertThat(nofile.error()).contains("does not exist");
        assertThat(server.post("/v2/models/iris_small/infer", FLOWER).status()).isEqualTo(200);
    }
}
