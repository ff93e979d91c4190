package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.serval.model.ModelVersion;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scheduling over real HTTP: batches form from queued requests and answers go back to the right
 * clients, a full queue answers 429, an expired request never reaches the model, priority orders
 * the queue, the fallback takes over and gives back, bad settings fail the model's load, and
 * /metrics is Prometheus text. Runs are paced with {@link GatedRuntime}, not with sleeps.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SchedulingTest {
    @TempDir
    static Path repository;
    private static final GatedRuntime runtime = new GatedRuntime();
    private static TestServer server;

    @BeforeAll
    static void start() throws IOException {
        Path iris = Examples.repository().resolve("iris/1/model.onnx");
        Path irisSmall = Examples.repository().resolve("iris_small/2/model.onnx");
        model("batched", iris, "max_batch_size: 8\ndynamic_batching:\n  max_queue_size: 16\n");
        model("small_queue", iris, "max_batch_size: 0\ndynamic_batching:\n  max_queue_size: 2\n");
        model("deadline", iris, "max_batch_size: 0\n");
        model("prioritized", iris, "max_batch_size: 0\ndynamic_batching:\n  priority_levels: 2\n");
        model("primary", iris, "max_batch_size: 0\nfallback:\n  model: cheap\n  queue_wait_budget_microseconds: 1000\n");
        model("cheap", irisSmall, null);
        model("reference", iris, "max_batch_size: 0\n");
        model("bad_batch", Examples.testRepository().resolve("fixed/1/model.onnx"), "max_batch_size: 4\n");
        model("bad_delay", iris, "dynamic_batching:\n  max_queue_delay_microseconds: -5\n");
        model("bad_preferred", iris, "max_batch_size: 4\ndynamic_batching:\n  preferred_batch_size: [2, 8]\n");
        server = TestServer.start(repository, runtime);
    }

    private static void model(String name, Path file, String config) throws IOException {
        Files.createDirectories(repository.resolve(name).resolve("1"));
        Files.copy(file, repository.resolve(name).resolve("1/model.onnx"));
        if (config != null) {
            Files.writeString(repository.resolve(name).resolve("config.yaml"), config);
        }
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String iris(float tag, String parameters) {
        return String.format(Locale.ROOT, """
                {%s"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32",
                 "data": [%s, 3.0, %s, 1.2]}]}""",
                parameters == null ? "" : "\"parameters\": " + parameters + ", ", tag, 1.0f + tag / 2);
    }

    private static CompletableFuture<Reply> postAsync(String model, String body) {
        return CompletableFuture.supplyAsync(() -> server.post("/v2/models/" + model + "/infer", body),
                command -> Thread.ofVirtual().start(command));
    }

    private static ModelVersion version(String model) {
        return server.server().registry().resolve(model, null);
    }

    private static void awaitQueueDepth(String model, int depth) throws InterruptedException {
        for (int i = 0; i < 3000 && version(model).queueDepth() != depth; i++) {
            Thread.sleep(10);
        }
        assertThat(version(model).queueDepth()).as("queue depth of " + model).isEqualTo(depth);
    }

    @Test
    void batches_formFromQueuedRequests_andEachAnswerGoesToItsClient() throws Exception {
        runtime.close("batched");
        CompletableFuture<Reply> blocker = postAsync("batched", iris(4.0f, null));
        runtime.awaitBlocked("batched");
        List<CompletableFuture<Reply>> queued = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            queued.add(postAsync("batched", iris(5.0f + i * 0.5f, null)));
        }
        awaitQueueDepth("batched", 6);
        runtime.open("batched");

        assertThat(blocker.get().status()).isEqualTo(200);
        for (int i = 0; i < 6; i++) {
            Reply batched = queued.get(i).get();
            assertThat(batched.status()).as(batched.body()).isEqualTo(200);
            Reply alone = server.post("/v2/models/reference/infer", iris(5.0f + i * 0.5f, null));
            JsonNode got = batched.json().get("outputs").get(1).get("data");
            JsonNode want = alone.json().get("outputs").get(1).get("data");
            for (int k = 0; k < 3; k++) {
                assertThat(got.get(k).asDouble()).as("request %d, probability %d", i, k)
                        .isCloseTo(want.get(k).asDouble(), org.assertj.core.data.Offset.offset(1e-6));
            }
        }
        assertThat(runtime.runs("batched")).extracting(GatedRuntime.Run::rows).containsExactly(1L, 6L);
        String metrics = server.get("/metrics").body();
        assertThat(metrics).contains("serval_inference_batch_size_bucket{model=\"batched\",version=\"1\",le=\"8.0\"} 2");
    }

    @Test
    void fullQueue_isRefusedWith429AndRetryAfter_thenRecovers() throws Exception {
        runtime.close("small_queue");
        CompletableFuture<Reply> running = postAsync("small_queue", iris(4.0f, null));
        runtime.awaitBlocked("small_queue");
        CompletableFuture<Reply> first = postAsync("small_queue", iris(4.5f, null));
        CompletableFuture<Reply> second = postAsync("small_queue", iris(5.0f, null));
        awaitQueueDepth("small_queue", 2);

        Reply refused = server.post("/v2/models/small_queue/infer", iris(5.5f, null));
        assertThat(refused.status()).isEqualTo(429);
        assertThat(refused.headers().firstValue("retry-after")).hasValue("1");
        assertThat(refused.error()).contains("small_queue").contains("max_queue_size");

        runtime.open("small_queue");
        assertThat(running.get().status()).isEqualTo(200);
        assertThat(first.get().status()).isEqualTo(200);
        assertThat(second.get().status()).isEqualTo(200);
        assertThat(server.post("/v2/models/small_queue/infer", iris(6.0f, null)).status()).isEqualTo(200);
        assertThat(server.get("/metrics").body())
                .contains("serval_inference_requests_total{model=\"small_queue\",outcome=\"rejected\",version=\"1\"} 1.0");
    }

    @Test
    void expiredRequest_isAnswered504_andNeverReachesTheModel() throws Exception {
        runtime.close("deadline");
        CompletableFuture<Reply> running = postAsync("deadline", iris(4.0f, null));
        runtime.awaitBlocked("deadline");

        Reply expired = server.post("/v2/models/deadline/infer", iris(7.0f, "{\"timeout\": 20000}"));
        assertThat(expired.status()).as(expired.body()).isEqualTo(504);
        assertThat(expired.error()).contains("deadline").contains("timeout");

        runtime.open("deadline");
        assertThat(running.get().status()).isEqualTo(200);
        assertThat(server.post("/v2/models/deadline/infer", iris(6.0f, null)).status()).isEqualTo(200);
        assertThat(runtime.runs("deadline")).extracting(GatedRuntime.Run::firstValue)
                .as("the expired request (tag 7.0) never ran").containsExactly(4.0, 6.0);
    }

    @Test
    void priority_runsHigherLevelsFirst() throws Exception {
        runtime.close("prioritized");
        CompletableFuture<Reply> running = postAsync("prioritized", iris(4.0f, null));
        runtime.awaitBlocked("prioritized");
        CompletableFuture<Reply> low = postAsync("prioritized", iris(5.0f, "{\"priority\": 2}"));
        awaitQueueDepth("prioritized", 1);
        CompletableFuture<Reply> normal = postAsync("prioritized", iris(5.5f, null));
        awaitQueueDepth("prioritized", 2);
        CompletableFuture<Reply> high = postAsync("prioritized", iris(6.0f, "{\"priority\": 1}"));
        awaitQueueDepth("prioritized", 3);
        runtime.open("prioritized");

        for (CompletableFuture<Reply> reply : List.of(running, low, normal, high)) {
            assertThat(reply.get().status()).isEqualTo(200);
        }
        assertThat(runtime.runs("prioritized")).extracting(GatedRuntime.Run::firstValue)
                .as("the blocker, then priority 1, then level 2 in arrival order (the default level is the lowest)")
                .containsExactly(4.0, 6.0, 5.0, 5.5);
        Reply outOfRange = server.post("/v2/models/prioritized/infer", iris(5.0f, "{\"priority\": 3}"));
        assertThat(outOfRange.status()).isEqualTo(400);
        assertThat(outOfRange.error()).contains("'priority'").contains("1 (highest) to 2");
    }

    @Test
    void fallback_takesOverWhenTheQueueIsSlow_andGivesBackWhenItDrains() throws Exception {
        runtime.close("primary");
        CompletableFuture<Reply> running = postAsync("primary", iris(4.0f, null));
        runtime.awaitBlocked("primary");
        CompletableFuture<Reply> waiting = postAsync("primary", iris(4.5f, null));
        awaitQueueDepth("primary", 1);
        Thread.sleep(20); // let the queued request's wait pass the 1 ms budget

        Reply degraded = server.post("/v2/models/primary/infer", iris(5.0f, null));
        assertThat(degraded.status()).as(degraded.body()).isEqualTo(200);
        JsonNode parameters = degraded.json().get("parameters");
        assertThat(parameters.get("degraded").asBoolean()).isTrue();
        assertThat(parameters.get("fallback_model").asText()).isEqualTo("cheap");
        assertThat(degraded.json().get("model_name").asText()).isEqualTo("primary");
        assertThat(runtime.runs("cheap")).extracting(GatedRuntime.Run::firstValue).containsExactly(5.0);

        runtime.open("primary");
        assertThat(running.get().status()).isEqualTo(200);
        assertThat(waiting.get().status()).as("no request fails because of the switch").isEqualTo(200);
        Reply back = server.post("/v2/models/primary/infer", iris(5.5f, null));
        assertThat(back.status()).isEqualTo(200);
        assertThat(back.json().has("parameters")).as("served by primary again").isFalse();
        assertThat(runtime.runs("primary")).extracting(GatedRuntime.Run::firstValue).containsExactly(4.0, 4.5, 5.5);
        assertThat(server.get("/metrics").body())
                .contains("serval_inference_degraded_total{fallback=\"cheap\",model=\"primary\"} 1.0");
    }

    @Test
    void badSchedulingSettings_failTheModelWithTheSettingsName() {
        assertUnavailable("bad_batch", "max_batch_size", "fixed first dimension");
        assertUnavailable("bad_delay", "dynamic_batching.max_queue_delay_microseconds", "-5");
        assertUnavailable("bad_preferred", "dynamic_batching.preferred_batch_size", "8", "max_batch_size 4");
        assertThat(server.post("/v2/models/reference/infer", iris(5.0f, null)).status()).isEqualTo(200);
    }

    private static void assertUnavailable(String model, String... reason) {
        Reply reply = server.post("/v2/models/" + model + "/infer", iris(5.0f, null));
        assertThat(reply.status()).as(reply.body()).isEqualTo(503);
        assertThat(reply.error()).contains(reason);
    }

    @Test
    void badScheduleParameters_are400() {
        Reply timeout = server.post("/v2/models/reference/infer", iris(5.0f, "{\"timeout\": -1}"));
        assertThat(timeout.status()).isEqualTo(400);
        assertThat(timeout.error()).contains("'timeout'").contains("-1");
        Reply priority = server.post("/v2/models/reference/infer", iris(5.0f, "{\"priority\": \"high\"}"));
        assertThat(priority.status()).isEqualTo(400);
        assertThat(priority.error()).contains("'priority'").contains("integer");
        Reply tooBig = server.post("/v2/models/batched/infer", """
                {"inputs": [{"name": "input", "shape": [9, 4], "datatype": "FP32", "data": %s}]}"""
                .formatted(java.util.Arrays.toString(new float[36])));
        assertThat(tooBig.status()).isEqualTo(400);
        assertThat(tooBig.error()).contains("batch of 9").contains("max_batch_size");
    }

    @Test
    void inflightBodyBudget_holdsABodyThatDoesNotFit_untilRoomIsFree() throws Exception {
        String held = iris(4.0f, null);
        try (TestServer tight = TestServer.start(dev.serval.server.ServerOptions.defaults(repository)
                .withMaxInflightBytes(held.length() + 10), runtime)) {
            runtime.close("reference");
            CompletableFuture<Reply> running = CompletableFuture.supplyAsync(
                    () -> tight.post("/v2/models/reference/infer", held), command -> Thread.ofVirtual().start(command));
            runtime.awaitBlocked("reference");
            CompletableFuture<Reply> waiting = CompletableFuture.supplyAsync(
                    () -> tight.post("/v2/models/reference/infer", iris(5.0f, null)),
                    command -> Thread.ofVirtual().start(command));
            Thread.sleep(200);
            assertThat(waiting).as("the second body waits for room, unread").isNotDone();
            assertThat(runtime.runs("reference")).extracting(GatedRuntime.Run::firstValue).doesNotContain(5.0);
            runtime.open("reference");
            assertThat(running.get().status()).isEqualTo(200);
            assertThat(waiting.get().status()).as("it is served once the first is done").isEqualTo(200);
        }
    }

    private static final Pattern SAMPLE = Pattern.compile(
            "[a-zA-Z_:][a-zA-Z0-9_:]*(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\",?)*})? "
                    + "(-?[0-9.]+(E-?[0-9]+)?|NaN|\\+Inf|-Inf)( [0-9]+)?");

    @Test
    void metrics_areValidPrometheusText_withInferenceAndJvmFamilies() {
        assertThat(server.post("/v2/models/reference/infer", iris(5.0f, null)).status()).isEqualTo(200);
        Reply reply = server.get("/metrics");
        assertThat(reply.status()).isEqualTo(200);
        assertThat(reply.headers().firstValue("content-type").orElse("")).startsWith("text/plain; version=0.0.4");
        for (String line : reply.body().split("\n")) {
            if (line.isEmpty() || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
                continue;
            }
            assertThat(line).as("a Prometheus sample line").matches(SAMPLE);
        }
        assertThat(reply.body())
                .contains("# TYPE serval_inference_requests_total counter")
                .contains("serval_inference_requests_total{model=\"reference\",outcome=\"success\",version=\"1\"}")
                .contains("# TYPE serval_inference_request_duration_seconds histogram")
                .contains("# TYPE serval_inference_queue_duration_seconds histogram")
                .contains("# TYPE serval_inference_compute_duration_seconds histogram")
                .contains("# TYPE serval_inference_batch_size histogram")
                .contains("serval_inference_queue_depth{model=\"reference\",version=\"1\"} 0")
                .contains("jvm_memory_used_bytes{area=\"heap\"}")
                .contains("jvm_buffer_pool_used_bytes{pool=\"direct\"}")
                .contains("jvm_gc_collection_seconds_count");
    }
}
