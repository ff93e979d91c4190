package dev.serval.fraud;

import static dev.serval.fraud.FraudCalls.record;
import static dev.serval.fraud.FraudCalls.scoreGrpc;
import static dev.serval.fraud.FraudCalls.scoreRest;
import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.features.Feature;
import dev.serval.features.FeatureStoreConfig;
import dev.serval.features.FeatureStoreStats;
import dev.serval.features.FeatureStoreStats.BreakerState;
import dev.serval.features.Lookup;
import dev.serval.features.RemoteTier;
import dev.serval.features.TieredFeatureStore;
import dev.serval.features.remote.PostgresTier;
import dev.serval.features.remote.RedisTier;
import dev.serval.features.testing.PostgresServer;
import dev.serval.features.testing.RedisServer;
import dev.serval.fraud.FraudCalls.Scores;
import dev.serval.fraud.FraudCalls.Txn;
import dev.serval.server.ServerOptions;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fraud pipeline end to end, as {@code serval serve} runs it: a tiered feature store (L1 memory,
 * L2 RocksDB) over a real L3 (a redis-server or a PostgreSQL started here on loopback), events
 * posted to {@code /v2/events}, transactions scored over REST JSON and gRPC. Then the faults: Redis
 * killed under load (no request fails, responses say degraded, every acknowledged event reaches Redis
 * once it is back, counted exactly) and PostgreSQL down when the server starts.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class FraudEndToEndTest {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(FraudEndToEndTest.class);
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    static Path dir;
    private static Path repository;

    /** A repository with only the bundled fraud model, so servers start quickly. */
    @BeforeAll
    static void repository() throws IOException {
        repository = dir.resolve("repository");
        Path fraud = Examples.repository().resolve("fraud");
        Files.createDirectories(repository.resolve("fraud/1"));
        Files.copy(fraud.resolve("config.yaml"), repository.resolve("fraud/config.yaml"));
        Files.copy(fraud.resolve("1/model.onnx"), repository.resolve("fraud/1/model.onnx"));
    }

    /**
     * L1 + L2 in {@code l2} over {@code remote}; the breaker and drainer quick, so faults show soon.
     * The read timeout is generous: a busy CI machine must not make a live L3 look slow (degraded);
     * a dead one fails calls at once (connection refused), which is what opens the breaker here.
     */
    private static TieredFeatureStore tiered(Path l2, RemoteTier remote) {
        return TieredFeatureStore.open(FeatureStoreConfig.builder().l2Path(l2).remote(remote)
                .remoteTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(2))
                .breaker(2, Duration.ofMillis(200))
                .writeBehind(500, Duration.ofMillis(20))
                .build());
    }

    /** A store that reads the L3 alone: what another node (or an empty disk) would find there. */
    private static TieredFeatureStore remoteOnly(RemoteTier remote) {
        return TieredFeatureStore.open(FeatureStoreConfig.builder().l1(false).l2Path(null).remote(remote)
                .remoteTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(5)).build());
    }

    private static ManagedChannel channel(TestServer server) {
        return Grpc.newChannelBuilderForAddress("127.0.0.1", server.grpcPort(), InsecureChannelCredentials.create()).build();
    }

    /** Polls {@code condition} until it holds (a state reached, not a time waited for) or fails after a minute. */
    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited a minute for: %s", what).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    /** 40 purchases at 40 merchants within the last minute for a hot card, one two hours ago for a cold one. */
    private static List<Txn> history(long now) {
        List<Txn> events = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            events.add(new Txn("card-hot", 900 + i, "merchant-" + i, now - 50_000 + i * 1000L));
        }
        events.add(new Txn("card-cold", 20, "merchant-0", now - 2 * 3_600_000L));
        return events;
    }

    private static List<Txn> toScore(long now) {
        return List.of(new Txn("card-hot", 30, "merchant-99", now), new Txn("card-cold", 30, "merchant-99", now),
                new Txn("card-never-seen", 30, "merchant-99", now));
    }

    /** Scores the three cards over REST and gRPC: same answers both ways, the history changing the score. */
    private static Scores scoreBothWays(TestServer server, ManagedChannel channel, long now) {
        Scores rest = scoreRest(server, toScore(now));
        Scores grpc = scoreGrpc(channel, toScore(now));
        assertThat(grpc.scores()).containsExactly(rest.scores());
        assertThat(grpc.decisions()).isEqualTo(rest.decisions());
        assertThat(rest.scores()[0]).as("40 purchases in the last minute change the card's score")
                .isNotEqualTo(rest.scores()[1]);
        return rest;
    }

    /** The L3's count of events per card, read through a store of its own. */
    private static float[] remoteCounts(RemoteTier remote, List<String> cards, long now) {
        try (TieredFeatureStore reader = remoteOnly(remote)) {
            long[] at = new long[cards.size()];
            java.util.Arrays.fill(at, now);
            Lookup lookup = reader.lookup(cards, at);
            assertThat(lookup.degraded()).isFalse();
            float[] counts = new float[cards.size()];
            for (int i = 0; i < counts.length; i++) {
                counts[i] = lookup.get(i, Feature.COUNT_TOTAL);
            }
            return counts;
        }
    }

    /** POSTs {@code body}; a transport failure is recorded in {@code failures} and answers null. */
    private static Reply post(TestServer server, String path, String body, List<String> failures) {
        try {
            return server.post(path, body);
        } catch (RuntimeException e) {
            failures.add(path + ": " + e);
            return null;
        }
    }

    @Test
    void redis_eventsThenScores_overRestAndGrpc_andReachRedis() throws Exception {
        long now = System.currentTimeMillis();
        try (RedisServer redis = new RedisServer().start();
             TieredFeatureStore store = tiered(dir.resolve("l2-redis"), new RedisTier(RedisTier.Config.of(redis.uri())))) {
            try (TestServer server = TestServer.start(ServerOptions.defaults(repository), store)) {
                ManagedChannel channel = channel(server);
                try {
                    Scores before = scoreRest(server, toScore(now));
                    assertThat(before.scores()[0]).as("no history yet: every card gets the defaults")
                            .isEqualTo(before.scores()[1]).isEqualTo(before.scores()[2]);
                    record(server, history(now));
                    Scores after = scoreBothWays(server, channel, now);
                    assertThat(after.degraded()).isFalse();
                    assertThat(after.scores()[0]).isNotEqualTo(before.scores()[0]);
                    assertThat(after.scores()[2]).as("an unknown card gets the defaults").isEqualTo(before.scores()[2]);

                    FeatureStoreStats stats = store.stats();
                    assertThat(stats.eventsRecorded()).isEqualTo(41);
                    assertThat(stats.lookups()).as("three rows scored three times").isEqualTo(9);
                    String metrics = server.get("/metrics").body();
                    assertThat(metrics).contains("serval_feature_events_applied_total 41.0")
                            .contains("serval_feature_lookup_rows_total{outcome=\"l1_hit\"}")
                            .contains("serval_feature_breaker_state{state=\"closed\"} 1.0")
                            .contains("serval_feature_write_behind_backlog");
                } finally {
                    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
                }
            }
            await("the write-behind drains to Redis", () -> store.stats().outboxBacklog() == 0);
            assertThat(remoteCounts(new RedisTier(RedisTier.Config.of(redis.uri())), List.of("card-hot", "card-cold"), now))
                    .containsExactly(40f, 1f);
        }
    }

    @Test
    void redisKilledUnderLoad_noRequestFails_degradedWhileDown_everyAcknowledgedEventReachesRedis() throws Exception {
        int cards = 100;
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < cards; i++) {
            ids.add("card-" + i);
        }
        Map<String, LongAdder> acknowledged = new ConcurrentHashMap<>();
        LongAdder events = new LongAdder();
        LongAdder scored = new LongAdder();
        LongAdder degraded = new LongAdder();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        try (RedisServer redis = new RedisServer().start();
             TieredFeatureStore store = tiered(dir.resolve("l2-kill"), new RedisTier(RedisTier.Config.of(redis.uri())));
             TestServer server = TestServer.start(ServerOptions.defaults(repository).withGrpcPort(ServerOptions.GRPC_OFF), store)) {
            // Every card has a history before the fault, so no recording needs Redis to find a base.
            long start = System.currentTimeMillis();
            List<Txn> seed = new ArrayList<>();
            for (String id : ids) {
                seed.add(new Txn(id, 10, "m-seed", start));
            }
            record(server, seed);
            ids.forEach(id -> acknowledged.computeIfAbsent(id, k -> new LongAdder()).increment());
            events.add(cards);

            List<Thread> load = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                load.add(Thread.ofVirtual().start(() -> {
                    AtomicLong clock = new AtomicLong(start);
                    while (!stop.get()) {
                        List<Txn> batch = new ArrayList<>();
                        for (int i = 0; i < 20; i++) {
                            String id = ids.get(ThreadLocalRandom.current().nextInt(cards));
                            batch.add(new Txn(id, ThreadLocalRandom.current().nextInt(1, 500), "m-" + i, clock.incrementAndGet()));
                        }
                        Reply reply = post(server, "/v2/events", FraudCalls.eventsBody(batch), failures);
                        if (reply == null) {
                            continue;
                        }
                        if (reply.status() != 200) {
                            failures.add("events: " + reply);
                            continue;
                        }
                        batch.forEach(e -> acknowledged.get(e.cardId()).increment());
                        events.add(batch.size());
                    }
                }));
                load.add(Thread.ofVirtual().start(() -> {
                    while (!stop.get()) {
                        List<Txn> rows = new ArrayList<>();
                        for (int i = 0; i < 4; i++) {
                            rows.add(new Txn(ids.get(ThreadLocalRandom.current().nextInt(cards)), 120, "m-x",
                                    System.currentTimeMillis()));
                        }
                        Reply reply = post(server, "/v2/models/fraud/infer", FraudCalls.inferBody(rows), failures);
                        if (reply == null) {
                            continue;
                        }
                        if (reply.status() != 200) {
                            failures.add("infer: " + reply);
                            continue;
                        }
                        if (FraudCalls.parseRest(reply.body()).checked(rows.size()).degraded()) {
                            degraded.increment();
                        }
                        scored.increment();
                    }
                }));
            }
            try {
                await("load before the fault", () -> events.sum() >= 1000 && scored.sum() >= 50);
                assertThat(degraded.sum()).as("nothing is degraded while Redis is up").isZero();
                redis.kill();
                long eventsAtKill = events.sum();
                long degradedAtKill = degraded.sum();
                await("degraded responses while Redis is down", () -> degraded.sum() > degradedAtKill + 10);
                await("events acknowledged while Redis is down", () -> events.sum() >= eventsAtKill + 1000);
                assertThat(store.stats().breaker()).isNotEqualTo(BreakerState.CLOSED);
                assertThat(store.stats().outboxBacklog()).as("the events wait in L2 for Redis").isPositive();
                assertThat(server.get("/metrics").body()).contains("serval_feature_breaker_state{state=\"closed\"} 0.0");

                redis.start();
                await("the breaker closes once Redis is back", () -> store.stats().breaker() == BreakerState.CLOSED);
                long eventsAtRestart = events.sum();
                await("events after the restart", () -> events.sum() >= eventsAtRestart + 500);
            } finally {
                stop.set(true);
                for (Thread thread : load) {
                    thread.join(WAIT);
                }
            }
            log.info("Redis killed under load: {} events acknowledged, {} scoring requests, {} degraded, none failed",
                    events.sum(), scored.sum(), degraded.sum());
            assertThat(failures).as("no request failed").isEmpty();
            await("the backlog drains", () -> store.stats().outboxBacklog() == 0);

            float[] inRedis = remoteCounts(new RedisTier(RedisTier.Config.of(redis.uri())), ids, System.currentTimeMillis());
            long total = 0;
            for (int i = 0; i < cards; i++) {
                assertThat((long) inRedis[i]).as("events of %s in Redis", ids.get(i))
                        .isEqualTo(acknowledged.get(ids.get(i)).sum());
                total += (long) inRedis[i];
            }
            assertThat(total).isEqualTo(events.sum());
            assertThat(store.stats().eventsRecorded()).isEqualTo(events.sum());
        }
    }

    @Test
    void postgresDownAtStart_serverStartsDegraded_thenServesFromPostgres_overRestAndGrpc() throws Exception {
        long now = System.currentTimeMillis();
        try (PostgresServer postgres = new PostgresServer(); // not started yet
             TieredFeatureStore store = tiered(dir.resolve("l2-postgres"),
                     new PostgresTier(PostgresTier.Config.of(postgres.jdbcUrl())));
             TestServer server = TestServer.start(ServerOptions.defaults(repository), store)) {
            assertThat(server.get("/v2/health/ready").status()).as("the server is ready without its L3").isEqualTo(200);
            record(server, history(now));
            Scores down = scoreRest(server, toScore(now));
            assertThat(down.degraded()).as("the unknown card's L3 read failed").isTrue();

            postgres.start();
            await("the write-behind drains to PostgreSQL", () -> store.stats().outboxBacklog() == 0
                    && store.stats().breaker() == BreakerState.CLOSED);
            ManagedChannel channel = channel(server);
            try {
                await("a lookup that is not degraded", () -> !scoreRest(server, toScore(now)).degraded());
                Scores up = scoreBothWays(server, channel, now);
                assertThat(up.scores()).containsExactly(down.scores());
            } finally {
                channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            }
            assertThat(remoteCounts(new PostgresTier(PostgresTier.Config.of(postgres.jdbcUrl())),
                    List.of("card-hot", "card-cold"), now)).containsExactly(40f, 1f);
        }
    }
}
