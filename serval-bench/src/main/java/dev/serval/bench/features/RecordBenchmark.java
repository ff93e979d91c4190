package dev.serval.bench.features;

import dev.serval.features.Event;
import dev.serval.features.FeatureStoreConfig;
import dev.serval.features.TieredFeatureStore;
import dev.serval.features.remote.RedisTier;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Ingest into the aggregates: events per second through {@code TieredFeatureStore.record}, in
 * batches of {@link #BATCH} (as {@code POST /v2/events} hands them over) spread over {@code entities}
 * cards (each buying from {@code merchantsPerCard} merchants), into L1 + L2 (RocksDB, no fsync)
 * alone ({@code remote=none}) or with Redis as L3 behind write-behind ({@code remote=redis}: the
 * drainer runs on its own thread beside the recording one, as in the server). The score is
 * events/s (one JMH operation is one event).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class RecordBenchmark {
    static final int BATCH = 1000;
    private static final int PREPARED = 64;

    @Param({"none", "redis"})
    public String remote;

    @Param({"100000"})
    public int entities;

    /**
     * How many distinct merchants each card buys from: 5000 (any merchant) soon fills every card's
     * distinct-counterparty set to its cap of 64 (a state of about 0.65 KB), 4 keeps states small
     * (about 0.1 KB), as a card with a few regular shops has.
     */
    @Param({"5000", "4"})
    public int merchantsPerCard;

    private Path dir;
    private LocalRedis redis;
    private TieredFeatureStore store;
    private List<List<Event>> batches;
    private int next;
    private long recorded;
    private long recordedAtStart;
    private long cpuAtStart;
    private long processCpuAtStart;

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final com.sun.management.OperatingSystemMXBean PROCESS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

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
        dir = Files.createTempDirectory("serval-bench-record-");
        FeatureStoreConfig.Builder config = FeatureStoreConfig.builder()
                .l2Path(dir.resolve("l2"))
                .l1MaxEntities(entities * 2L)
                .bloom(entities * 4L, 0.01);
        if (remote.equals("redis")) {
            redis = LocalRedis.start();
            // timeouts for a healthy Redis: the default 20 ms read timeout firing on a busy shared
            // machine would open the breaker and measure another path
            config.remote(new RedisTier(RedisTier.Config.of(redis.uri())))
                    .remoteTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(5))
                    .writeBehind(500, Duration.ofMillis(50));
        } else if (!remote.equals("none")) {
            throw new IllegalArgumentException("remote is '" + remote + "', expected none or redis");
        }
        store = TieredFeatureStore.open(config.build());
        SplittableRandom random = new SplittableRandom(42);
        long clock = 1_760_000_000_000L;
        batches = new ArrayList<>(PREPARED);
        for (int b = 0; b < PREPARED; b++) {
            List<Event> batch = new ArrayList<>(BATCH);
            for (int i = 0; i < BATCH; i++) {
                int card = random.nextInt(entities);
                int merchant = (card * 31 + random.nextInt(merchantsPerCard)) % 5000;
                batch.add(new Event("card-" + card, "merchant-" + merchant,
                        1 + random.nextInt(50_000) / 100.0, clock + b * 50L + i / 20));
            }
            batches.add(batch);
        }
    }

    @Setup(Level.Iteration)
    public void startCpuClock() {
        cpuAtStart = THREADS.getCurrentThreadCpuTime();
        processCpuAtStart = PROCESS.getProcessCpuTime();
        recordedAtStart = recorded;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void record() {
        store.record(batches.get(next));
        next = (next + 1) % PREPARED;
        recorded += BATCH;
    }

    /**
     * CPU time per event, which a busy shared machine disturbs far less than the wall-clock score:
     * of the recording thread alone, and of the whole process (RocksDB's flushes and compactions,
     * the write-behind drainer, GC and JIT included). Printed after each iteration as a line starting
     * with {@code # cpu}.
     */
    @TearDown(Level.Iteration)
    public void stopCpuClock() {
        long events = recorded - recordedAtStart;
        if (events > 0) {
            System.out.printf("%n# cpu remote=%s merchantsPerCard=%d: %.3f us/event on the recording thread,"
                            + " %.3f us/event in the process%n",
                    remote, merchantsPerCard, (THREADS.getCurrentThreadCpuTime() - cpuAtStart) / 1e3 / events,
                    (PROCESS.getProcessCpuTime() - processCpuAtStart) / 1e3 / events);
        }
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        Trials.end(store, redis, dir);
    }
}
