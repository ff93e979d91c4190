package dev.serval.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * {@link CallRun} with a call of known delay. Times are compared with the injected delay and with
 * each other, generously; nothing is compared with an expected speed.
 */
class CallRunTest {
    private static final PrintStream QUIET = new PrintStream(PrintStream.nullOutputStream());

    /** A call that takes {@code millis} and fails every {@code failEvery}-th time (0: never). */
    private static CallRun.Call slow(long millis, int failEvery, AtomicInteger calls) {
        return () -> {
            int n = calls.incrementAndGet();
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(millis));
            return failEvery > 0 && n % failEvery == 0 ? "grpc_RESOURCE_EXHAUSTED" : null;
        };
    }

    @Test
    void closedLoop_makesExactlyTheRequestsAskedFor_andCountsFailuresByKind() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        CallRun.Outcome o = new CallRun(new CallRun.Settings(4, 0, 0, 0, 100, 5, 60), slow(2, 5, calls), QUIET).run();

        assertThat(calls.get()).isEqualTo(100);
        assertThat(o.completed).isEqualTo(100);
        assertThat(o.ok).isEqualTo(80);
        assertThat(o.failures).containsExactly(Map.entry("grpc_RESOURCE_EXHAUSTED", 20L));
        assertThat(o.okLatency.getTotalCount()).isEqualTo(80);
        // every latency includes the injected 2 ms
        assertThat(o.okLatency.getMinValue()).isGreaterThanOrEqualTo(1_900);
        assertThat(o.okPerSecond).isPositive();
    }

    @Test
    void openLoop_latencyRunsFromTheIntendedTime_soAnOverloadShowsInTheTail() throws Exception {
        // One caller, 20 ms per call: at most ~50 calls/s. Asked for 100/s, calls queue in the
        // generator; their latency, from when each was due, must grow far past the 20 ms service time.
        AtomicInteger calls = new AtomicInteger();
        CallRun.Outcome over = new CallRun(new CallRun.Settings(1, 100, 0, 0, 40, 30, 60), slow(20, 0, calls), QUIET).run();
        CallRun.Outcome under = new CallRun(new CallRun.Settings(1, 10, 0, 0, 10, 30, 60), slow(20, 0, calls), QUIET).run();

        assertThat(over.mode).isEqualTo("open");
        assertThat(over.completed).isEqualTo(40);
        assertThat(over.unsent).isZero();
        assertThat(over.achievedRate).isLessThan(0.9 * 100);
        // request 40 waited behind ~39 x 10 ms of backlog: the max is several service times
        assertThat(over.okLatency.getMaxValue()).isGreaterThan(5 * 20_000);
        assertThat(over.okLatency.getValueAtPercentile(50)).isGreaterThan(3 * under.okLatency.getValueAtPercentile(50));
        // at a rate it can take, latency is the service time, give or take a busy machine
        assertThat(under.okLatency.getValueAtPercentile(50)).isBetween(19_000L, 200_000L);
    }

    @Test
    void openLoop_warmUpIsScheduledButNotRecorded() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        CallRun.Outcome o = new CallRun(new CallRun.Settings(2, 200, 0.1, 0, 30, 10, 60), slow(1, 0, calls), QUIET).run();

        assertThat(calls.get()).isEqualTo(20 + 30); // floor(0.1 s x 200/s) warm-up calls, then 30 measured
        assertThat(o.completed).isEqualTo(30);
        assertThat(o.okLatency.getTotalCount()).isEqualTo(30);
    }

    @Test
    void settings_refuseBothOrNeitherBound() {
        assertThatThrownBy(() -> new CallRun.Settings(1, 0, 0, 5, 10, 1, 60))
                .hasMessageContaining("exactly one of --seconds and --requests");
        assertThatThrownBy(() -> new CallRun.Settings(0, 0, 0, 5, 0, 1, 60)).hasMessageContaining("--clients 0");
    }
}
