package dev.serval.schedule;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The largest batch a model's runs take, learned from how long full batches take per row.
 *
 * <p>Design note: a bigger batch is not always cheaper per row. On a GPU it nearly always is; on a
 * CPU with one or two threads it depends on the model. Measured on this project's machines
 * (BENCHMARKS.md): the tiny iris MLP runs 32 rows for little more than the cost of one, while
 * MobileNetV2 at one thread costs 6.1 ms per image alone and 7.5 ms per image in a batch of 32
 * (its activations stop fitting in cache), and the 4-layer encoder goes from 57 to 69 ms per
 * sequence at batch 128. A fixed {@code max_batch_size} therefore either wastes the gain on small
 * models or loses 20% on large ones, and Triton's users tune it by hand per model and machine.
 * This class tunes it at run time instead, by hill climbing over sizes that are powers of two
 * (and {@code max_batch_size} itself):
 * <ul>
 *   <li>A run teaches something about the size under test only if it was nearly full (more than
 *       half of it): a smaller run says the queue was short, not that the ceiling is wrong.</li>
 *   <li>When a whole window of runs passes without one that full, the ceiling is not what limits
 *       the batches, the load is: it steps down to the next size, which changes no run, so that
 *       the comparison happens at the size the load actually produces (ten clients make batches
 *       of about ten, never of 32).</li>
 *   <li>After {@code window} nearly full runs at the ceiling it probes a neighbour (half or
 *       double) for {@code window / 2} of them, and moves there when the neighbour's median cost
 *       per row is lower by more than {@link #MARGIN}. Medians, not means, so that a GC pause or a
 *       descheduled thread does not decide. A probe that gets no full runs (the load cannot fill
 *       the bigger size) is abandoned after {@link #ABANDON_WINDOWS} windows of runs.</li>
 *   <li>A probe that loses doubles the wait before the next one (up to {@link #MAX_BACKOFF}
 *       windows), so a settled model spends a few percent of its runs probing.</li>
 * </ul>
 * It starts at {@code max_batch_size}, which is what the configuration asked for, and never
 * exceeds it. Under light load (one request at a time) it settles low, which changes nothing
 * either: every run has one row whatever the ceiling; when load returns, upward probes find the
 * size again.
 *
 * <p>Thread-safe: {@link #current()} is a volatile read on the batching path; {@link #record} is
 * called by the instance threads after each run and synchronizes.
 */
final class BatchCeiling {
    private static final Logger log = LoggerFactory.getLogger(BatchCeiling.class);

    /**
     * How much cheaper per row a neighbour must be to win. Small on purpose: medians of full runs
     * are steady to about a percent, neighbouring sizes of MobileNetV2 differ by 2 to 5%, and a
     * move between two sizes that cost nearly the same costs nearly nothing.
     */
    static final double MARGIN = 0.01;
    /** The longest wait between probes, in windows of full runs. */
    static final int MAX_BACKOFF = 16;
    /** Windows of runs a probe may go without enough full runs before it is given up. */
    static final int ABANDON_WINDOWS = 4;

    private final String name;
    private final int[] sizes;
    private final int window;
    private final boolean adaptive;

    private volatile int current;

    // Guarded by this.
    private int index;
    private int probeIndex = -1;
    private double steadyCost = Double.NaN;
    private final long[] samples;
    private int sampleCount;
    private int runsWithoutFull;
    private int probeRuns;
    private int backoff = 1;
    private int windowsUntilProbe = 1;
    private boolean probeUpNext;

    /**
     * @param name         for the log, e.g. {@code mobilenet:1}
     * @param maxBatchSize the configured ceiling (at least 2)
     * @param window       full runs measured at the ceiling before a probe (at least 2)
     * @param adaptive     false keeps the ceiling at {@code maxBatchSize}
     */
    BatchCeiling(String name, int maxBatchSize, int window, boolean adaptive) {
        if (maxBatchSize < 2 || window < 2) {
            throw new IllegalArgumentException("maxBatchSize and window must be at least 2");
        }
        this.name = name;
        this.sizes = candidateSizes(maxBatchSize);
        this.window = window;
        this.adaptive = adaptive;
        this.samples = new long[window];
        this.index = sizes.length - 1;
        this.current = maxBatchSize;
    }

    /** 1, 2, 4 ... below {@code max}, then {@code max}. */
    static int[] candidateSizes(int max) {
        List<Integer> sizes = new ArrayList<>();
        for (int size = 1; size < max; size *= 2) {
            sizes.add(size);
        }
        sizes.add(max);
        return sizes.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The most rows the next run may gather (a single request larger than this still runs alone). */
    int current() {
        return current;
    }

    /** Reports a finished run of {@code rows} rows that took {@code nanos}, stacking and splitting included. */
    synchronized void record(int rows, long nanos) {
        if (!adaptive || nanos <= 0 || rows < 1) {
            return;
        }
        int size = current;
        boolean probing = probeIndex >= 0;
        boolean full = rows * 2 > size || size == 1;
        if (probing && ++probeRuns > ABANDON_WINDOWS * window) {
            endProbe(Double.POSITIVE_INFINITY);
            return;
        }
        if (!full) {
            if (!probing && ++runsWithoutFull >= window && index > 0) {
                // The load, not the ceiling, sizes the batches: follow it down (no run changes).
                index--;
                current = sizes[index];
                runsWithoutFull = 0;
                sampleCount = 0;
            }
            return;
        }
        runsWithoutFull = 0;
        samples[sampleCount++] = nanos / rows;
        if (sampleCount < (probing ? window / 2 : window)) {
            return;
        }
        double cost = median(samples, sampleCount);
        sampleCount = 0;
        if (probing) {
            endProbe(cost);
        } else {
            steadyCost = cost;
            if (--windowsUntilProbe <= 0) {
                startProbe();
            }
        }
    }

    private void startProbe() {
        boolean up = probeUpNext ? index < sizes.length - 1 : index == 0;
        int next = up ? index + 1 : index - 1;
        if (next < 0 || next >= sizes.length) {
            windowsUntilProbe = backoff;
            return;
        }
        probeUpNext = up;
        probeIndex = next;
        probeRuns = 0;
        sampleCount = 0;
        current = sizes[next];
    }

    private void endProbe(double probeCost) {
        int from = sizes[index];
        int to = sizes[probeIndex];
        boolean wins = !Double.isNaN(steadyCost) && probeCost < steadyCost * (1 - MARGIN);
        if (wins) {
            log.info(String.format(Locale.ROOT, "%s: batches of up to %d instead of %d (%.3f vs %.3f ms per row in full runs)",
                    name, to, from, probeCost / 1e6, steadyCost / 1e6));
            // Keep going the same way (probeUpNext stays): the next probe comes after one window.
            index = probeIndex;
            backoff = 1;
        } else {
            probeUpNext = !probeUpNext;
            backoff = Math.min(MAX_BACKOFF, backoff * 2);
        }
        windowsUntilProbe = wins ? 1 : backoff;
        probeIndex = -1;
        sampleCount = 0;
        runsWithoutFull = 0;
        steadyCost = Double.NaN;
        current = sizes[index];
    }

    private static double median(long[] values, int count) {
        long[] sorted = Arrays.copyOf(values, count);
        Arrays.sort(sorted);
        return count % 2 == 1 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0;
    }
}
