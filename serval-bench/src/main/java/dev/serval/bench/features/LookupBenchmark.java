package dev.serval.bench.features;

import dev.serval.features.Event;
import dev.serval.features.FeatureStoreConfig;
import dev.serval.features.Lookup;
import dev.serval.features.TieredFeatureStore;
import dev.serval.features.remote.RedisTier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The latency of one entity's lookup answered by each tier, through the public store so the figure
 * includes what a scorer pays (locks, decoding, the remote call's hand-off and timeout):
 * <ul>
 *   <li>{@code L1}: L1 + L2, every entity in L1 (decoded state in Caffeine);</li>
 *   <li>{@code L2}: L2 alone (RocksDB read from its block cache, then decode);</li>
 *   <li>{@code L3_REDIS}: Redis alone (no L1, no L2): one MGET round trip over loopback.</li>
 * </ul>
 * Each invocation looks up the next of {@link #ENTITIES} recorded cards.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class LookupBenchmark {
    static final int ENTITIES = 10_000;

    @Param({"L1", "L2", "L3_REDIS"})
    public String tier;

    private Path dir;
    private LocalRedis redis;
    private TieredFeatureStore store;
    private List<List<String>> keys;
    private long[] at;
    private int next;

    @Setup(Level.Trial)
    public void open() throws Exception {
        try {
            setUp();
        } catch (Exception | Error e) {
            close(); // JMH runs no tear-down after a failed set-up: stop the server and delete the files here
            throw e;
        }
    }

    private void setUp() throws Exception {
        dir = Files.createTempDirectory("serval-bench-lookup-");
        FeatureStoreConfig.Builder config = FeatureStoreConfig.builder();
        switch (tier) {
            case "L1" -> config.l2Path(dir.resolve("l2")).l1MaxEntities(ENTITIES * 2L);
            case "L2" -> config.l2Path(dir.resolve("l2")).l1(false);
            case "L3_REDIS" -> {
                redis = LocalRedis.start();
                // a healthy Redis's latency, not the default 20 ms timeout firing on a busy shared machine
                config.l1(false).remote(new RedisTier(RedisTier.Config.of(redis.uri())))
                        .remoteTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(5));
            }
            default -> throw new IllegalArgumentException("tier is '" + tier + "', expected L1, L2 or L3_REDIS");
        }
        store = TieredFeatureStore.open(config.build());
        long t0 = 1_760_000_000_000L;
        keys = new ArrayList<>(ENTITIES);
        List<Event> batch = new ArrayList<>();
        for (int i = 0; i < ENTITIES; i++) {
            String card = "card-" + i;
            keys.add(List.of(card));
            for (int e = 0; e < 5; e++) {
                batch.add(new Event(card, "merchant-" + (i + e) % 300, 10 + e, t0 + e * 1000L));
            }
            if (batch.size() >= 1000) {
                store.record(batch);
                batch = new ArrayList<>();
            }
        }
        store.record(batch);
        at = new long[] {t0 + 10_000};
    }

    @Benchmark
    public Lookup lookup() {
        Lookup lookup = store.lookup(keys.get(next), at);
        next = next + 1 == ENTITIES ? 0 : next + 1;
        return lookup;
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        Trials.end(store, redis, dir);
    }
}
