package dev.serval.bench.features;

import dev.serval.features.Event;
import dev.serval.features.FeatureStoreConfig;
import dev.serval.features.TieredFeatureStore;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
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
import org.openjdk.jmh.annotations.Threads;

/**
 * Ingest from two recording threads at once into one store (L1 + L2, no fsync), as a server
 * recording from several connections does: batches of {@value #BATCH} events over
 * {@code entities} cards, each thread on its own half of the cards ({@code cards=disjoint}) or both
 * on all of them ({@code cards=overlapping}: a few cards of each call are also in the other thread's
 * call in flight). The score is the events/s of both threads together (one operation is one event).
 * After each iteration the process's CPU time per event is printed as a line starting with
 * {@code # cpu}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(2)
public class ConcurrentRecordBenchmark {
    static final int BATCH = 1000;
    private static final int PREPARED = 64;
    private static final com.sun.management.OperatingSystemMXBean PROCESS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    @Param({"disjoint", "overlapping"})
    public String cards;

    @Param({"100000"})
    public int entities;

    /** As in {@link RecordBenchmark}: 5000 fills each card's counterparty set to its cap, 4 keeps it small. */
    @Param({"5000"})
    public int merchantsPerCard;

    private Path dir;
    private TieredFeatureStore store;
    private final AtomicInteger threadIndex = new AtomicInteger();
    private final LongAdder recorded = new LongAdder();
    private long recordedAtStart;
    private long processCpuAtStart;

    /** One recording thread's prepared batches. */
    @State(Scope.Thread)
    public static class Feeder {
        List<List<Event>> batches;
        int next;

        @Setup(Level.Trial)
        public void prepare(ConcurrentRecordBenchmark bench) {
            int thread = bench.threadIndex.getAndIncrement();
            boolean disjoint = switch (bench.cards) {
                case "disjoint" -> true;
                case "overlapping" -> false;
                default -> throw new IllegalArgumentException("cards is '" + bench.cards
                        + "', expected disjoint or overlapping");
            };
            int range = disjoint ? bench.entities / 2 : bench.entities;
            int offset = disjoint ? thread * range : 0;
            SplittableRandom random = new SplittableRandom(42 + thread);
            long clock = 1_760_000_000_000L;
            batches = new ArrayList<>(PREPARED);
            for (int b = 0; b < PREPARED; b++) {
                List<Event> batch = new ArrayList<>(BATCH);
                for (int i = 0; i < BATCH; i++) {
                    int card = offset + random.nextInt(range);
                    int merchant = (card * 31 + random.nextInt(bench.merchantsPerCard)) % 5000;
                    batch.add(new Event("card-" + card, "merchant-" + merchant,
                            1 + random.nextInt(50_000) / 100.0, clock + b * 50L + i / 20));
                }
                batches.add(batch);
            }
        }
    }

    @Setup(Level.Trial)
    public void open() throws Exception {
        try {
            dir = Files.createTempDirectory("serval-bench-record2-");
            store = TieredFeatureStore.open(FeatureStoreConfig.builder()
                    .l2Path(dir.resolve("l2"))
                    .l1MaxEntities(entities * 2L)
                    .bloom(entities * 4L, 0.01)
                    .build());
        } catch (Exception | Error e) {
            close(); // JMH runs no tear-down after a failed set-up
            throw e;
        }
    }

    @Setup(Level.Iteration)
    public void startCpuClock() {
        processCpuAtStart = PROCESS.getProcessCpuTime();
        recordedAtStart = recorded.sum();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void record(Feeder feeder) {
        store.record(feeder.batches.get(feeder.next));
        feeder.next = (feeder.next + 1) % PREPARED;
        recorded.add(BATCH);
    }

    @TearDown(Level.Iteration)
    public void stopCpuClock() {
        long events = recorded.sum() - recordedAtStart;
        if (events > 0) {
            System.out.printf("%n# cpu2 cards=%s merchantsPerCard=%d: %.3f us/event in the process%n",
                    cards, merchantsPerCard, (PROCESS.getProcessCpuTime() - processCpuAtStart) / 1e3 / events);
        }
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        Trials.end(store, null, dir);
    }
}
