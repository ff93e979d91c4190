package dev.serval.features;

import static dev.serval.features.TieredFeatureStoreTest.T0;
import static dev.serval.features.TieredFeatureStoreTest.feature;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.features.FeatureStoreStats.BreakerState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store with a remote tier (an in-memory one with fault injection): read-through, write-behind, breaker. */
class RemoteCompositionTest {
    private static final Duration OPEN_FOR = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private final InMemoryRemoteTier remote = new InMemoryRemoteTier();
    private final FakeTicker ticker = new FakeTicker();

    /** L1 + L2 + L3; the drainer runs every 10 ms; the breaker opens after 2 failures for 30 fake seconds. */
    private FeatureStoreConfig.Builder tiered(String l2) {
        return FeatureStoreConfig.builder()
                .l2Path(dir.resolve(l2))
                .remote(remote)
                .remoteTimeouts(Duration.ofMillis(200), Duration.ofMillis(500))
                .breaker(2, OPEN_FOR)
                .writeBehind(50, Duration.ofMillis(10))
                .ticker(ticker);
    }

    /** Waits for what a background thread does; the deadline is a safety net, not a measured time. */
    private static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("still not true after 20 s: " + what);
            }
            Thread.sleep(5);
        }
    }

    private static EntityState history(int events) {
        EntityState state = new EntityState();
        for (int i = 0; i < events; i++) {
            state.add(new Event("card", "m" + i, 10, T0 - 10_000 + i));
        }
        return state;
    }

    @Test
    void lookup_promotesARemoteValueIntoL2AndL1() {
        remote.seed("card-9", history(4));
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            assertThat(feature(store, "card-9", T0, Feature.COUNT_TOTAL)).isEqualTo(4f);
            assertThat(store.stats().l3Hits()).isEqualTo(1);

            assertThat(feature(store, "card-9", T0, Feature.SUM_1M)).isEqualTo(40f);
            assertThat(store.stats().l1Hits()).as("promoted into L1").isEqualTo(1);
        }
        remote.mode(InMemoryRemoteTier.Mode.DOWN);
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            Lookup lookup = store.lookup(List.of("card-9"), new long[] {T0});

            assertThat(lookup.get(0, Feature.COUNT_TOTAL)).as("promoted into L2").isEqualTo(4f);
            assertThat(store.stats().l2Hits()).isEqualTo(1);
            assertThat(lookup.degraded()).as("L3 was not needed").isFalse();
        }
    }

    @Test
    void lookup_ofTheSameRemoteEntityTwiceAnswersBothRows() {
        remote.seed("card-9", history(4));
        for (boolean l1 : new boolean[] {true, false}) {
            try (TieredFeatureStore store = TieredFeatureStore.open(tiered(l1 ? "with-l1" : "without-l1").l1(l1).build())) {
                int readsBefore = remote.gets.get();
                Lookup lookup = store.lookup(List.of("card-9", "card-9"), new long[] {T0, T0 + 3_600_000});

                assertThat(lookup.get(0, Feature.COUNT_1M)).isEqualTo(4f);
                assertThat(lookup.get(1, Feature.COUNT_1M)).isZero();
                assertThat(lookup.get(1, Feature.COUNT_TOTAL)).isEqualTo(4f);
                assertThat(remote.gets.get() - readsBefore).as("one remote read for the batch").isEqualTo(1);
            }
        }
    }

    @Test
    void record_ofAnEntityOnlyTheRemoteTierKnowsBuildsOnItsHistory() throws Exception {
        remote.seed("card-1", history(5));
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            store.record(List.of(new Event("card-1", "shop", 1, T0)));

            assertThat(feature(store, "card-1", T0, Feature.COUNT_TOTAL)).isEqualTo(6f);
            eventually("written behind", () -> remote.state("card-1").countTotal == 6);
            eventually("outbox empty", () -> store.stats().outboxBacklog() == 0);
            assertThat(store.stats().drained()).isEqualTo(1);
        }
    }

    @Test
    void writeBehind_survivesARestartWithTheRemoteTierDown() throws Exception {
        remote.mode(InMemoryRemoteTier.Mode.DOWN);
        int events = 0;
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            for (int batch = 0; batch < 20; batch++) {
                List<Event> list = new ArrayList<>();
                for (int e = 0; e <= batch; e++) {
                    list.add(new Event("card-" + (e * 7 + batch) % 30, "m" + e, 1, T0 + batch * 100L));
                }
                store.record(list);
                events += list.size();
            }
            assertThat(store.stats().outboxBacklog()).isEqualTo(30);
            assertThat(remote.size()).isZero();
        }

        remote.mode(InMemoryRemoteTier.Mode.UP);
        int recorded = events;
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            assertThat(store.stats().outboxBacklog()).as("left by the first store").isEqualTo(30);

            eventually("the backlog drained", () -> store.stats().outboxBacklog() == 0);

            assertThat(remote.size()).isEqualTo(30);
            assertThat(remote.eventsStored()).as("every acknowledged event reached L3").isEqualTo(recorded);
            assertThat(store.stats().drained()).isEqualTo(30);
        }
    }

    @Test
    void writeBehind_losesNoEventWhileTheRemoteTierFlaps() throws Exception {
        int threads = 2;
        int batches = 100;
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").l1MaxEntities(10).build());
             ExecutorService pool = Executors.newFixedThreadPool(threads + 1)) {
            AtomicBoolean recording = new AtomicBoolean(true);
            Future<?> flapper = pool.submit(() -> {
                boolean down = false;
                while (recording.get()) {
                    down = !down;
                    remote.mode(down ? InMemoryRemoteTier.Mode.DOWN : InMemoryRemoteTier.Mode.UP);
                    ticker.advance(OPEN_FOR);
                    Thread.sleep(3);
                }
                return null;
            });
            List<Future<?>> recorders = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                recorders.add(pool.submit(() -> {
                    for (int b = 0; b < batches; b++) {
                        List<Event> batch = new ArrayList<>();
                        for (int e = 0; e < 10; e++) {
                            batch.add(new Event("card-" + (b * 3 + e + thread) % 40, "m" + e, 1, T0 + b * 10L));
                        }
                        store.record(batch);
                        store.lookup(List.of("card-" + b % 40), new long[] {T0 + b * 10L});
                    }
                    return null;
                }));
            }
            for (Future<?> recorder : recorders) {
                recorder.get();
            }
            recording.set(false);
            flapper.get();
            remote.mode(InMemoryRemoteTier.Mode.UP);
            ticker.advance(OPEN_FOR);

            eventually("the backlog drained", () -> store.stats().outboxBacklog() == 0);
            assertThat(store.stats().remoteFailures()).as("the tier did flap").isPositive();
            assertThat(remote.eventsStored()).isEqualTo(threads * batches * 10L);
            for (int c = 0; c < 40; c++) {
                assertThat(remote.state("card-" + c).unsyncedBase).isFalse();
            }
        }
    }

    @Test
    void backlog_countsEachQueuedEntityOnce_whetherL1HoldsIt_evictedIt_orTheDrainerClearedIt() throws Exception {
        // L1 holds 5 of the 20 cards: the rest are read back from L2, whose outbox then says if they are queued
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").l1MaxEntities(5).build())) {
            for (int c = 0; c < 20; c++) {
                store.record(List.of(new Event("card-" + c, "m", 1, T0)));
            }
            eventually("the first backlog drained", () -> store.stats().outboxBacklog() == 0 && remote.size() == 20);

            remote.mode(InMemoryRemoteTier.Mode.DOWN);
            for (int round = 1; round <= 2; round++) {
                for (int c = 0; c < 20; c++) {
                    store.record(List.of(new Event("card-" + c, "m", 1, T0 + round)));
                }
            }
            eventually("the drainer failed and the breaker opened", () -> store.stats().breaker() == BreakerState.OPEN);

            assertThat(store.stats().outboxBacklog()).as("20 entities queued, each counted once").isEqualTo(20);

            remote.mode(InMemoryRemoteTier.Mode.UP);
            ticker.advance(OPEN_FOR);
            eventually("the backlog drained", () -> store.stats().outboxBacklog() == 0);
            assertThat(remote.eventsStored()).isEqualTo(60);
        }
    }

    @Test
    void breaker_opensSkipsTheRemoteTierAndDegradesLookups() {
        remote.mode(InMemoryRemoteTier.Mode.DOWN);
        // The drainer sleeps (an hour, or until 50 entities wait) and has nothing queued before the
        // breaker opens, so every remote call counted here is this thread's.
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").writeBehind(50, Duration.ofHours(1)).build())) {
            assertThat(store.lookup(List.of("nobody"), new long[] {T0}).degraded()).isTrue();
            assertThat(store.stats().breaker()).isEqualTo(BreakerState.CLOSED);
            assertThat(store.lookup(List.of("nobody"), new long[] {T0}).degraded()).isTrue();
            assertThat(store.stats().breaker()).isEqualTo(BreakerState.OPEN);
            int callsWhenOpened = remote.gets.get() + remote.puts.get();

            store.record(List.of(new Event("card-1", "shop", 5, T0)));
            Lookup skipped = store.lookup(List.of("card-1", "other"), new long[] {T0, T0});

            assertThat(skipped.degraded()).isTrue();
            assertThat(skipped.get(0, Feature.COUNT_TOTAL)).as("answered from L1").isEqualTo(1f);
            assertThat(skipped.get(1, Feature.COUNT_TOTAL)).isZero();
            assertThat(remote.gets.get() + remote.puts.get()).as("no call while open").isEqualTo(callsWhenOpened);
            assertThat(store.stats().degradedLookups()).isEqualTo(3);
            assertThat(store.stats().remoteFailures()).isEqualTo(2);
            assertThat(store.stats().outboxBacklog()).isEqualTo(1);
        }
    }

    @Test
    void breaker_halfOpenProbeClosesItAndTheBacklogDrains() throws Exception {
        remote.mode(InMemoryRemoteTier.Mode.DOWN);
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            for (int i = 0; i < 10; i++) {
                store.record(List.of(new Event("card-" + i, "shop", i, T0 + i)));
            }
            eventually("the breaker opened", () -> store.stats().breaker() == BreakerState.OPEN);
            remote.mode(InMemoryRemoteTier.Mode.UP);
            assertThat(store.lookup(List.of("card-1"), new long[] {T0}).degraded())
                    .as("still open: its period has not passed on the ticker").isTrue();
            assertThat(remote.size()).isZero();

            ticker.advance(OPEN_FOR);

            eventually("the probe closed the breaker", () -> store.stats().breaker() == BreakerState.CLOSED);
            eventually("the backlog drained", () -> store.stats().outboxBacklog() == 0);
            assertThat(remote.eventsStored()).isEqualTo(10);
            assertThat(store.lookup(List.of("card-1"), new long[] {T0 + 20}).degraded()).isFalse();
        }
    }

    @Test
    void breaker_failedProbeKeepsItOpenAndTheBacklog() throws Exception {
        remote.mode(InMemoryRemoteTier.Mode.DOWN);
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            store.record(List.of(new Event("card-1", "shop", 1, T0)));
            eventually("the breaker opened", () -> store.stats().breaker() == BreakerState.OPEN);
            long failures = store.stats().remoteFailures();

            ticker.advance(OPEN_FOR);

            eventually("a probe failed", () -> store.stats().remoteFailures() > failures);
            assertThat(store.stats().breaker()).isEqualTo(BreakerState.OPEN);
            assertThat(store.stats().outboxBacklog()).isEqualTo(1);
        }
    }

    @Test
    void unsyncedBase_isMergedWithTheRemoteHistoryBeforeItIsWritten() throws Exception {
        remote.seed("card-1", history(5));
        remote.mode(InMemoryRemoteTier.Mode.DOWN);
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").breaker(100, OPEN_FOR).build())) {
            store.record(List.of(new Event("card-1", "shop", 1, T0), new Event("card-1", "cafe", 2, T0 + 1)));

            Lookup partial = store.lookup(List.of("card-1"), new long[] {T0 + 2});
            assertThat(partial.get(0, Feature.COUNT_TOTAL)).isEqualTo(2f);
            assertThat(partial.degraded()).as("the row lacks its remote history").isTrue();
            assertThat(remote.state("card-1").countTotal).as("not overwritten while down").isEqualTo(5);

            remote.mode(InMemoryRemoteTier.Mode.UP);

            eventually("merged and written behind", () -> remote.state("card-1").countTotal == 7);
            EntityState stored = remote.state("card-1");
            assertThat(stored.unsyncedBase).isFalse();
            assertThat(stored.sumTotal).isEqualTo(53.0);
            Lookup merged = store.lookup(List.of("card-1"), new long[] {T0 + 2});
            assertThat(merged.get(0, Feature.COUNT_TOTAL)).isEqualTo(7f);
            assertThat(merged.get(0, Feature.DISTINCT_COUNTERPARTIES_1H)).isEqualTo(7f);
            assertThat(merged.degraded()).isFalse();
        }
    }

    @Test
    void unsyncedBase_survivesARestartAndIsMergedAfterIt() throws Exception {
        remote.seed("card-1", history(5));
        remote.mode(InMemoryRemoteTier.Mode.DOWN);
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            store.record(List.of(new Event("card-1", "shop", 1, T0)));
        }
        remote.mode(InMemoryRemoteTier.Mode.UP);
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").build())) {
            eventually("merged and written behind", () -> remote.state("card-1").countTotal == 6);
            assertThat(feature(store, "card-1", T0, Feature.COUNT_TOTAL)).isEqualTo(6f);
        }
    }

    @Test
    void lookup_ofAHungRemoteTierTimesOutDegraded() {
        remote.mode(InMemoryRemoteTier.Mode.HANG);
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a")
                .remoteTimeouts(Duration.ofMillis(50), Duration.ofMillis(50)).build())) {
            Lookup lookup = store.lookup(List.of("card-1"), new long[] {T0});

            assertThat(lookup.degraded()).isTrue();
            assertThat(lookup.get(0, Feature.SECONDS_SINCE_LAST)).isEqualTo(Feature.SECONDS_CAP);
            assertThat(store.stats().remoteFailures()).isEqualTo(1);
        }
        assertThat(remote.closes.get()).as("the store owns the remote tier").isEqualTo(1);
    }

    @Test
    void bloomSkipsRemote_answersNeverSeenEntitiesWithoutARemoteCall() {
        remote.seed("elsewhere", history(3));
        try (TieredFeatureStore store = TieredFeatureStore.open(tiered("a").bloomSkipsRemote(true).build())) {
            assertThat(feature(store, "elsewhere", T0, Feature.COUNT_TOTAL))
                    .as("the setting promises L3 holds only this node's entities").isZero();
            assertThat(remote.gets.get()).isZero();
            assertThat(store.stats().bloomSkips()).isEqualTo(1);
        }
    }

    @Test
    void remoteOnly_recordsThroughAndLooksUpRemotely() {
        try (TieredFeatureStore store = TieredFeatureStore.open(FeatureStoreConfig.builder()
                .l1(false).remote(remote).ticker(ticker).build())) {
            store.record(List.of(new Event("card-1", "shop", 3, T0), new Event("card-2", "shop", 4, T0)));
            assertThat(remote.state("card-1").countTotal).as("written before record returned").isEqualTo(1);

            store.record(List.of(new Event("card-1", "cafe", 5, T0 + 1)));

            Lookup lookup = store.lookup(List.of("card-1", "card-2", "card-3"), new long[] {T0 + 2, T0 + 2, T0 + 2});
            assertThat(lookup.get(0, Feature.SUM_1M)).isEqualTo(8f);
            assertThat(lookup.get(1, Feature.COUNT_TOTAL)).isEqualTo(1f);
            assertThat(lookup.get(2, Feature.COUNT_TOTAL)).isZero();
            assertThat(store.stats().l3Hits()).isEqualTo(2);
            assertThat(store.stats().misses()).isEqualTo(1);
        }
    }

    @Test
    void l1AndRemote_failsARecordItCannotWriteAndForgetsItInL1() {
        try (TieredFeatureStore store = TieredFeatureStore.open(FeatureStoreConfig.builder()
                .remote(remote).ticker(ticker).build())) {
            store.record(List.of(new Event("card-1", "shop", 3, T0)));
            remote.mode(InMemoryRemoteTier.Mode.DOWN);

            assertThatThrownBy(() -> store.record(List.of(new Event("card-1", "shop", 3, T0 + 1))))
                    .isInstanceOf(FeatureStoreException.class)
                    .hasMessageContaining("cannot record")
                    .hasMessageContaining("memory");
            remote.mode(InMemoryRemoteTier.Mode.UP);
            assertThat(feature(store, "card-1", T0 + 1, Feature.COUNT_TOTAL))
                    .as("L1 forgot the unacknowledged event").isEqualTo(1f);
            assertThat(remote.state("card-1").countTotal).isEqualTo(1);

            remote.mode(InMemoryRemoteTier.Mode.DOWN);
            Lookup lookup = store.lookup(List.of("card-2"), new long[] {T0});
            assertThat(lookup.degraded()).isTrue();
        }
    }
}
