package dev.serval.transport.grpc;

import static dev.serval.transport.grpc.GrpcInferenceTest.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.util.concurrent.ListenableFuture;
import dev.serval.model.ModelVersion;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.server.ServerOptions;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import dev.serval.transport.BodyBudget;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC messages and REST bodies share the in-flight body budget ({@code --max-inflight-bytes}),
 * here one 1 KB unit, so a single small request fills it: while a REST request holds it (its run
 * held by {@link GatedRuntime}), ModelInfer calls wait outside the model's queue, and run once it
 * is answered; a call cancelled while it waits gives back what it held.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class GrpcBodyBudgetTest {
    @TempDir
    static Path repository;
    private static final GatedRuntime runtime = new GatedRuntime();
    private static TestServer server;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() throws IOException {
        Files.createDirectories(repository.resolve("gated/1"));
        Files.copy(Examples.repository().resolve("iris/1/model.onnx"), repository.resolve("gated/1/model.onnx"));
        Files.writeString(repository.resolve("gated/config.yaml"), "max_batch_size: 0\n");
        server = TestServer.start(ServerOptions.defaults(repository).withMaxInflightBytes(1024), runtime);
        channel = GrpcFixtures.channel(server.grpcPort());
    }

    @AfterAll
    static void stop() throws InterruptedException {
        GrpcFixtures.close(channel);
        server.close();
    }

    private static ModelInferRequest iris(float tag) {
        return GrpcFixtures.request("gated", GrpcFixtures.parse("""
                {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [%s, 3.0, 4.0, 1.2]}]}"""
                .formatted(tag)), false);
    }

    private static ListenableFuture<ModelInferResponse> async(ModelInferRequest request, long seconds) {
        return GRPCInferenceServiceGrpc.newFutureStub(channel).withDeadlineAfter(seconds, TimeUnit.SECONDS)
                .modelInfer(request);
    }

    /** A REST request whose run is held at the model's gate, holding the whole budget meanwhile. */
    private static CompletableFuture<Reply> restHoldingTheBudget() throws InterruptedException {
        runtime.close("gated");
        CompletableFuture<Reply> rest = CompletableFuture.supplyAsync(() -> server.post("/v2/models/gated/infer", """
                {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [4.0, 3.0, 4.0, 1.2]}]}"""),
                command -> Thread.ofVirtual().start(command));
        runtime.awaitBlocked("gated");
        return rest;
    }

    private static int queueDepth() {
        return server.server().registry().resolve("gated", null).queueDepth();
    }

    @Test
    void calls_waitOutsideTheQueue_whileARestBodyHoldsTheBudget_andRunOnceItIsAnswered() throws Exception {
        CompletableFuture<Reply> rest = restHoldingTheBudget();
        List<ListenableFuture<ModelInferResponse>> calls = List.of(async(iris(5.0f), 60), async(iris(6.0f), 60));
        Thread.sleep(300);
        assertThat(calls).as("the calls wait for room").noneMatch(ListenableFuture::isDone);
        assertThat(queueDepth()).as("no call reached the model's queue").isZero();

        runtime.open("gated");
        assertThat(rest.get().status()).isEqualTo(200);
        for (ListenableFuture<ModelInferResponse> call : calls) {
            assertThat(call.get().getOutputsCount()).isEqualTo(2);
        }
        assertThat(runtime.runs("gated")).extracting(GatedRuntime.Run::firstValue).contains(4.0, 5.0, 6.0);
    }

    @Test
    void aCallCancelledWhileWaiting_givesBackWhatItHeld() throws Exception {
        CompletableFuture<Reply> rest = restHoldingTheBudget();
        assertThatThrownBy(() -> async(iris(7.0f), 1).get())
                .satisfies(e -> assertStatus(e.getCause(), Status.Code.DEADLINE_EXCEEDED, ""));

        runtime.open("gated");
        assertThat(rest.get().status()).isEqualTo(200);
        // Each of these needs the whole budget: a byte the cancelled call kept would hold them 30 s.
        for (float tag = 8; tag < 11; tag++) {
            assertThat(async(iris(tag), 20).get().getOutputsCount()).isEqualTo(2);
        }
        assertThat(runtime.runs("gated")).extracting(GatedRuntime.Run::firstValue).doesNotContain(7.0);
    }

    @Test
    void oneConnection_hasAtMostCallsPerConnectionOpen_theRestWaitAtTheClient() throws Exception {
        try (TestServer sixteen = TestServer.start(ServerOptions.defaults(repository).withMaxInflightBytes(16L << 20),
                runtime)) {
            ManagedChannel one = GrpcFixtures.channel(sixteen.grpcPort());
            try {
                runtime.close("gated");
                List<ListenableFuture<ModelInferResponse>> calls = new java.util.ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    calls.add(GRPCInferenceServiceGrpc.newFutureStub(one).withDeadlineAfter(60, TimeUnit.SECONDS)
                            .modelInfer(iris(20.0f + i)));
                }
                runtime.awaitBlocked("gated");
                ModelVersion gated = sixteen.server().registry().resolve("gated", null);
                for (int i = 0; i < 1000 && gated.queueDepth() < 15; i++) {
                    Thread.sleep(10);
                }
                Thread.sleep(300);
                assertThat(gated.queueDepth()).as("16 calls open on the connection: one running, 15 queued")
                        .isEqualTo(15);

                runtime.open("gated");
                for (ListenableFuture<ModelInferResponse> call : calls) {
                    assertThat(call.get(30, TimeUnit.SECONDS).getOutputsCount()).isEqualTo(2);
                }
            } finally {
                GrpcFixtures.close(one);
            }
        }
    }

    @Test
    void callsPerConnection_areTheBudgetOverTheStreamWindow_within16To1024() {
        assertThat(GrpcTransport.callsPerConnection(new BodyBudget(1 << 20, 64L << 20, Duration.ZERO))).isEqualTo(64);
        assertThat(GrpcTransport.callsPerConnection(new BodyBudget(1 << 20, 1024, Duration.ZERO))).isEqualTo(16);
        assertThat(GrpcTransport.callsPerConnection(new BodyBudget(1 << 20, 8L << 30, Duration.ZERO))).isEqualTo(1024);
    }
}
