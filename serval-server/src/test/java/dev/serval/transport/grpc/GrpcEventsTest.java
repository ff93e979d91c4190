package dev.serval.transport.grpc;

import static dev.serval.transport.grpc.GrpcInferenceTest.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.util.concurrent.ListenableFuture;
import dev.serval.features.Event;
import dev.serval.protocol.events.EventServiceGrpc;
import dev.serval.protocol.events.EventServiceGrpc.EventServiceBlockingStub;
import dev.serval.protocol.events.RecordEventsRequest;
import dev.serval.protocol.events.RecordEventsResponse;
import dev.serval.server.ServerOptions;
import dev.serval.testing.RecordingFeatureStore;
import dev.serval.testing.TestServer;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code serval.events.EventService/RecordEvents} end to end over a loopback socket: the REST
 * endpoint's rules, policy and messages, as gRPC statuses.
 */
class GrpcEventsTest {
    @TempDir
    static Path repository; // no models: ingest needs none

    private static final RecordingFeatureStore STORE = new RecordingFeatureStore();
    private static TestServer server;
    private static ManagedChannel channel;
    private static EventServiceBlockingStub stub;

    @BeforeAll
    static void start() {
        server = TestServer.start(ServerOptions.defaults(repository), STORE);
        channel = GrpcFixtures.channel(server.grpcPort());
        stub = events(channel);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        GrpcFixtures.close(channel);
        server.close();
        STORE.close();
    }

    @BeforeEach
    void healStore() {
        STORE.failWith(null);
    }

    private static EventServiceBlockingStub events(ManagedChannel channel) {
        return EventServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private static dev.serval.protocol.events.Event.Builder event(String cardId, double amount, String merchant,
                                                                  long timestamp) {
        return dev.serval.protocol.events.Event.newBuilder()
                .setCardId(cardId).setAmount(amount).setMerchant(merchant).setTimestamp(timestamp);
    }

    @Test
    void recordEvents_recordsTheBatchInOrder() {
        int before = STORE.events().size();
        RecordEventsRequest request = RecordEventsRequest.newBuilder()
                .addEvents(event("c1", 12.5, "m7", 1732390000000L))
                .addEvents(event("c2", 0, "m8", 0))
                .build();

        assertThat(stub.recordEvents(request).getRecorded()).isEqualTo(2);
        assertThat(STORE.events().subList(before, STORE.events().size())).containsExactly(
                new Event("c1", "m7", 12.5, 1732390000000L),
                new Event("c2", "m8", 0, 0));
    }

    @Test
    void recordEvents_waitsForRoom_whileARestBodyHoldsTheInflightBudget() throws Exception {
        try (RecordingFeatureStore store = new RecordingFeatureStore();
             TestServer tight = TestServer.start(ServerOptions.defaults(repository).withMaxInflightBytes(1024), store)) {
            ManagedChannel tightChannel = GrpcFixtures.channel(tight.grpcPort());
            try (Socket rest = new Socket("127.0.0.1", tight.uri("/").getPort())) {
                // A REST batch whose declared 1,000 bytes never come: its reservation fills the 1 KB budget.
                rest.getOutputStream().write(("POST /v2/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json"
                        + "\r\nContent-Length: 1000\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
                rest.getOutputStream().flush();
                Thread.sleep(200);
                ListenableFuture<RecordEventsResponse> call = EventServiceGrpc.newFutureStub(tightChannel)
                        .withDeadlineAfter(60, TimeUnit.SECONDS)
                        .recordEvents(RecordEventsRequest.newBuilder().addEvents(event("c9", 3, "m9", 9)).build());
                Thread.sleep(300);
                assertThat(call).as("the batch waits for room").isNotDone();
                assertThat(store.events()).isEmpty();

                rest.close(); // the REST body ends short: its reservation comes back
                assertThat(call.get(30, TimeUnit.SECONDS).getRecorded()).isEqualTo(1);
                assertThat(store.events()).containsExactly(new Event("c9", "m9", 3, 9));
            } finally {
                GrpcFixtures.close(tightChannel);
            }
        }
    }

    @Test
    void emptyBatch_recordsNothing() {
        int before = STORE.events().size();
        assertThat(stub.recordEvents(RecordEventsRequest.getDefaultInstance()).getRecorded()).isZero();
        assertThat(STORE.events()).hasSize(before);
    }

    @Test
    void oneInvalidEvent_rejectsTheWholeBatch_withInvalidArgumentNamingIt() {
        assertRejected(event("c", 1, "m", 1).setCardId(" "), "events[1]: card_id is \" \"; expected a non-blank string");
        assertRejected(event("c", 1, "m", 1).clearCardId(), "events[1]: card_id is \"\"; expected a non-blank string");
        assertRejected(event("c", 1, "m", 1).clearMerchant(), "events[1]: merchant is \"\"; expected a non-blank string");
        assertRejected(event("c", 1, "m", 1).clearAmount(), "events[1]: has no amount; every event needs card_id, "
                + "amount, merchant and timestamp");
        assertRejected(event("c", Double.NaN, "m", 1), "events[1]: amount is NaN; expected a finite number");
        assertRejected(event("c", Double.NEGATIVE_INFINITY, "m", 1),
                "events[1]: amount is -Infinity; expected a finite number");
        assertRejected(event("c", 1, "m", 1).clearTimestamp(), "events[1]: has no timestamp");
        assertRejected(event("c", 1, "m", -5), "events[1]: timestamp is -5; expected epoch milliseconds, not negative");
    }

    private static void assertRejected(dev.serval.protocol.events.Event.Builder bad, String message) {
        int before = STORE.events().size();
        RecordEventsRequest request = RecordEventsRequest.newBuilder()
                .addEvents(event("ok", 1, "m", 1))
                .addEvents(bad)
                .addEvents(event("ok", 2, "m", 2))
                .build();

        assertThatThrownBy(() -> stub.recordEvents(request)).satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT,
                message));
        assertThatThrownBy(() -> stub.recordEvents(request)).hasMessageEndingWith("no event of this batch was recorded");
        assertThat(STORE.events()).as("nothing of the batch is recorded").hasSize(before);
    }

    @Test
    void storeFailure_isUnavailable_andNothingAcknowledged() {
        int before = STORE.events().size();
        STORE.failWith("RocksDB: IO error");

        assertThatThrownBy(() -> stub.recordEvents(RecordEventsRequest.newBuilder().addEvents(event("c", 1, "m", 1)).build()))
                .satisfies(e -> assertStatus(e, Status.Code.UNAVAILABLE,
                        "the feature store could not record the 1 events: RocksDB: IO error"));
        assertThat(STORE.events()).hasSize(before);
    }

    @Test
    void messageOverTheLimit_isResourceExhausted() {
        RecordingFeatureStore own = new RecordingFeatureStore();
        try (TestServer small = TestServer.start(ServerOptions.defaults(repository).withMaxRequestBytes(100), own)) {
            ManagedChannel smallChannel = GrpcFixtures.channel(small.grpcPort());
            try {
                RecordEventsRequest.Builder request = RecordEventsRequest.newBuilder();
                for (int i = 0; i < 10; i++) {
                    request.addEvents(event("card-" + i, i, "merchant", i));
                }
                assertThatThrownBy(() -> events(smallChannel).recordEvents(request.build()))
                        .satisfies(e -> assertStatus(e, Status.Code.RESOURCE_EXHAUSTED, "exceeds maximum"));
                assertThat(own.events()).isEmpty();
            } finally {
                GrpcFixtures.close(smallChannel);
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        } finally {
            own.close();
        }
    }

    @Test
    void withoutFeatureStore_isUnimplemented_sayingSo() throws Exception {
        try (TestServer plain = TestServer.startWithoutFeatureStore(ServerOptions.defaults(repository))) {
            ManagedChannel plainChannel = GrpcFixtures.channel(plain.grpcPort());
            try {
                assertThatThrownBy(() -> events(plainChannel).recordEvents(RecordEventsRequest.getDefaultInstance()))
                        .satisfies(e -> assertStatus(e, Status.Code.UNIMPLEMENTED, "this server has no feature store"));
            } finally {
                GrpcFixtures.close(plainChannel);
            }
        }
    }

    @Test
    void inferenceToken_isRequired_whenConfigured() throws Exception {
        RecordingFeatureStore own = new RecordingFeatureStore();
        ServerOptions options = ServerOptions.defaults(repository)
                .withTokens(Optional.of("infer-secret"), Optional.of("admin-secret"));
        RecordEventsRequest request = RecordEventsRequest.newBuilder().addEvents(event("c", 1, "m", 1)).build();
        try (TestServer secured = TestServer.start(options, own)) {
            ManagedChannel securedChannel = GrpcFixtures.channel(secured.grpcPort());
            try {
                EventServiceBlockingStub anonymous = events(securedChannel);
                assertThatThrownBy(() -> anonymous.recordEvents(request)).satisfies(e -> assertStatus(e,
                        Status.Code.UNAUTHENTICATED, "needs the metadata 'authorization: Bearer <token>'"));
                assertThatThrownBy(() -> withToken(anonymous, "Bearer wrong").recordEvents(request))
                        .satisfies(e -> assertStatus(e, Status.Code.UNAUTHENTICATED, "Bearer"));
                assertThat(own.events()).isEmpty();

                assertThat(withToken(anonymous, "Bearer infer-secret").recordEvents(request).getRecorded()).isEqualTo(1);
                assertThat(withToken(anonymous, "Bearer admin-secret").recordEvents(request).getRecorded()).isEqualTo(1);
                assertThat(own.events()).hasSize(2);
            } finally {
                GrpcFixtures.close(securedChannel);
            }
        } finally {
            own.close();
        }
    }

    private static EventServiceBlockingStub withToken(EventServiceBlockingStub stub, String authorization) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), authorization);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
}
