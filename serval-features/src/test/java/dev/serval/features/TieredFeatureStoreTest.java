package dev.serval.features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store on local tiers only: L1 + L2 (the embedded default) and L2 alone. */
class TieredFeatureStoreTest {
    static final long T0 = 1_767_225_600_000L;

    @TempDir
    Path dir;

    private TieredFeatureStore open(boolean l1) {
        return TieredFeatureStore.open(FeatureStoreConfig.builder().l1(l1).l2Path(dir.resolve("l2")).build());
    }

    static float feature(FeatureStore store, String entity, long atMillis, Feature feature) {
        return store.lookup(List.of(entity), new long[] {atMillis}).get(0, feature);
    }

    @Test
    void lookup_unknownEntityGetsTheDefaultsWithoutAskingL2() {
        try (TieredFeatureStore store = open(true)) {
            Lookup lookup = store.lookup(List.of("nobody"), new long[] {T0});

            assertThat(lookup.rows()).isEqualTo(1);
            assertThat(lookup.degraded()).isFalse();
            for (Feature feature : Feature.values()) {
                assertThat(lookup.get(0, feature)).as(feature.wireName())
                        .isEqualTo(feature == Feature.SECONDS_SINCE_LAST ? Feature.SECONDS_CAP : 0f);
            }
            assertThat(store.stats().bloomSkips()).isEqualTo(1);
            assertThat(store.stats().l2Hits() + store.stats().misses()).isZero();
        }
    }

    @Test
    void lookup_unknownEntityWithoutL1GetsTheDefaults() {
        try (TieredFeatureStore store = open(false)) {
            assertThat(feature(store, "nobody", T0, Feature.SECONDS_SINCE_LAST)).isEqualTo(Feature.SECONDS_CAP);
            assertThat(store.stats().misses()).isEqualTo(1);
        }
    }

    @Test
    void record_thenLookupAnswersFromL1() {
        try (TieredFeatureStore store = open(true)) {
            store.record(List.of(
                    new Event("card-1", "shop", 10, T0),
                    new Event("card-2", "shop", 99, T0),
                    new Event("card-1", "cafe", 5, T0 + 1_000)));

            Lookup lookup = store.lookup(List.of("card-1", "card-2", "card-3"), new long[] {T0 + 2_000, T0 + 2_000, T0});

            assertThat(lookup.get(0, Feature.COUNT_1M)).isEqualTo(2f);
            assertThat(lookup.get(0, Feature.SUM_1H)).isEqualTo(15f);
            assertThat(lookup.get(0, Feature.DISTINCT_COUNTERPARTIES_1H)).isEqualTo(2f);
            assertThat(lookup.get(0, Feature.SECONDS_SINCE_LAST)).isEqualTo(1f);
            assertThat(lookup.get(1, Feature.SUM_TOTAL)).isEqualTo(99f);
            assertThat(lookup.get(2, Feature.COUNT_TOTAL)).isZero();
            FeatureStoreStats stats = store.stats();
            assertThat(stats.l1Hits()).isEqualTo(2);
            assertThat(stats.lookups()).isEqualTo(3);
            assertThat(stats.eventsRecorded()).isEqualTo(3);
            assertThat(stats.breaker()).isEqualTo(FeatureStoreStats.BreakerState.NONE);
        }
    }

    @Test
    void l2Alone_recordsAndLooksUp() {
        try (TieredFeatureStore store = open(false)) {
            store.record(List.of(new Event("card-1", "shop", 10, T0)));
            store.record(List.of(new Event("card-1", "shop", 20, T0 + 500)));

            assertThat(feature(store, "card-1", T0 + 1_000, Feature.SUM_1M)).isEqualTo(30f);
            assertThat(store.stats().l2Hits()).isEqualTo(1);
        }
    }

    @Test
    void restart_keepsEveryStateInL2AndTheBloomFilterKnowsThem() {
        try (TieredFeatureStore store = open(true)) {
            for (int i = 0; i < 100; i++) {
                store.record(List.of(new Event("card-" + i, "shop", i, T0 + i)));
            }
        }

        try (TieredFeatureStore store = open(true)) {
            for (int i = 0; i < 100; i++) {
                assertThat(feature(store, "card-" + i, T0 + 1_000, Feature.SUM_TOTAL)).isEqualTo(i);
            }
            FeatureStoreStats stats = store.stats();
            assertThat(stats.l2Hits()).as("promoted from L2 on first sight").isEqualTo(100);
            assertThat(stats.bloomSkips()).as("no false negatives after a restart").isZero();

            assertThat(feature(store, "card-7", T0 + 1_000, Feature.COUNT_TOTAL)).isEqualTo(1f);
            assertThat(store.stats().l1Hits()).isEqualTo(1);
        }
    }

    @Test
    void record_concurrentWritersLoseNoEvent() throws Exception {
        int threads = 4;
        int batches = 50;
        try (TieredFeatureStore store = TieredFeatureStore.open(FeatureStoreConfig.builder()
                .l1MaxEntities(3) // forces evictions and reloads from L2 under contention
                .l2Path(dir.resolve("l2")).build());
             ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    for (int b = 0; b < batches; b++) {
                        List<Event> batch = new ArrayList<>();
                        for (int e = 0; e < 10; e++) {
                            batch.add(new Event("card-" + ((b + e) % 8), "m" + thread, 1, T0 + b));
                        }
                        store.record(batch);
                        store.lookup(List.of("card-" + (b % 8)), new long[] {T0 + b});
                    }
                }));
            }
            for (Future<?> future : done) {
                future.get();
            }

            float total = 0;
            for (int c = 0; c < 8; c++) {
                total += feature(store, "card-" + c, T0 + batches, Feature.COUNT_TOTAL);
            }
            assertThat(total).isEqualTo(threads * batches * 10f);
        }
    }

    @Test
    void record_concurrentWritersOfTheSameEntitiesLeaveEveryAcknowledgedEventInL2() throws Exception {
        int threads = 4;
        int batches = 40;
        try (TieredFeatureStore store = TieredFeatureStore.open(FeatureStoreConfig.builder()
                .l1MaxEntities(5) // evictions: states are read back from L2 while other writes are queued
                .l2Path(dir.resolve("l2")).build());
             ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    for (int b = 0; b < batches; b++) {
                        List<Event> batch = new ArrayList<>();
                        for (int e = 0; e < 30; e++) {
                            batch.add(new Event("card-" + ((b * 7 + e + thread) % 20), "m" + e, 1, T0 + b));
                        }
                        store.record(batch);
                    }
                }));
            }
            for (Future<?> future : done) {
                future.get();
            }
        }

        try (TieredFeatureStore store = open(false)) { // L2 alone, after a restart
            float total = 0;
            for (int c = 0; c < 20; c++) {
                total += feature(store, "card-" + c, T0 + batches, Feature.COUNT_TOTAL);
            }
            assertThat(total).isEqualTo(threads * batches * 30f);
        }
    }

    @Test
    void open_unwritableL2DirectoryFailsNamingIt() throws IOException {
        Path file = Files.writeString(dir.resolve("taken"), "a file, not a directory");

        assertThatThrownBy(() -> TieredFeatureStore.open(FeatureStoreConfig.builder().l2Path(file).build()))
                .isInstanceOf(FeatureStoreException.class)
                .hasMessageContaining("L2 (RocksDB) directory " + file);
    }

    @Test
    void open_unwritableL2DirectoryClosesTheRemoteTierItWasGiven() throws IOException {
        Path file = Files.writeString(dir.resolve("taken"), "x");
        InMemoryRemoteTier remote = new InMemoryRemoteTier();

        assertThatThrownBy(() -> TieredFeatureStore.open(FeatureStoreConfig.builder().l2Path(file).remote(remote).build()))
                .isInstanceOf(FeatureStoreException.class);
        assertThat(remote.closes.get()).isEqualTo(1);
    }

    @Test
    void config_rejectsAStoreWithoutADurableTier() {
        assertThatThrownBy(() -> FeatureStoreConfig.builder().build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("needs L2 (l2Path) or a remote tier");
        assertThatThrownBy(() -> FeatureStoreConfig.builder().l2Path(dir).writeBehind(0, java.time.Duration.ofSeconds(1)).build())
                .hasMessage("writeBehindBatch is 0, expected > 0");
        assertThatThrownBy(() -> FeatureStoreConfig.builder().l2Path(dir).bloomSkipsRemote(true).build())
                .hasMessage("bloomSkipsRemote needs L1, L2 and a remote tier");
    }

    @Test
    void lookup_rejectsMismatchedArgumentsAndUseAfterClose() {
        TieredFeatureStore store = open(true);

        assertThatThrownBy(() -> store.lookup(List.of("a", "b"), new long[] {T0}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("2 entities but 1 times");

        store.close();
        store.close();
        assertThatThrownBy(() -> store.lookup(List.of("a"), new long[] {T0}))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> store.record(List.of(new Event("a", "b", 1, T0))))
                .isInstanceOf(IllegalStateException.class);
    }
}
