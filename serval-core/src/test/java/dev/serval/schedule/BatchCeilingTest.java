package dev.serval.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * {@link BatchCeiling} against models whose cost per batch size is a known function: every run is
 * full (a saturated queue), so each step records {@code current()} rows.
 */
class BatchCeilingTest {
    private static final int WINDOW = 32;

    /** Runs {@code runs} full batches costing {@code perRowMs(size)} per row; returns runs per size. */
    private static int[] saturate(BatchCeiling ceiling, int max, int runs, IntToDoubleFunction perRowMs) {
        return load(ceiling, max, Integer.MAX_VALUE, runs, perRowMs);
    }

    /** As {@link #saturate}, with {@code clients} requests of one row each: no run exceeds that. */
    private static int[] load(BatchCeiling ceiling, int max, int clients, int runs, IntToDoubleFunction perRowMs) {
        int[] runsAt = new int[max + 1];
        for (int i = 0; i < runs; i++) {
            int now = ceiling.current();
            int size = Math.min(now, clients);
            runsAt[size]++;
            ceiling.record(now, size, (long) (perRowMs.applyAsDouble(size) * size * 1e6));
        }
        return runsAt;
    }

    private static double mobilenet(int size) {
        return 6.1 + 1.4 * Math.log(size) / Math.log(32);
    }

    /**
     * MobileNetV2 at one thread as measured in-process (BENCHMARKS.md: 164, 152, 149, 141 and 132
     * images/s at batch 1, 4, 8, 16 and 32), interpolated in log size: 4 and 8 differ by 2% only.
     */
    private static double measuredMobileNet(int size) {
        double[] at = {1, 4, 8, 16, 32};
        double[] ms = {6.10, 6.58, 6.71, 7.09, 7.58};
        double x = Math.log(size);
        for (int i = 1; i < at.length; i++) {
            if (size <= at[i]) {
                double f = (x - Math.log(at[i - 1])) / (Math.log(at[i]) - Math.log(at[i - 1]));
                return ms[i - 1] + f * (ms[i] - ms[i - 1]);
            }
        }
        return ms[ms.length - 1];
    }

    private static double iris(int size) {
        return (0.050 + 0.001 * size) / size;
    }

    @Test
    void candidateSizes_arePowersOfTwoThenTheMaximum() {
        assertThat(BatchCeiling.candidateSizes(24)).containsExactly(1, 2, 4, 8, 16, 24);
        assertThat(BatchCeiling.candidateSizes(32)).containsExactly(1, 2, 4, 8, 16, 32);
        assertThat(BatchCeiling.candidateSizes(2)).containsExactly(1, 2);
    }

    @Test
    void descendsToOne_whenEveryRowCostsMoreInABiggerBatch() {
        // MobileNetV2 at one thread: 6.1 ms per image alone, 7.5 ms per image at 32 (measured).
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, true);
        saturate(ceiling, 32, 2_000, BatchCeilingTest::mobilenet);

        assertThat(ceiling.current()).isEqualTo(1);
    }

    @Test
    void followsTheBatchesTheLoadMakes_thenDescendsOnCost() {
        // ten clients never fill 32: the ceiling first comes down to where batches are, then to 1
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, true);
        load(ceiling, 32, 10, 2_000, BatchCeilingTest::mobilenet);

        assertThat(ceiling.current()).isEqualTo(1);
    }

    @Test
    void measuredMobileNetCosts_atTenClients_reachBatchOne() {
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, true);
        int[] runsAt = load(ceiling, 32, 10, 3_000, BatchCeilingTest::measuredMobileNet);

        assertThat(ceiling.current()).isEqualTo(1);
        assertThat(runsAt[1]).as("runs of one image, out of 3000").isGreaterThan(2_000);
    }

    @Test
    void keepsTheBatchesTheLoadMakes_whenThoseAreCheapest() {
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, true);
        int[] runsAt = load(ceiling, 32, 10, 5_000, BatchCeilingTest::iris);

        assertThat(runsAt[10]).as("runs of the ten waiting requests, out of 5000").isGreaterThan(4_500);
        assertThat(ceiling.current()).isGreaterThanOrEqualTo(16);
    }

    @Test
    void staysAtTheMaximum_whenBatchingIsCheaperPerRow_andProbesRarely() {
        // iris-like: a run costs 50 us plus 1 us per row.
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, true);
        int[] runsAt = saturate(ceiling, 32, 5_000, BatchCeilingTest::iris);

        assertThat(ceiling.current()).isEqualTo(32);
        assertThat(runsAt[32]).as("runs at the maximum out of 5000 (the rest are probes)").isGreaterThan(4_500);
    }

    @Test
    void settlesOnAnInteriorOptimum() {
        // cheapest per row at 8, 10% dearer for each doubling either way
        BatchCeiling ceiling = new BatchCeiling("m:1", 64, WINDOW, true);
        int[] runsAt = saturate(ceiling, 64, 6_000, size -> 1 + 0.1 * Math.abs(Math.log(size) / Math.log(2) - 3));

        assertThat(ceiling.current()).isEqualTo(8);
        assertThat(runsAt[8]).isGreaterThan(runsAt[4] + runsAt[16] + runsAt[32] + runsAt[64]);
    }

    @Test
    void underLightLoad_settlesLow_whichChangesNoRun() {
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, true);
        int[] runsAt = load(ceiling, 32, 1, 2_000, BatchCeilingTest::iris);

        assertThat(runsAt[1]).isEqualTo(2_000);
        assertThat(ceiling.current()).isLessThanOrEqualTo(2);
        // and when load comes back, it climbs again
        saturate(ceiling, 32, 20_000, BatchCeilingTest::iris);
        assertThat(ceiling.current()).isEqualTo(32);
    }

    @Test
    void aSlowRunInAWindowDoesNotDecide() {
        // bigger is cheaper, but a GC pause lands in one run of each window at the maximum
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, true);
        int[] run = {0};
        saturate(ceiling, 32, 3_000, size -> {
            double perRow = iris(size);
            return size == 32 && run[0]++ % WINDOW == 0 ? perRow * 50 : perRow;
        });

        assertThat(ceiling.current()).isEqualTo(32);
    }

    @Test
    void whenNotAdaptive_alwaysGathersUpToTheMaximum() {
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, false);
        int[] runsAt = saturate(ceiling, 32, 2_000, size -> 6.1 + size);

        assertThat(runsAt[32]).isEqualTo(2_000);
    }

    @Test
    void followsTheModelWhenItsCostsChange() {
        BatchCeiling ceiling = new BatchCeiling("m:1", 32, WINDOW, true);
        saturate(ceiling, 32, 2_000, BatchCeilingTest::mobilenet);
        assertThat(ceiling.current()).isEqualTo(1);

        // the machine frees up cores (or the model is swapped): now batches are cheaper per row
        saturate(ceiling, 32, 20_000, BatchCeilingTest::iris);
        assertThat(ceiling.current()).isEqualTo(32);
    }
}
