package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class HeapTunerTest {
    private static final long MB = 1 << 20;
    private static final double LIGHT = 0.02;
    private static final double HEAVY = 0.23;
    private static final double RATE = 100.0 * MB;

    private final HeapTuner.Policy policy = started(new HeapTuner.Policy(128 * MB, 512 * MB));

    /** The policy past its first seconds (see judgesNothingInTheFirstSecondsAfterStart). */
    private static HeapTuner.Policy started(HeapTuner.Policy policy) {
        for (int second = 0; second < HeapTuner.CYCLE_WINDOW; second++) {
            policy.sample(0, 0, 0);
        }
        return policy;
    }

    @Test
    void staysAtTheFloorWhileCollectionsAreCheap() {
        for (int second = 0; second < 300; second++) {
            assertThat(policy.sample(LIGHT, RATE, 0)).isEqualTo(128 * MB);
        }
    }

    @Test
    void doublesWhileCollectionsRunMostOfTheTime_givingEachStepTimeToWork_upToTheCeiling() {
        assertThat(policy.sample(HEAVY, RATE, 0)).isEqualTo(256 * MB);
        for (int second = 0; second < HeapTuner.SETTLE_SECONDS; second++) {
            assertThat(policy.sample(HEAVY, RATE, 0)).isEqualTo(256 * MB);
        }
        assertThat(policy.sample(HEAVY, RATE, 0)).isEqualTo(512 * MB);
        for (int second = 0; second < 3 * HeapTuner.SETTLE_SECONDS; second++) {
            assertThat(policy.sample(HEAVY, RATE, 0)).isEqualTo(512 * MB);
        }
    }

    @Test
    void doublesWhileCollectionsComeMoreOftenThanEveryTwoSeconds_evenWhenCheap_judgingWholeWindows() {
        for (int second = 1; second < HeapTuner.CYCLE_WINDOW; second++) {
            assertThat(policy.sample(LIGHT, RATE, 1)).isEqualTo(128 * MB); // a burst at start is not judged
        }
        assertThat(policy.sample(LIGHT, RATE, 1)).isEqualTo(256 * MB);
        // the collections that came at the old target no longer count: the new one gets its own window
        for (int second = 0; second < HeapTuner.SETTLE_SECONDS + HeapTuner.CYCLE_WINDOW - 1; second++) {
            assertThat(policy.sample(LIGHT, RATE, 1)).isEqualTo(256 * MB);
        }
        assertThat(policy.sample(LIGHT, RATE, 1)).isEqualTo(512 * MB);
    }

    @Test
    void judgesNothingInTheFirstSecondsAfterStart() {
        HeapTuner.Policy fresh = new HeapTuner.Policy(128 * MB, 512 * MB);
        for (int second = 0; second < HeapTuner.CYCLE_WINDOW; second++) {
            assertThat(fresh.sample(HEAVY, RATE, 3)).isEqualTo(128 * MB);
        }
        assertThat(fresh.sample(HEAVY, RATE, 3)).isEqualTo(256 * MB);
    }

    @Test
    void aCollectionEveryTwoSecondsIsRhythmEnough() {
        for (int second = 0; second < 300; second++) {
            assertThat(policy.sample(LIGHT, RATE, second % 2)).isEqualTo(128 * MB);
        }
    }

    /** Raises the target to 512 MB (two steps, each past its settling time). */
    private void raiseTwice() {
        policy.sample(HEAVY, RATE, 0);
        for (int second = 0; second < HeapTuner.SETTLE_SECONDS; second++) {
            policy.sample(HEAVY, RATE, 0);
        }
        assertThat(policy.sample(HEAVY, RATE, 0)).isEqualTo(512 * MB);
    }

    @Test
    void neverLowersWhileTheLoadThatNeededItLasts() {
        policy.sample(HEAVY, RATE, 0);
        for (int second = 0; second < HeapTuner.SETTLE_SECONDS; second++) {
            policy.sample(LIGHT, RATE, 0);
        }
        for (int second = 0; second < 600; second++) {
            assertThat(policy.sample(LIGHT, RATE * 0.9, 0)).isEqualTo(256 * MB);
        }
    }

    @Test
    void lowersOneStepAfterAQuietMinute_andBackToTheFloor() {
        raiseTwice();
        for (int second = 0; second < HeapTuner.SETTLE_SECONDS; second++) {
            policy.sample(LIGHT, RATE / 10, 0);
        }
        long target = 0;
        for (int second = 1; second <= HeapTuner.QUIET_SECONDS; second++) {
            target = policy.sample(LIGHT, RATE / 10, 0);
            if (second < HeapTuner.QUIET_SECONDS) {
                assertThat(target).isEqualTo(512 * MB);
            }
        }
        assertThat(target).isEqualTo(256 * MB);
        for (int second = 1; second <= HeapTuner.QUIET_SECONDS; second++) {
            target = policy.sample(LIGHT, RATE / 10, 0);
        }
        assertThat(target).isEqualTo(128 * MB);
        for (int second = 1; second <= 3 * HeapTuner.QUIET_SECONDS; second++) {
            assertThat(policy.sample(LIGHT, 0, 0)).isEqualTo(128 * MB);
        }
    }

    @Test
    void aBusySecondRestartsTheQuietCount() {
        policy.sample(HEAVY, RATE, 0);
        for (int second = 0; second < HeapTuner.SETTLE_SECONDS; second++) {
            policy.sample(LIGHT, RATE / 10, 0);
        }
        for (int second = 1; second < HeapTuner.QUIET_SECONDS; second++) {
            policy.sample(LIGHT, RATE / 10, 0);
        }
        policy.sample(LIGHT, RATE, 0); // the load is back for a second
        for (int second = 1; second < HeapTuner.QUIET_SECONDS; second++) {
            assertThat(policy.sample(LIGHT, RATE / 10, 0)).isEqualTo(256 * MB);
        }
        assertThat(policy.sample(LIGHT, RATE / 10, 0)).isEqualTo(128 * MB);
    }

    @Test
    void collectsOnceWhenTheServerFallsIdleWithHeapInUse() {
        long full = 150 * MB;
        for (int second = 1; second < HeapTuner.IDLE_SECONDS; second++) {
            assertThat(policy.idle(0, full)).isFalse();
        }
        assertThat(policy.idle(0, full)).isTrue();
        for (int second = 0; second < 100; second++) {
            assertThat(policy.idle(0, full)).isFalse(); // once per idle spell
        }
        assertThat(policy.idle(80, full)).isFalse(); // busy again
        for (int second = 1; second < HeapTuner.IDLE_SECONDS; second++) {
            assertThat(policy.idle(1, full)).isFalse();
        }
        assertThat(policy.idle(1, full)).isTrue();
    }

    @Test
    void neverCollectsWhileBusy_norAnIdleHeapThatHoldsLittle() {
        for (int second = 0; second < 100; second++) {
            assertThat(policy.idle(HeapTuner.IDLE_TICKS_PER_SECOND, 500 * MB)).isFalse();
        }
        for (int second = 0; second < 100; second++) {
            assertThat(policy.idle(0, HeapTuner.IDLE_COLLECT_ABOVE)).isFalse();
        }
    }

    @Test
    void readsTheCpuTicksOfAStatLine_evenWhenTheCommandHasSpaces() {
        String stat = "4242 (ZWorker Young#0) S 1 4242 4242 0 -1 4194368 10 0 0 0 37 5 0 0 20 0 1 0 100 0 0";
        assertThat(HeapTuner.ticks(ProcStat.of(stat))).isEqualTo(42);
    }

    @Test
    void readsThisProcesssTicks_theCollectorsAmongThem() {
        long[] ticks = new long[2];
        HeapTuner.readTicks(new ProcStat(), ticks);
        assertThat(ticks[0]).isPositive(); // the test JVM has used CPU
        assertThat(ticks[1]).isBetween(0L, ticks[0]);
    }

    @Test
    void startsOnlyWhenTheLaunchSetASoftTargetBelowHalfTheHeap() {
        HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        String before = hotspot.getVMOption("SoftMaxHeapSize").getValue();
        try {
            hotspot.setVMOption("SoftMaxHeapSize", Long.toString(Runtime.getRuntime().maxMemory()));
            assertThat(HeapTuner.start()).isEmpty();

            hotspot.setVMOption("SoftMaxHeapSize", Long.toString(64 * MB));
            Optional<HeapTuner> tuner = HeapTuner.start();
            assertThat(tuner).isPresent(); // the tests run on ZGC (the surefire argLine)
            tuner.get().close();
        } finally {
            hotspot.setVMOption("SoftMaxHeapSize", before);
        }
    }
}
