package dev.serval.cli;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.serval.schedule.ServalThreads;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sizes ZGC's heap to the load: raises its soft target ({@code -XX:SoftMaxHeapSize}) while the
 * collector takes much of the CPU, lowers it back once that load has gone, and collects once when
 * the server falls idle, so that the heap a burst of requests left behind goes back to the system.
 *
 * <p>Design note, the soft target: the heap only holds requests in flight, so the launcher keeps it
 * small (128 MB) and ZGC collects early and often. That is cheap while little is in flight, but
 * with hundreds of clients holding requests open the collector ran back to back: 256 closed-loop
 * MobileNetV2 clients on one core spent 22-24% of Serval's CPU in ZGC and got 128-142 answers/s,
 * against 1-2% and 197-206 answers/s with a 256 MB or 512 MB target (A/B on 2026-12-07); a fixed
 * larger target would cost that memory under every load. So a sampler looks once a second at ZGC's
 * threads' share of the process's CPU and at the allocation rate: when the collector took more than
 * {@link #BUSY} of it, the target doubles (up to half the maximum heap; {@link #SETTLE_SECONDS}
 * apart); when the allocation rate has stayed below a quarter of what it was at the last raise for
 * {@link #QUIET_SECONDS} seconds, it halves (not below the launcher's value). It never lowers while
 * the load that needed it lasts, so it does not oscillate. The signal is CPU, not the time ZGC's
 * cycles take: on a busy core a cycle stretches in wall time while costing little (at 256 MB its
 * cycles ran 34-37% of the time at 1-2% of the CPU).
 *
 * <p>Design note, the collection rhythm: a cheap collection still holds the requests it overlaps
 * when the server's CPU is the bottleneck, because ZGC's threads take their share of a core the
 * inference runs on. On binary MobileNetV2 at 70% of saturation (one core, 90 MB/s allocated: the
 * socket reads' copies of the bodies) the 128 MB target gave a minor collection every 0.6 s at 1% of
 * the CPU, and 79 of the 142 requests over 10 ms overlapped one (p50 4.5 ms). So the target also
 * doubles while collections come more often than {@link #FREQUENT_CYCLES} in {@link #CYCLE_WINDOW}
 * busy seconds: the heap then holds a couple of seconds of allocation, what generational
 * collectors are usually sized for. With the target at 768 MB (about one cycle every 2 s) the same
 * run's p99 went from 23-27 ms to 7-9 ms, together with the changes of the launcher (no proactive
 * major collections) and {@link CompilerThreads}.
 *
 * <p>Design note, the idle collection: ZGC returns only free pages, after its uncommit delay, and a
 * server that stops getting requests stops allocating, so nothing starts the collection that would
 * free them: 20 JSON answers of the 200 MB encoder left the heap at about 150 MB in use, and the
 * process 60 MB over its target, for as long as it stayed idle (G1 has a periodic collection for
 * this, JEP 346; ZGC's proactive rule waits for the heap to grow). So after {@link #IDLE_SECONDS}
 * seconds below {@link #IDLE_TICKS_PER_SECOND} of CPU with more than {@link #IDLE_COLLECT_ABOVE}
 * bytes of heap in use, it asks for one collection ({@code System.gc()}, concurrent under ZGC), and
 * no other until the server has been busy again. The CPU counted is the process's outside the
 * collector's threads: the idle collection's own 40-50 ms of CPU would otherwise end the idle spell,
 * and with the threshold near the live set the server collected every 6 s while idle (measured).
 *
 * <p>Only on Linux (the threads' CPU comes from {@code /proc/self/task}), for ZGC with a writable
 * SoftMaxHeapSize below half the maximum heap, and unless {@code -Dserval.heap_tuner=false};
 * otherwise nothing is started. {@link Policy} holds the decisions (tested without a JVM to tune).
 */
final class HeapTuner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HeapTuner.class);
    private static final String FLAG = "SoftMaxHeapSize";
    /** ZGC's share of the process's CPU above which the target is raised. */
    static final double BUSY = 0.10;
    /** Process CPU per second (clock ticks, 1/100 s) below which the collector's share is not judged. */
    static final long MIN_BUSY_TICKS_PER_SECOND = 25;
    private static final Path TASKS = Path.of("/proc/self/task");
    private static final Path PROCESS = Path.of("/proc/self/stat");
    /**
     * Seconds after a raise before another: the cycles under way were planned with the old target,
     * and one second after a raise they still run (measured: without the wait it went 128 -> 256 ->
     * 512 MB in two seconds where 256 MB was enough).
     */
    static final int SETTLE_SECONDS = 5;
    /** Seconds below {@link #IDLE_TICKS_PER_SECOND} of CPU after which the server counts as idle. */
    static final int IDLE_SECONDS = 5;
    /** Process CPU per second (clock ticks) under which a second counts as idle: 3% of a core. */
    static final long IDLE_TICKS_PER_SECOND = 3;
    /**
     * Heap in use above which an idle server collects. The floor's live set is about 12 MB (the
     * example repository, compact object headers), which ZGC's 2 MB pages hold in about 20 MB after a
     * full collection; at 40 MB an idle server kept 30-38 MB in use, and resident, for good.
     */
    static final long IDLE_COLLECT_ABOVE = 24L << 20;
    /** Seconds the allocation rate must stay low before the target is lowered one step. */
    static final int QUIET_SECONDS = 60;
    /** Busy seconds over which collections are counted for the rhythm rule (see the class notes). */
    static final int CYCLE_WINDOW = 10;
    /**
     * Collections (minor or major) in {@link #CYCLE_WINDOW} busy seconds from which the target is
     * raised; judged on a full window, so not in the first seconds after a raise.
     */
    static final int FREQUENT_CYCLES = 6;

    private final ScheduledExecutorService sampler;

    private HeapTuner(ScheduledExecutorService sampler) {
        this.sampler = sampler;
    }

    /** Starts tuning this JVM's soft heap target, when it uses ZGC and the target can be tuned. */
    static Optional<HeapTuner> start() {
        if (!Boolean.parseBoolean(System.getProperty("serval.heap_tuner", "true")) || !Files.isDirectory(TASKS)) {
            return Optional.empty();
        }
        HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        boolean zgc = ManagementFactory.getGarbageCollectorMXBeans().stream().anyMatch(gc -> gc.getName().startsWith("ZGC"));
        long ceiling = Runtime.getRuntime().maxMemory() / 2;
        long floor;
        try {
            if (!zgc || !hotspot.getVMOption(FLAG).isWriteable()) {
                return Optional.empty();
            }
            floor = Long.parseLong(hotspot.getVMOption(FLAG).getValue());
        } catch (IllegalArgumentException e) {
            return Optional.empty(); // no such flag on this JVM
        }
        if (floor <= 0 || floor >= ceiling) {
            return Optional.empty();
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        MemoryMXBean heap = ManagementFactory.getMemoryMXBean();
        // ZGC's beans are "ZGC Minor Cycles", "ZGC Major Cycles" (and "... Pauses", not counted).
        List<GarbageCollectorMXBean> cycleBeans = ManagementFactory.getGarbageCollectorMXBeans().stream()
                .filter(gc -> gc.getName().endsWith("Cycles")).toList();
        long[] lastCycles = {cycles(cycleBeans)};
        Policy policy = new Policy(floor, ceiling);
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(
                ServalThreads.platform("serval-heap-tuner"));
        ProcStat stat = new ProcStat();
        long[] last = new long[4];
        readTicks(stat, last);
        last[2] = threads.getTotalThreadAllocatedBytes();
        last[3] = System.nanoTime();
        long[] now = new long[4];
        boolean[] failed = {false};
        sampler.scheduleAtFixedRate(() -> {
            try {
                readTicks(stat, now);
                now[2] = threads.getTotalThreadAllocatedBytes();
                now[3] = System.nanoTime();
                long processTicks = Math.max(0, now[0] - last[0]);
                double seconds = (now[3] - last[3]) / 1e9;
                // A collector busy beside an idle server costs nothing: only a busy process counts.
                long collectorTicks = Math.max(0, now[1] - last[1]);
                boolean busy = processTicks >= MIN_BUSY_TICKS_PER_SECOND * seconds;
                double share = busy ? collectorTicks / (double) processTicks : 0;
                double allocatedPerSecond = Math.max(0, now[2] - last[2]) / seconds;
                long cycles = cycles(cycleBeans);
                long cyclesNow = busy ? Math.max(0, cycles - lastCycles[0]) : 0;
                lastCycles[0] = cycles;
                long before = policy.target();
                long after = policy.sample(share, allocatedPerSecond, cyclesNow);
                boolean idle = policy.idle(Math.max(0, processTicks - collectorTicks) / seconds,
                        heap.getHeapMemoryUsage().getUsed());
                System.arraycopy(now, 0, last, 0, now.length);
                if (idle) {
                    long used = heap.getHeapMemoryUsage().getUsed();
                    System.gc();
                    log.debug("idle: collected the heap, {} MB -> {} MB in use", used >> 20,
                            heap.getHeapMemoryUsage().getUsed() >> 20);
                }
                if (after != before) {
                    hotspot.setVMOption(FLAG, Long.toString(after));
                    log.info("ZGC soft heap target {} MB -> {} MB (the collector took {}% of the last second's CPU, "
                            + "{} collections in the last {} busy seconds; {} MB/s allocated)", before >> 20, after >> 20,
                            Math.round(100 * share), policy.recentCycles(), CYCLE_WINDOW,
                            Math.round(allocatedPerSecond / (1 << 20)));
                }
            } catch (RuntimeException e) {
                // A periodic task that throws is never run again: say so once and keep sampling.
                if (!failed[0]) {
                    failed[0] = true;
                    log.warn("the heap tuner could not sample or set the soft heap target", e);
                }
            }
        }, 1, 1, TimeUnit.SECONDS);
        log.debug("tuning ZGC's soft heap target between {} MB and {} MB", floor >> 20, ceiling >> 20);
        return Optional.of(new HeapTuner(sampler));
    }

    private static long cycles(List<GarbageCollectorMXBean> beans) {
        long total = 0;
        for (GarbageCollectorMXBean bean : beans) {
            total += Math.max(0, bean.getCollectionCount());
        }
        return total;
    }

    /**
     * Reads the CPU time (clock ticks) of the whole process ({@code /proc/self/stat}, ended threads
     * included) into {@code into[0]} and of ZGC's own threads (named Z..., e.g. ZWorkerYoung#0,
     * ZDirector; {@code /proc/self/task}) into {@code into[1]}: the JVM offers no CPU time of its
     * collector threads.
     */
    static void readTicks(ProcStat stat, long[] into) {
        long collector = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(TASKS)) {
            for (Path task : tasks) {
                try {
                    if (stat.read(task.resolve("comm")) && stat.startsWith("Z") && stat.read(task.resolve("stat"))) {
                        collector += ticks(stat);
                    }
                } catch (RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            // leave the total as read so far
        }
        into[0] = stat.read(PROCESS) ? ticks(stat) : 0;
        into[1] = collector;
    }

    /** utime + stime of a {@code /proc/.../stat} line (fields 14 and 15). */
    static long ticks(ProcStat stat) {
        return stat.field(14) + stat.field(15);
    }

    /** Stops the sampler; the target stays where it is. */
    @Override
    public void close() {
        sampler.shutdownNow();
    }

    /**
     * The tuner's decisions, one sample a second. Not thread-safe (the sampler thread owns it).
     */
    static final class Policy {
        private final long floor;
        private final long ceiling;
        private long target;
        private double rateAtRaise;
        private int quietSeconds;
        private int settleSeconds;
        private int idleSeconds;
        private boolean collectedWhileIdle;
        /** Collections per busy second over the last {@link #CYCLE_WINDOW} samples (a ring). */
        private final long[] cycles = new long[CYCLE_WINDOW];
        private int cycleSlot;
        /** Samples in the ring since it was last cleared: the rule judges only a full window. */
        private int cycleSamples;

        /** @param floor the launcher's target, never gone below; {@code ceiling} never gone above */
        Policy(long floor, long ceiling) {
            this.floor = floor;
            this.ceiling = ceiling;
            this.target = floor;
            // ZGC's warm-up cycles and the first requests' allocations come in a burst right after
            // start (measured: 13% of the CPU and 6 collections in the first 3 s): not a load to size for.
            this.settleSeconds = CYCLE_WINDOW;
        }

        long target() {
            return target;
        }

        /**
         * Whether to collect now: true once per idle spell (see the class notes).
         *
         * @param ticksPerSecond the process's CPU over the last second outside the collector's threads,
         *                       in clock ticks
         * @param heapUsed       bytes of heap in use now
         */
        boolean idle(double ticksPerSecond, long heapUsed) {
            if (ticksPerSecond >= IDLE_TICKS_PER_SECOND) {
                idleSeconds = 0;
                collectedWhileIdle = false;
                return false;
            }
            if (++idleSeconds < IDLE_SECONDS || collectedWhileIdle || heapUsed <= IDLE_COLLECT_ABOVE) {
                return false;
            }
            collectedWhileIdle = true;
            return true;
        }

        /** Collections counted over the last {@link #CYCLE_WINDOW} samples. */
        long recentCycles() {
            long total = 0;
            for (long c : cycles) {
                total += c;
            }
            return total;
        }

        /**
         * @param share            ZGC's threads' share of the process's CPU over the last second
         *                         (0 when the process was nearly idle)
         * @param allocatedPerSecond bytes allocated per second over the last second
         * @param collections      collections (minor and major) that ended in the last second, 0
         *                         when the process was nearly idle
         * @return the target from now on
         */
        long sample(double share, double allocatedPerSecond, long collections) {
            if (settleSeconds > 0) {
                if (--settleSeconds == 0) {
                    Arrays.fill(cycles, 0); // those collections came at the old target
                    cycleSamples = 0;
                }
                return target;
            }
            cycles[cycleSlot] = collections;
            cycleSlot = (cycleSlot + 1) % CYCLE_WINDOW;
            cycleSamples = Math.min(CYCLE_WINDOW, cycleSamples + 1);
            boolean frequent = cycleSamples == CYCLE_WINDOW && recentCycles() >= FREQUENT_CYCLES;
            if ((share > BUSY || frequent) && target < ceiling) {
                target = Math.min(ceiling, target * 2);
                rateAtRaise = Math.max(rateAtRaise, allocatedPerSecond);
                quietSeconds = 0;
                settleSeconds = SETTLE_SECONDS;
            } else if (target > floor && allocatedPerSecond < rateAtRaise / 4) {
                if (++quietSeconds >= QUIET_SECONDS) {
                    target = Math.max(floor, target / 2);
                    rateAtRaise = target == floor ? 0 : rateAtRaise;
                    quietSeconds = 0;
                }
            } else {
                quietSeconds = 0;
            }
            return target;
        }
    }
}
