package dev.serval.bench.proc;

import dev.serval.bench.result.Resources;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Samples a process tree's resident set and CPU time at a fixed interval while a load runs, on one
 * named daemon thread, and sums them up for the measured window. Thread-safe: sampling and
 * {@link #summary} may run at once.
 *
 * <p>Design note: CPU time is a counter, so the window's CPU is the counter at its end minus the
 * counter at its start, each interpolated linearly between the two samples around that edge: the
 * error is at most one interval's CPU at each edge, and {@link #sampleNow()} at the edges removes
 * it. Memory is a level: its peak is over every sample (warm-up included: a server's peak is its
 * peak), its mean over the samples inside the window. At most {@link #MAX_SAMPLES} samples are
 * kept; past that only the peak and the last sample are updated.
 */
public final class ResourceSampler implements AutoCloseable {
    static final int MAX_SAMPLES = 50_000;

    private final ProcessTree tree;
    private final long pid;
    private final long intervalNanos;
    private final LongSupplier clock;
    private final Object lock = new Object();
    // guarded by lock
    private final long[] at = new long[MAX_SAMPLES];
    private final long[] rssKb = new long[MAX_SAMPLES];
    private final long[] cpuTicks = new long[MAX_SAMPLES];
    private int count;
    private long peakKb;
    private long lastKb;
    private int mostProcesses;
    private Thread thread;

    /**
     * @param tree     where to read
     * @param pid      the root of the tree to sample
     * @param interval time between samples (at least 10 ms)
     * @param clock    nanoseconds, the same clock as the window edges given to {@link #summary}
     */
    public ResourceSampler(ProcessTree tree, long pid, Duration interval, LongSupplier clock) {
        if (interval.toMillis() < 10) {
            throw new IllegalArgumentException("sample interval " + interval.toMillis() + " ms must be at least 10 ms");
        }
        this.tree = tree;
        this.pid = pid;
        this.intervalNanos = interval.toNanos();
        this.clock = clock;
    }

    /** Samples {@code /proc} for {@code pid} every {@code interval} with {@link System#nanoTime}. */
    public static ResourceSampler of(long pid, Duration interval) {
        return new ResourceSampler(ProcessTree.system(), pid, interval, System::nanoTime);
    }

    /**
     * Takes a first sample and starts sampling in the background.
     *
     * @throws IllegalArgumentException when the process does not exist
     */
    public ResourceSampler start() {
        if (sampleNow().processes() == 0) {
            throw new IllegalArgumentException("process " + pid + " does not exist (nothing to sample)");
        }
        synchronized (lock) {
            if (thread != null) {
                throw new IllegalStateException("already started");
            }
            thread = Thread.ofPlatform().daemon().name("resource-sampler-" + pid).start(this::loop);
        }
        return this;
    }

    private void loop() {
        long next = clock.getAsLong() + intervalNanos;
        while (!Thread.currentThread().isInterrupted()) {
            long wait = next - clock.getAsLong();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
                continue;
            }
            if (sampleNow().processes() == 0) {
                return; // the process ended: nothing more to read
            }
            next += intervalNanos;
        }
    }

    /** Reads the tree now and records it (when it still exists). */
    public ProcessTree.Reading sampleNow() {
        ProcessTree.Reading reading = tree.read(pid);
        long now = clock.getAsLong();
        if (reading.processes() > 0) {
            synchronized (lock) {
                if (count < MAX_SAMPLES) {
                    at[count] = now;
                    rssKb[count] = reading.rssKb();
                    cpuTicks[count] = reading.cpuTicks();
                    count++;
                }
                peakKb = Math.max(peakKb, reading.rssKb());
                lastKb = reading.rssKb();
                mostProcesses = Math.max(mostProcesses, reading.processes());
            }
        }
        return reading;
    }

    /**
     * What the tree used between two instants of the sampler's clock.
     *
     * @param fromNanos the measured window's start
     * @param toNanos   its end (after {@code fromNanos})
     * @param requests  answers that ended inside it, for CPU per 1,000 requests
     * @throws IllegalStateException when fewer than two samples were taken
     */
    public Resources summary(long fromNanos, long toNanos, long requests) {
        if (toNanos <= fromNanos) {
            throw new IllegalArgumentException("window end " + toNanos + " is not after its start " + fromNanos);
        }
        synchronized (lock) {
            if (count < 2) {
                throw new IllegalStateException("only " + count + " sample(s) of process " + pid + ": nothing to sum up");
            }
            double cpuSeconds = Math.max(0, cpuAt(toNanos) - cpuAt(fromNanos)) / ProcessTree.ticksPerSecond();
            long sum = 0;
            int inside = 0;
            for (int i = 0; i < count; i++) {
                if (at[i] >= fromNanos && at[i] <= toNanos) {
                    sum += rssKb[i];
                    inside++;
                }
            }
            double meanKb = inside > 0 ? (double) sum / inside : lastKb;
            return new Resources(pid, tree.commandLine(pid), tree.cpusAllowed(pid), mostProcesses, count,
                    intervalNanos / 1e9, mb(peakKb), mb(meanKb), mb(lastKb), round(cpuSeconds, 3),
                    requests > 0 ? round(cpuSeconds * 1000 / requests, 4) : 0);
        }
    }

    /** The CPU counter at {@code t}, linear between the samples around it (clamped to the first/last). */
    private double cpuAt(long t) {
        if (t <= at[0]) {
            return cpuTicks[0];
        }
        for (int i = 1; i < count; i++) {
            if (at[i] >= t) {
                double share = (double) (t - at[i - 1]) / Math.max(1, at[i] - at[i - 1]);
                return cpuTicks[i - 1] + share * (cpuTicks[i] - cpuTicks[i - 1]);
            }
        }
        return cpuTicks[count - 1];
    }

    private static double mb(double kb) {
        return round(kb / 1024, 1);
    }

    static double round(double value, int decimals) {
        double scale = Math.pow(10, decimals);
        return Math.round(value * scale) / scale;
    }

    /** Stops sampling and waits for the sampling thread (at most a second). */
    @Override
    public void close() {
        Thread t;
        synchronized (lock) {
            t = thread;
        }
        if (t != null) {
            t.interrupt();
            try {
                t.join(TimeUnit.SECONDS.toMillis(1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
