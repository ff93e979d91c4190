package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.features.Event;
import dev.serval.features.FeatureStoreConfig;
import dev.serval.features.TieredFeatureStore;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The feature store of a server without pipeline models opens on first use: over a real socket the
 * first event opens it (RocksDB and all), a failed opening answers 503 with its reason and the next
 * event tries again; closing a store never opened does not open it.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class LazyFeatureStoreTest {
    private static final String BATCH = "[{\"card_id\": \"c1\", \"amount\": 12.5, \"merchant\": \"m\", \"timestamp\": 1000}]";

    @TempDir
    Path repository;
    @TempDir
    Path data;

    private final AtomicInteger openings = new AtomicInteger();

    private Supplier<TieredFeatureStore> opener(Path dir) {
        return () -> {
            openings.incrementAndGet();
            return TieredFeatureStore.open(FeatureStoreConfig.builder().l1(true).l1MaxEntities(1000).l2Path(dir).build());
        };
    }

    @Test
    void theFirstEventOpensTheStore_andItsCountersStartThere() throws Exception {
        Path dir = data.resolve("features");
        try (LazyFeatureStore store = new LazyFeatureStore(opener(dir));
             TestServer server = TestServer.start(ServerOptions.defaults(repository), store)) {
            assertThat(store.isOpen()).isFalse();
            assertThat(Files.exists(dir.resolve("CURRENT"))).as("RocksDB's files before the first event").isFalse();
            assertThat(server.get("/metrics").body()).contains("serval_feature_events_applied_total 0.0");

            Reply recorded = server.post("/v2/events", BATCH);

            assertThat(recorded.status()).as(recorded.body()).isEqualTo(200);
            assertThat(store.isOpen()).isTrue();
            assertThat(Files.exists(dir.resolve("CURRENT"))).as("RocksDB's files").isTrue();
            assertThat(server.get("/metrics").body()).contains("serval_feature_events_applied_total 1.0");
            assertThat(store.lookup(List.of("c1"), new long[] {2000}).rows()).isEqualTo(1);
            assertThat(openings).hasValue(1);
        }
    }

    @Test
    void aFailedOpeningIsAnswered503WithItsReason_andTheNextEventOpensIt() throws Exception {
        Supplier<TieredFeatureStore> real = opener(data.resolve("features"));
        AtomicInteger attempts = new AtomicInteger();
        Supplier<TieredFeatureStore> firstFails = () -> {
            if (attempts.incrementAndGet() == 1) {
                throw new IllegalStateException("--features-dir " + data + ": the lock is held by another process");
            }
            return real.get();
        };
        try (LazyFeatureStore store = new LazyFeatureStore(firstFails);
             TestServer server = TestServer.start(ServerOptions.defaults(repository), store)) {
            Reply refused = server.post("/v2/events", BATCH);
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.error()).contains("could not be opened").contains("the lock is held by another process");
            assertThat(store.isOpen()).isFalse();

            assertThat(server.post("/v2/events", BATCH).status()).isEqualTo(200);
            assertThat(store.isOpen()).isTrue();
        }
    }

    @Test
    void closingAStoreNeverUsedDoesNotOpenIt_andAClosedStoreRefusesWork() {
        LazyFeatureStore store = new LazyFeatureStore(opener(data.resolve("features")));
        store.close();

        assertThat(openings).hasValue(0);
        assertThatThrownBy(() -> store.record(List.of(new Event("c1", "m", 1, 1000))))
                .isInstanceOf(IllegalStateException.class);
        assertThat(openings).hasValue(0);
    }
}
