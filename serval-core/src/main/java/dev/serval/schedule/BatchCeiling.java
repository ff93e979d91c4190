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
 *   <li>After {@code window} nearly full runs at the ceiling it probes another size: runs
 *       alternate between the ceiling and the probed size until each has {@code window / 2} full
 *       runs, and the ceiling moves when the probed size's median cost per row is lower by more
 *       than {@link #MARGIN}. Alternating, not one size after the other, so that whatever else
 *       the machine does in the meantime weighs on both alike (measured: one after the other,
 *       a busy neighbour made the ceiling wander between sizes). The probes cycle through half,
 *       double, a quarter and four times the ceiling: neighbouring sizes can cost nearly the
 *       same (MobileNetV2 at 4 and 8) while two steps away is clearly cheaper (at 1). Medians, not means, so that a GC pause or a
 *       descheduled thread does not decide. A probe that gets no full runs (the load cannot fill
 *       the bigger size) is abandoned after {@link #ABANDON_WINDOWS} windows of runs.</li>
 *   <li>When a whole cycle of probes loses, the wait before the next probe doubles (up to
 *       {@link #MAX_BACKOFF} windows), so a settled model spends a few percent of its runs
 *       probing.</li>
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
    /** The probes, in steps over the candidate sizes: half, double, a quarter, four times. */
    private static final int[] STEPS = {-1, 1, -2, 2};
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
    private final long[] atCeiling;
    private final long[] atProbe;
    private int ceilingSamples;
    private int probeSamples;
    private int probeRuns;
    private int steadyRuns;
    private int runsWithoutFull;
    private int windowsUntilProbe = 1;
    private int backoff = 1;
    private int nextStep;
    private int lossesInCycle;

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
        this.atCeiling = new long[window / 2];
        this.atProbe = new long[window / 2];
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

    /**
     * Reports a finished run.
     *
     * @param ceiling the value {@link #current()} had when the run's batch was gathered
     * @param rows    rows in the run
     * @param nanos   the run's time, stacking and splitting included
     */
    synchronized void record(int ceiling, int rows, long nanos) {
        if (!adaptive || nanos <= 0 || rows < 1) {
            return;
        }
        boolean full = rows * 2 > ceiling || ceiling == 1;
        if (probeIndex < 0) {
            steady(full);
            return;
        }
        probeRuns++;
        if (full) {
            if (ceiling == sizes[index] && ceilingSamples < atCeiling.length) {
                atCeiling[ceilingSamples++] = nanos / rows;
            } else if (ceiling == sizes[probeIndex] && probeSamples < atProbe.length) {
                atProbe[probeSamples++] = nanos / rows;
            }
        }
        if (ceilingSamples == atCeiling.length && probeSamples == atProbe.length) {
            endProbe(median(atCeiling), median(atProbe));
        } else if (probeRuns > ABANDON_WINDOWS * window) {
            endProbe(1, Double.POSITIVE_INFINITY); // the load cannot fill the probed size
        } else {
            current = current == sizes[index] ? sizes[probeIndex] : sizes[index];
        }
    }

    private void steady(boolean full) {
        if (!full) {
            if (++runsWithoutFull >= window && index > 0) {
                // The load, not the ceiling, sizes the batches: follow it down (no run changes).
                index--;
                current = sizes[index];
                runsWithoutFull = 0;
                steadyRuns = 0;
            }
            return;
        }
        runsWithoutFull = 0;
        if (++steadyRuns >= window) {
            steadyRuns = 0;
            if (--windowsUntilProbe <= 0) {
                startProbe();
            }
        }
    }

    private void startProbe() {
        for (int tried = 0; tried < STEPS.length; tried++) {
            int next = index + STEPS[nextStep];
            nextStep = (nextStep + 1) % STEPS.length;
            if (next >= 0 && next < sizes.length) {
                probeIndex = next;
                probeRuns = 0;
                ceilingSamples = 0;
                probeSamples = 0;
                current = sizes[next];
                return;
            }
        }
        windowsUntilProbe = backoff;
    }

    private void endProbe(double ceilingCost, double probeCost) {
        int from = sizes[index];
        int to = sizes[probeIndex];
        boolean wins = probeCost < ceilingCost * (1 - MARGIN);
        if (wins) {
            log.info(String.format(Locale.ROOT, "%s: batches of up to %d instead of %d (%.3f vs %.3f ms per row, "
                    + "medians of alternating full runs)", name, to, from, probeCost / 1e6, ceilingCost / 1e6));
            index = probeIndex;
            nextStep = to < from ? 0 : 1; // keep going the same way, one step
            lossesInCycle = 0;
            backoff = 1;
            windowsUntilProbe = 1;
        } else {
            log.debug(String.format(Locale.ROOT, "%s: batches of up to %d stay (%s ms per row at %d, %.3f at %d)",
                    name, from, Double.isInfinite(probeCost) ? "too few full runs" : String.format(Locale.ROOT, "%.3f", probeCost / 1e6),
                    to, ceilingCost / 1e6, from));
            if (++lossesInCycle >= STEPS.length) {
                lossesInCycle = 0;
                backoff = Math.min(MAX_BACKOFF, backoff * 2);
            }
            windowsUntilProbe = backoff;
        }
        probeIndex = -1;
        steadyRuns = 0;
        runsWithoutFull = 0;
        current = sizes[index];
    }

    private static double median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    }
}
