package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.features.Event;
import dev.serval.features.FeatureStore;
import dev.serval.features.Lookup;
import dev.serval.protocol.events.EventServiceGrpc;
import dev.serval.protocol.events.RecordEventsRequest;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import dev.serval.transport.RequestGate;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Event ingest and graceful shutdown, over real sockets: a batch the store is still recording when
 * the shutdown begins is answered 200 before the server stops, batches after it are refused 503 /
 * UNAVAILABLE unrecorded, and the server leaves the store, which it does not own, open.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class EventsShutdownTest {
    private static final String BATCH = "[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}]";

    /** Holds each batch in {@link #record} until released, as a slow disk would. */
    private static final class HeldStore implements FeatureStore {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final List<Event> recorded = new CopyOnWriteArrayList<>();
        volatile boolean closed;

        @Override
        public void record(List<Event> events) {
            entered.countDown();
            try {
                if (!release.await(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("the test never released the batch");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            recorded.addAll(events);
        }

        @Override
        public Lookup lookup(List<String> entities, long[] atMillis) {
            return new Lookup(new float[entities.size() * Lookup.WIDTH], entities.size(), false);
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void shutdown_answersTheBatchBeingRecorded_refusesNewOnes_andLeavesTheStoreOpen(@TempDir Path repository)
            throws Exception {
        HeldStore store = new HeldStore();
        TestServer server = TestServer.start(ServerOptions.defaults(repository), store);
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.grpcPort(),
                InsecureChannelCredentials.create()).build();
        try {
            CompletableFuture<Reply> held = CompletableFuture.supplyAsync(() -> server.post("/v2/events", BATCH),
                    command -> Thread.ofVirtual().start(command));
            assertThat(store.entered.await(60, TimeUnit.SECONDS)).as("the batch reached the store").isTrue();

            CompletableFuture<Boolean> shutdown = CompletableFuture.supplyAsync(
                    () -> server.server().shutdown(Duration.ofSeconds(60)), command -> Thread.ofVirtual().start(command));
            await("the shutdown began", () -> !server.server().isAcceptingRequests());

            Reply refused = server.post("/v2/events", BATCH);
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.error()).isEqualTo(RequestGate.SHUTTING_DOWN);
            assertThatThrownBy(() -> EventServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .recordEvents(RecordEventsRequest.newBuilder().addEvents(dev.serval.protocol.events.Event.newBuilder()
                            .setCardId("c").setAmount(1).setMerchant("m").setTimestamp(1)).build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
            assertThat(shutdown).as("the shutdown waits for the batch being recorded").isNotDone();

            store.release.countDown();
            Reply answer = held.get(60, TimeUnit.SECONDS);
            assertThat(answer.status()).as(answer.body()).isEqualTo(200);
            assertThat(answer.body()).isEqualTo("{\"recorded\":1}");
            assertThat(shutdown.get(60, TimeUnit.SECONDS)).as("every admitted request was answered").isTrue();
            assertThat(store.recorded).as("only the admitted batch").containsExactly(new Event("c", "m", 1, 1));
            assertThat(store.closed).as("the caller owns the store").isFalse();
        } finally {
            store.release.countDown();
            channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            server.close();
            store.close();
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 3000 && !condition.getAsBoolean(); i++) {
            Thread.sleep(10);
        }
        assertThat(condition.getAsBoolean()).as(what).isTrue();
    }
}
