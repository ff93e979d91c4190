package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.protocol.grpc.ServerLiveRequest;
import dev.serval.protocol.grpc.ServerReadyRequest;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import dev.serval.transport.RequestGate;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Graceful shutdown in-process, over real sockets: requests admitted before the shutdown (held at
 * a closed {@link GatedRuntime} gate, running or queued) get their answers, requests after it get
 * 503 / UNAVAILABLE, readiness goes false at once, and the server stops once the admitted ones are
 * answered, or when its timeout passes, answering the rest 503.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ShutdownTest {
    private final GatedRuntime runtime = new GatedRuntime();
    private final List<ManagedChannel> channels = new ArrayList<>();
    private TestServer server;

    @AfterEach
    void tearDown() throws InterruptedException {
        runtime.open("iris");
        for (ManagedChannel channel : channels) {
            channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    private static String iris(float tag) {
        return String.format(Locale.ROOT, """
                {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [%s, 3.0, 4.5, 1.2]}]}""", tag);
    }

    private static ModelInferRequest grpcIris(float tag) {
        ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName("iris");
        request.addInputsBuilder().setName("input").setDatatype("FP32").addShape(1).addShape(4)
                .getContentsBuilder().addFp32Contents(tag).addFp32Contents(3.0f).addFp32Contents(4.5f).addFp32Contents(1.2f);
        return request.build();
    }

    private CompletableFuture<Reply> postAsync(float tag) {
        return CompletableFuture.supplyAsync(() -> server.post("/v2/models/iris/infer", iris(tag)),
                command -> Thread.ofVirtual().start(command));
    }

    private GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub grpc() {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.grpcPort(),
                InsecureChannelCredentials.create()).build();
        channels.add(channel);
        return GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private CompletableFuture<ModelInferResponse> grpcAsync(GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub,
                                                            float tag) {
        return CompletableFuture.supplyAsync(() -> stub.modelInfer(grpcIris(tag)),
                command -> Thread.ofVirtual().start(command));
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 3000 && !condition.getAsBoolean(); i++) {
            Thread.sleep(10);
        }
        assertThat(condition.getAsBoolean()).as(what).isTrue();
    }

    private int queueDepth() {
        return server.server().registry().resolve("iris", null).queueDepth();
    }

    @Test
    void shutdown_answersEveryAdmittedRequest_refusesNewOnes_thenStops() throws Exception {
        server = TestServer.start(Examples.repository(), runtime);
        GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = grpc();
        runtime.close("iris");
        List<CompletableFuture<Reply>> rest = new ArrayList<>();
        rest.add(postAsync(1.0f));
        runtime.awaitBlocked("iris"); // one request is in a run, held at the gate
        for (int i = 1; i <= 5; i++) {
            rest.add(postAsync(1.0f + i));
        }
        List<CompletableFuture<ModelInferResponse>> calls = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            calls.add(grpcAsync(stub, 10.0f + i));
        }
        await("8 requests queued behind the running one", () -> queueDepth() == 8);
        assertThat(server.server().requestsInFlight()).isEqualTo(9);

        CompletableFuture<Boolean> shutdown = CompletableFuture.supplyAsync(
                () -> server.server().shutdown(Duration.ofSeconds(60)), command -> Thread.ofVirtual().start(command));
        await("the shutdown began", () -> !server.server().isAcceptingRequests());

        Reply ready = server.get("/v2/health/ready");
        assertThat(ready.status()).isEqualTo(503);
        assertThat(ready.body()).isEqualTo("{\"ready\":false}");
        assertThat(server.get("/v2/health/live").status()).isEqualTo(200);
        Reply refused = server.post("/v2/models/iris/infer", iris(9.0f));
        assertThat(refused.status()).isEqualTo(503);
        assertThat(refused.error()).isEqualTo(RequestGate.SHUTTING_DOWN);
        assertThat(refused.headers().firstValue("retry-after")).contains("1");
        assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isFalse();
        assertThat(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
        assertThatThrownBy(() -> stub.modelInfer(grpcIris(9.0f)))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                    assertThat(e.getStatus().getDescription()).isEqualTo(RequestGate.SHUTTING_DOWN);
                });
        assertThat(shutdown).as("the shutdown waits for the admitted requests").isNotDone();
        assertThat(server.server().requestsInFlight()).isEqualTo(9);

        runtime.open("iris");
        for (CompletableFuture<Reply> reply : rest) {
            Reply answer = reply.get(60, TimeUnit.SECONDS);
            assertThat(answer.status()).as(answer.body()).isEqualTo(200);
            assertThat(answer.json().get("outputs").get(1).get("data")).hasSize(3);
        }
        for (CompletableFuture<ModelInferResponse> call : calls) {
            assertThat(call.get(60, TimeUnit.SECONDS).getOutputsList()).hasSize(2);
        }
        assertThat(shutdown.get(60, TimeUnit.SECONDS)).as("every admitted request was answered").isTrue();
        // Every request that reached the model ran once: the 9 admitted ones, none of the refused.
        assertThat(runtime.runs("iris").stream().mapToLong(GatedRuntime.Run::rows).sum()).isEqualTo(9);
        assertThatThrownBy(() -> server.get("/v2/health/live")).isInstanceOf(UncheckedIOException.class);
        assertThat(server.server().shutdown(Duration.ZERO)).as("a second shutdown reports the first").isTrue();
    }

    @Test
    void shutdown_pastItsTimeout_answersTheRest503_andReturns() throws Exception {
        server = TestServer.start(Examples.repository(), runtime);
        GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub = grpc();
        runtime.close("iris");
        CompletableFuture<Reply> running = postAsync(1.0f);
        runtime.awaitBlocked("iris");
        CompletableFuture<Reply> queued = postAsync(2.0f);
        CompletableFuture<ModelInferResponse> call = grpcAsync(stub, 3.0f);
        await("2 requests queued", () -> queueDepth() == 2);

        assertThat(server.server().shutdown(Duration.ZERO)).as("not every request was answered").isFalse();

        for (CompletableFuture<Reply> reply : List.of(running, queued)) {
            Reply answer = reply.get(60, TimeUnit.SECONDS);
            assertThat(answer.status()).as(answer.body()).isEqualTo(503);
            assertThat(answer.error()).contains("did not finish within the shutdown timeout");
        }
        assertThatThrownBy(() -> call.get(60, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .satisfies(e -> assertThat(e.getCause()).isInstanceOfSatisfying(StatusRuntimeException.class, s -> {
                    assertThat(s.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                    assertThat(s.getStatus().getDescription()).contains("did not finish within the shutdown timeout");
                }));
        assertThat(server.server().requestsInFlight()).isZero();
        runtime.open("iris"); // the run the shutdown left behind ends; its answer has no one to go to
    }
}
