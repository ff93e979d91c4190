package dev.serval.features;

import static dev.serval.features.TieredFeatureStoreTest.T0;
import static dev.serval.features.TieredFeatureStoreTest.feature;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.serval.features.FeatureStoreStats.BreakerState;
import dev.serval.features.testing.LoopbackServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * L1 + L2 + L3 composed through {@link FeatureStoreConfig} over a real remote server that the
 * subclass starts on loopback (redis-server, PostgreSQL) and can kill, restart, pause (SIGSTOP) and
 * resume. The breaker's clock is a {@link FakeTicker}: an open breaker waits for the test to move
 * it, so nothing here depends on how fast the machine is; background work is awaited by bounded
 * polling.
 *
 * <p>Each test works in its own namespace of the shared server (a key prefix, a table), so no test
 * sees another's entities.
 */
abstract class RealTierComposition {
    static final Duration OPEN_FOR = Duration.ofSeconds(30);
    /** Generous: a read of a live server must not time out on a loaded machine (a fresh client connects first). */
    static final Duration READ_TIMEOUT = Duration.ofSeconds(3);
    static final Duration WRITE_TIMEOUT = Duration.ofSeconds(3);
    /** The read timeout of the hung-server test, which waits it out on every read. */
    static final Duration HUNG_READ_TIMEOUT = Duration.ofMillis(150);
    private static final AtomicInteger namespaces = new AtomicInteger();

    @TempDir
    Path dir;

    final FakeTicker ticker = new FakeTicker();
    final String namespace = "composed_" + namespaces.incrementAndGet();

    /** A new client of the server for {@code namespace} (the store takes ownership of it). */
    abstract RemoteTier newTier(String namespace);

    /** The L3's server, which the fault tests kill, restart, pause and resume. */
    abstract LoopbackServer server();

    /**
     * L1 + L2 (in {@code l2}) + the real L3; the breaker opens after 2 failures in a row, for 30 fake
     * seconds; the drainer looks at the outbox every 10 ms.
     */
    FeatureStoreConfig.Builder composed(String l2) {
        return FeatureStoreConfig.builder()
                .l2Path(dir.resolve(l2))
                .remote(newTier(namespace))
                .remoteTimeouts(READ_TIMEOUT, WRITE_TIMEOUT)
                .breaker(2, OPEN_FOR)
                .writeBehind(100, Duration.ofMillis(10))
                .ticker(ticker);
    }

    /** Waits for what a background thread does; the deadline is a safety net, not a measured time. */
    static void eventually(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("still not true after 60 s: " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for: " + what, e);
            }
        }
    }

    /** The states L3 holds for {@code entities}, read by a client of its own (null where absent). */
    Map<String, EntityState> inL3(List<String> entities) {
        Map<String, EntityState> states = new LinkedHashMap<>();
        try (RemoteTier reader = newTier(namespace)) {
            List<byte[]> values = reader.getAll(entities, Duration.ofSeconds(10));
            for (int i = 0; i < entities.size(); i++) {
                byte[] value = values.get(i);
                states.put(entities.get(i), value == null ? null : StateCodec.decode(value, entities.get(i) + " in L3"));
            }
        }
        return states;
    }

    /** The events L3's states of {@code entities} count, asserting none still awaits its remote base. */
    long eventsInL3(List<String> entities) {
        long events = 0;
        for (Map.Entry<String, EntityState> entry : inL3(entities).entrySet()) {
            EntityState state = entry.getValue();
            if (state != null) {
                assertThat(state.unsyncedBase).as("%s in L3 still awaits its base", entry.getKey()).isFalse();
                events += state.countTotal;
            }
        }
        return events;
    }

    /**
     * Moves the breaker's clock past its open period, again whenever a probe failed (a restarted
     * server may refuse the first one while the client reconnects), until a probe closes it.
     */
    void awaitRecovery(TieredFeatureStore store) {
        eventually("the breaker closed again", () -> {
            if (store.stats().breaker() == BreakerState.OPEN) {
                ticker.advance(OPEN_FOR);
                store.lookup(List.of("probe"), new long[] {T0});
            }
            return store.stats().breaker() == BreakerState.CLOSED;
        });
    }

    static List<String> cards(int n) {
        List<String> cards = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            cards.add("card-" + i);
        }
        return cards;
    }

    @Test
    void composed_promotesAnL3ValueIntoL2AndL1() {
        EntityState history = new EntityState();
        for (int i = 0; i < 4; i++) {
            history.add(new Event("card-9", "m" + i, 10, T0 - 10_000 + i));
        }
        try (RemoteTier writer = newTier(namespace)) {
            writer.putAll(Map.of("card-9", StateCodec.encode(history)), Duration.ofSeconds(10));
        }

        try (TieredFeatureStore store = TieredFeatureStore.open(composed("a").build())) {
            Lookup first = store.lookup(List.of("card-9", "nobody"), new long[] {T0, T0});
            assertThat(first.get(0, Feature.COUNT_TOTAL)).isEqualTo(4f);
            assertThat(first.get(1, Feature.COUNT_TOTAL)).isZero();
            assertThat(first.degraded()).isFalse();
            assertThat(store.stats().l3Hits()).isEqualTo(1);
            assertThat(store.stats().misses()).isEqualTo(1);

            assertThat(feature(store, "card-9", T0, Feature.SUM_1M)).isEqualTo(40f);
            assertThat(store.stats().l1Hits()).as("promoted into L1").isEqualTo(1);
        }

        server().kill();
        try (TieredFeatureStore store = TieredFeatureStore.open(composed("a").build())) {
            Lookup lookup = store.lookup(List.of("card-9"), new long[] {T0});

            assertThat(lookup.get(0, Feature.COUNT_TOTAL)).as("promoted into L2").isEqualTo(4f);
            assertThat(lookup.degraded()).as("L3 (down) was not needed").isFalse();
            assertThat(store.stats().l2Hits()).isEqualTo(1);
            assertThat(store.stats().remoteFailures()).isZero();
        } finally {
            server().start();
        }
    }

    @Test
    void writeBehind_survivesAStoreRestart_andDrainsEveryEventOnceL3IsBack() {
        List<String> cards = cards(30);
        long recorded = 0;
        server().kill();
        try {
            try (TieredFeatureStore store = TieredFeatureStore.open(composed("a").build())) {
                for (int batch = 0; batch < 20; batch++) {
                    List<Event> events = new ArrayList<>();
                    for (int e = 0; e <= batch; e++) {
                        events.add(new Event(cards.get((e * 7 + batch) % 30), "m" + e, 1, T0 + batch * 100L));
                    }
                    store.record(events);
                    recorded += events.size();
                }
                assertThat(store.stats().outboxBacklog()).isEqualTo(30);
                assertThat(store.stats().drained()).isZero();
            }
        } finally {
            server().start();
        }
        assertThat(eventsInL3(cards)).as("nothing reached L3 while it was down").isZero();

        try (TieredFeatureStore store = TieredFeatureStore.open(composed("a").build())) {
            assertThat(store.stats().outboxBacklog()).as("left by the first store").isEqualTo(30);

            eventually("the backlog drained", () -> store.stats().outboxBacklog() == 0);

            assertThat(eventsInL3(cards)).as("every acknowledged event reached L3").isEqualTo(recorded);
            assertThat(feature(store, "card-0", T0 + 2_000, Feature.COUNT_TOTAL))
                    .as("answered from L2 after the restart")
                    .isEqualTo(inL3(List.of("card-0")).get("card-0").countTotal);
        }
    }

    @Test
    void l3KilledUnderLoad_noCallerFails_lookupsDegrade_andEveryAcknowledgedEventReachesL3() throws Exception {
        int threads = 3;
        List<String> cards = cards(50);
        AtomicLong acknowledged = new AtomicLong();
        AtomicLong degraded = new AtomicLong();
        AtomicBoolean running = new AtomicBoolean(true);
        try (TieredFeatureStore store = TieredFeatureStore.open(composed("a").build());
             ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                workers.add(pool.submit(() -> {
                    for (long i = 0; running.get(); i++) {
                        List<Event> events = new ArrayList<>();
                        for (int e = 0; e < 10; e++) {
                            events.add(new Event(cards.get((int) ((i * 7 + e * 3 + thread) % cards.size())),
                                    "m" + (e + thread), 1 + e, T0 + i));
                        }
                        store.record(events);
                        acknowledged.addAndGet(events.size());
                        // a known card (local) and a stranger (asks L3 while the breaker lets it)
                        Lookup lookup = store.lookup(List.of(cards.get((int) (i % cards.size())), "stranger-" + thread),
                                new long[] {T0 + i, T0 + i});
                        if (lookup.degraded()) {
                            degraded.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            eventually("load before the kill", () -> acknowledged.get() >= 3_000);
            eventually("some written behind", () -> store.stats().drained() > 0);

            server().kill();
            try {
                eventually("the breaker opened", () -> store.stats().breaker() == BreakerState.OPEN);
                long atOpen = acknowledged.get();
                long degradedAtOpen = degraded.get();
                eventually("load while L3 is down", () -> acknowledged.get() >= atOpen + 3_000
                        && degraded.get() > degradedAtOpen + 100);
                assertThat(store.stats().outboxBacklog()).as("marks wait in L2").isPositive();
            } finally {
                server().start();
            }
            awaitRecovery(store);
            long atRecovery = acknowledged.get();
            eventually("load after the restart", () -> acknowledged.get() >= atRecovery + 3_000);

            running.set(false);
            for (Future<?> worker : workers) {
                worker.get(); // a caller that failed would throw here
            }
            eventually("the backlog drained", () -> store.stats().outboxBacklog() == 0);

            assertThat(store.stats().remoteFailures()).as("L3 did fail").isPositive();
            assertThat(store.stats().eventsRecorded()).isEqualTo(acknowledged.get());
            assertThat(eventsInL3(cards)).as("every acknowledged event is in L3").isEqualTo(acknowledged.get());
        }
    }

    @Test
    void l3Hung_readsTimeOut_theBreakerSkipsIt_andAfterResumeItRecovers() {
        try (TieredFeatureStore store = TieredFeatureStore.open(composed("a")
                .remoteTimeouts(HUNG_READ_TIMEOUT, WRITE_TIMEOUT)
                .writeBehind(100, Duration.ofHours(1)).build())) {
            store.record(List.of(new Event("card-1", "shop", 5, T0)));
            // the client is connected, and the breaker closed with no failure counted, before the pause
            eventually("a read of L3 within " + HUNG_READ_TIMEOUT.toMillis() + " ms", () -> {
                if (store.stats().breaker() == BreakerState.OPEN) {
                    ticker.advance(OPEN_FOR);
                }
                return !store.lookup(List.of("warm-up"), new long[] {T0}).degraded();
            });
            long failuresBefore = store.stats().remoteFailures();

            server().pause();
            try {
                for (int i = 0; i < 2; i++) {
                    String stranger = "stranger-" + i;
                    Lookup lookup = assertTimeoutPreemptively(Duration.ofSeconds(10),
                            () -> store.lookup(List.of(stranger, "card-1"), new long[] {T0, T0}),
                            "a lookup waited on the hung L3 far past its read timeout");
                    assertThat(lookup.degraded()).isTrue();
                    assertThat(lookup.get(0, Feature.COUNT_TOTAL)).isZero();
                    assertThat(lookup.get(1, Feature.COUNT_TOTAL)).as("answered from L1").isEqualTo(1f);
                }
                assertThat(store.stats().remoteFailures() - failuresBefore).as("two read timeouts").isEqualTo(2);
                assertThat(store.stats().breaker()).isEqualTo(BreakerState.OPEN);

                Lookup skipped = store.lookup(List.of("stranger-2"), new long[] {T0});
                assertThat(skipped.degraded()).isTrue();
                assertThat(store.stats().remoteFailures() - failuresBefore).as("skipped, not asked").isEqualTo(2);
                store.record(List.of(new Event("card-2", "shop", 7, T0)));
            } finally {
                server().resume();
            }

            awaitRecovery(store);
            assertThat(store.lookup(List.of("stranger-3"), new long[] {T0}).degraded()).isFalse();
            eventually("written behind after the recovery", () -> {
                Map<String, EntityState> states = inL3(List.of("card-1", "card-2"));
                return states.get("card-1") != null && states.get("card-2") != null
                        && states.get("card-2").countTotal == 1;
            });
        }
    }
}
