package dev.serval.transport.grpc;

import static dev.serval.transport.grpc.GrpcInferenceTest.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.util.concurrent.ListenableFuture;
import dev.serval.api.InferenceRequest;
import dev.serval.api.Parameters;
import dev.serval.model.ModelVersion;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.protocol.grpc.InferParameter;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import dev.serval.testing.TestServer;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admission over gRPC, paced with {@link GatedRuntime}: a full queue is RESOURCE_EXHAUSTED, the
 * call's deadline (or a tighter timeout parameter) drops a queued request before it runs, a
 * cancelled call leaves the queue, and a fallback's response parameters come back as
 * InferParameters.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class GrpcSchedulingTest {
    @TempDir
    static Path repository;
    private static final GatedRuntime runtime = new GatedRuntime();
    private static TestServer server;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() throws IOException {
        Path iris = Examples.repository().resolve("iris/1/model.onnx");
        model("small_queue", iris, "max_batch_size: 0\ndynamic_batching:\n  max_queue_size: 2\n");
        model("deadline", iris, "max_batch_size: 0\n");
        model("cancel", iris, "max_batch_size: 0\n");
        model("primary", iris, "max_batch_size: 0\nfallback:\n  model: cheap\n  queue_wait_budget_microseconds: 1000\n");
        model("cheap", Examples.repository().resolve("iris_small/2/model.onnx"), null);
        server = TestServer.start(repository, runtime);
        channel = GrpcFixtures.channel(server.grpcPort());
    }

    private static void model(String name, Path file, String config) throws IOException {
        Files.createDirectories(repository.resolve(name).resolve("1"));
        Files.copy(file, repository.resolve(name).resolve("1/model.onnx"));
        if (config != null) {
            Files.writeString(repository.resolve(name).resolve("config.yaml"), config);
        }
    }

    @AfterAll
    static void stop() throws InterruptedException {
        GrpcFixtures.close(channel);
        server.close();
    }

    /** An iris request whose first element tags it in {@link GatedRuntime#runs}. */
    private static ModelInferRequest iris(String model, float tag) {
        return GrpcFixtures.request(model, GrpcFixtures.parse("""
                {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [%s, 3.0, 4.0, 1.2]}]}"""
                .formatted(tag)), false);
    }

    private static ListenableFuture<ModelInferResponse> async(ModelInferRequest request) {
        return GRPCInferenceServiceGrpc.newFutureStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(request);
    }

    private static ModelVersion version(String model) {
        return server.server().registry().resolve(model, null);
    }

    /**
     * Waits until the model has counted {@code count} requests that gave up waiting: expired (the
     * server's timer) or unavailable (interrupted because the client cancelled), whichever came first.
     */
    private static void awaitGaveUp(String model, int count) throws InterruptedException {
        for (int i = 0; i < 3000 && gaveUp(model) < count; i++) {
            Thread.sleep(10);
        }
        assertThat(gaveUp(model)).as("requests to %s that gave up", model).isEqualTo(count);
    }

    private static int gaveUp(String model) {
        int total = 0;
        for (String line : server.get("/metrics").body().split("\n")) {
            for (String outcome : List.of("expired", "unavailable")) {
                String prefix = "serval_inference_requests_total{model=\"" + model + "\",outcome=\"" + outcome + "\",";
                if (line.startsWith(prefix)) {
                    total += (int) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
        }
        return total;
    }

    private static void awaitQueueDepth(String model, int depth) throws InterruptedException {
        for (int i = 0; i < 3000 && version(model).queueDepth() != depth; i++) {
            Thread.sleep(10);
        }
        assertThat(version(model).queueDepth()).as("queue depth of " + model).isEqualTo(depth);
    }

    @Test
    void fullQueue_isResourceExhausted_thenRecovers() throws Exception {
        runtime.close("small_queue");
        ListenableFuture<ModelInferResponse> running = async(iris("small_queue", 4.0f));
        runtime.awaitBlocked("small_queue");
        List<ListenableFuture<ModelInferResponse>> queued = List.of(async(iris("small_queue", 4.5f)),
                async(iris("small_queue", 5.0f)));
        awaitQueueDepth("small_queue", 2);

        assertThatThrownBy(() -> GrpcFixtures.stub(channel).modelInfer(iris("small_queue", 5.5f)))
                .satisfies(e -> assertStatus(e, Status.Code.RESOURCE_EXHAUSTED, "max_queue_size"));

        runtime.open("small_queue");
        assertThat(running.get().getOutputsCount()).isEqualTo(2);
        for (ListenableFuture<ModelInferResponse> reply : queued) {
            assertThat(reply.get().getOutputsCount()).isEqualTo(2);
        }
        assertThat(GrpcFixtures.stub(channel).modelInfer(iris("small_queue", 6.0f)).getOutputsCount()).isEqualTo(2);
    }

    @Test
    void expiredDeadline_isDeadlineExceeded_andTheRequestNeverRuns() throws Exception {
        runtime.close("deadline");
        ListenableFuture<ModelInferResponse> running = async(iris("deadline", 4.0f));
        runtime.awaitBlocked("deadline");

        assertThatThrownBy(() -> GRPCInferenceServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(200, TimeUnit.MILLISECONDS).modelInfer(iris("deadline", 7.0f)))
                .satisfies(e -> assertStatus(e, Status.Code.DEADLINE_EXCEEDED, ""));
        // A timeout parameter tighter than the deadline is the server's own answer, in its words.
        ModelInferRequest timed = iris("deadline", 7.5f).toBuilder()
                .putParameters("timeout", InferParameter.newBuilder().setInt64Param(20_000).build()).build();
        assertThatThrownBy(() -> GrpcFixtures.stub(channel).modelInfer(timed))
                .satisfies(e -> assertStatus(e, Status.Code.DEADLINE_EXCEEDED,
                        "model 'deadline' did not answer before the request's timeout"));
        awaitGaveUp("deadline", 2);

        runtime.open("deadline");
        assertThat(running.get().getOutputsCount()).isEqualTo(2);
        assertThat(GrpcFixtures.stub(channel).modelInfer(iris("deadline", 6.0f)).getOutputsCount()).isEqualTo(2);
        assertThat(runtime.runs("deadline")).extracting(GatedRuntime.Run::firstValue)
                .as("the expired requests (tags 7.0 and 7.5) never ran").containsExactly(4.0, 6.0);
    }

    @Test
    void cancelledCall_leavesTheQueue_andNeverRuns() throws Exception {
        runtime.close("cancel");
        ListenableFuture<ModelInferResponse> running = async(iris("cancel", 4.0f));
        runtime.awaitBlocked("cancel");
        ListenableFuture<ModelInferResponse> abandoned = async(iris("cancel", 8.0f));
        awaitQueueDepth("cancel", 1);

        abandoned.cancel(true);
        awaitGaveUp("cancel", 1);
        assertThat(server.get("/metrics").body())
                .contains("serval_inference_cancelled_total{model=\"cancel\",reason=\"client_cancelled\"} 1.0");

        runtime.open("cancel");
        assertThat(running.get().getOutputsCount()).isEqualTo(2);
        assertThat(GrpcFixtures.stub(channel).modelInfer(iris("cancel", 6.0f)).getOutputsCount()).isEqualTo(2);
        assertThat(runtime.runs("cancel")).extracting(GatedRuntime.Run::firstValue).containsExactly(4.0, 6.0);
    }

    @Test
    void fallback_responseParameters_areInferParameters() throws Exception {
        runtime.close("primary");
        ListenableFuture<ModelInferResponse> running = async(iris("primary", 4.0f));
        runtime.awaitBlocked("primary");
        ListenableFuture<ModelInferResponse> waiting = async(iris("primary", 4.5f));
        awaitQueueDepth("primary", 1);
        Thread.sleep(20); // let the queued request's wait pass the 1 ms budget

        ModelInferResponse degraded = GrpcFixtures.stub(channel).modelInfer(iris("primary", 5.0f));
        assertThat(degraded.getModelName()).isEqualTo("primary");
        assertThat(degraded.getParametersMap().get("degraded")).isEqualTo(InferParameter.newBuilder().setBoolParam(true).build());
        assertThat(degraded.getParametersMap().get("fallback_model").getStringParam()).isEqualTo("cheap");
        assertThat(degraded.getParametersMap().get("fallback_version").getStringParam()).isEqualTo("1");

        runtime.open("primary");
        assertThat(running.get().getParametersCount()).isZero();
        assertThat(waiting.get().getParametersCount()).isZero();
    }

    /** The call's deadline becomes the timeout parameter, unless the request's own is tighter. */
    @Test
    void deadline_becomesTheTimeoutParameter_whenTighter() throws Exception {
        InferenceRequest none = new InferenceRequest("m", "1", null, Parameters.empty(), List.of(), List.of());
        InferenceRequest tight = new InferenceRequest("m", "1", null,
                Parameters.of(java.util.Map.of("timeout", 1000L)), List.of(), List.of());
        InferenceRequest loose = new InferenceRequest("m", "1", null,
                Parameters.of(java.util.Map.of("timeout", 3_600_000_000L)), List.of(), List.of());
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try {
            Context.CancellableContext context = Context.current()
                    .withDeadline(Deadline.after(60, TimeUnit.SECONDS), timer);
            try {
                long fromDeadline = context.call(() -> InferenceService.withDeadline(none)).parameters().getLong("timeout").getAsLong();
                assertThat(fromDeadline).isPositive().isLessThanOrEqualTo(60_000_000L);
                assertThat(context.call(() -> InferenceService.withDeadline(tight)).parameters().getLong("timeout"))
                        .hasValue(1000L);
                assertThat(context.call(() -> InferenceService.withDeadline(loose)).parameters().getLong("timeout").getAsLong())
                        .isLessThanOrEqualTo(60_000_000L);
            } finally {
                context.cancel(null);
            }
            assertThat(InferenceService.withDeadline(none).parameters().isEmpty()).as("no deadline, no timeout").isTrue();
        } finally {
            timer.shutdownNow();
        }
    }

}
