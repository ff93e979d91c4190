package dev.serval.cli;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.serval.schedule.ServalThreads;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves ZGC's soft heap target ({@code -XX:SoftMaxHeapSize}) with the load: up while the collector
 * runs most of the time, back down to where the launcher set it once the load that needed more has
 * gone.
 *
 * <p>Design note: the heap only holds requests in flight, so the launcher keeps it small (128 MB)
 * and ZGC collects early and often. That is cheap while little is in flight, but with hundreds of
 * clients holding requests open the collector ran back to back: 256 closed-loop MobileNetV2
 * clients on one core spent 22-24% of Serval's CPU in ZGC and got 128-142 answers/s, against 1-2%
 * and 197-206 answers/s with a 256 MB or 512 MB target (A/B on 2026-12-07); a fixed larger target
 * would cost that memory under every load. So a sampler looks once a second at the share of time
 * ZGC's cycles took and at the allocation rate: when cycles took more than {@link #BUSY} of the
 * time, the target doubles (up to half the maximum heap; {@link #SETTLE_SECONDS} apart); when the allocation rate has stayed below
 * a quarter of what it was at the last raise for {@link #QUIET_SECONDS} seconds, it halves (not
 * below the launcher's value). It never lowers while the load that needed it lasts, so it does not
 * oscillate; ZGC gives the pages back after its uncommit delay once the target is low again.
 *
 * <p>Only for ZGC with a writable SoftMaxHeapSize below half the maximum heap, and unless
 * {@code -Dserval.soft_heap_tuner=false}; otherwise nothing is started. {@link Policy} holds the decisions (tested without a JVM to tune).
 */
final class SoftHeapTuner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SoftHeapTuner.class);
    private static final String FLAG = "SoftMaxHeapSize";
    /** Share of wall time with a ZGC cycle running above which the target is raised. */
    static final double BUSY = 0.25;
    /**
     * Seconds after a raise before another: the cycles under way were planned with the old target,
     * and one second after a raise they still run (measured: without the wait it went 128 -> 256 ->
     * 512 MB in two seconds where 256 MB was enough).
     */
    static final int SETTLE_SECONDS = 5;
    /** Seconds the allocation rate must stay low before the target is lowered one step. */
    static final int QUIET_SECONDS = 60;

    private final ScheduledExecutorService sampler;

    private SoftHeapTuner(ScheduledExecutorService sampler) {
        this.sampler = sampler;
    }

    /** Starts tuning this JVM's soft heap target, when it uses ZGC and the target can be tuned. */
    static Optional<SoftHeapTuner> start() {
        if (!Boolean.parseBoolean(System.getProperty("serval.soft_heap_tuner", "true"))) {
            return Optional.empty();
        }
        HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        List<GarbageCollectorMXBean> cycles = ManagementFactory.getGarbageCollectorMXBeans().stream()
                .filter(gc -> gc.getName().startsWith("ZGC") && gc.getName().endsWith("Cycles")).toList();
        long ceiling = Runtime.getRuntime().maxMemory() / 2;
        long floor;
        try {
            if (cycles.isEmpty() || !hotspot.getVMOption(FLAG).isWriteable()) {
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
        Policy policy = new Policy(floor, ceiling);
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(
                ServalThreads.platform("serval-soft-heap"));
        long[] last = {cycleMillis(cycles), threads.getTotalThreadAllocatedBytes(), System.nanoTime()};
        sampler.scheduleAtFixedRate(() -> {
            long gcMillis = cycleMillis(cycles);
            long allocated = threads.getTotalThreadAllocatedBytes();
            long now = System.nanoTime();
            double seconds = (now - last[2]) / 1e9;
            long before = policy.target();
            long after = policy.sample((gcMillis - last[0]) / 1e3 / seconds, (allocated - last[1]) / seconds);
            last[0] = gcMillis;
            last[1] = allocated;
            last[2] = now;
            if (after != before) {
                hotspot.setVMOption(FLAG, Long.toString(after));
                log.info("ZGC soft heap target {} MB -> {} MB (its cycles ran {}% of the last second; {} MB/s allocated)",
                        before >> 20, after >> 20, Math.round(100 * policy.lastBusy()),
                        Math.round(policy.lastRate() / (1 << 20)));
            }
        }, 1, 1, TimeUnit.SECONDS);
        log.debug("tuning ZGC's soft heap target between {} MB and {} MB", floor >> 20, ceiling >> 20);
        return Optional.of(new SoftHeapTuner(sampler));
    }

    private static long cycleMillis(List<GarbageCollectorMXBean> cycles) {
        long sum = 0;
        for (GarbageCollectorMXBean gc : cycles) {
            sum += Math.max(0, gc.getCollectionTime());
        }
        return sum;
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
        private double lastBusy;
        private double lastRate;

        /** @param floor the launcher's target, never gone below; {@code ceiling} never gone above */
        Policy(long floor, long ceiling) {
            this.floor = floor;
            this.ceiling = ceiling;
            this.target = floor;
        }

        long target() {
            return target;
        }

        double lastBusy() {
            return lastBusy;
        }

        double lastRate() {
            return lastRate;
        }

        /**
         * @param busy             share of the last second that ZGC cycles ran (may exceed 1 when
         *                         a young and an old cycle overlap)
         * @param allocatedPerSecond bytes allocated per second over the last second
         * @return the target from now on
         */
        long sample(double busy, double allocatedPerSecond) {
            lastBusy = busy;
            lastRate = allocatedPerSecond;
            if (settleSeconds > 0) {
                settleSeconds--;
                return target;
            }
            if (busy > BUSY && target < ceiling) {
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
