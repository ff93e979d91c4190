package dev.serval.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.testing.TestTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The queue and the batcher's decisions, driven by a manual ticker. The maximum delay is an hour
 * of ticker time, so a batcher that waits really waits (until a signal) and a batcher that should
 * not wait is caught by the bounded {@code get}.
 */
@Timeout(60)
class JobQueueTest {
    private static final long HOUR = TimeUnit.HOURS.toNanos(1);
    private static final List<String> Y = List.of("y");
    private static final int LEVELS = 3;

    private final ManualTicker ticker = new ManualTicker(1_000, "batcher");
    private final ExecutorService batchers = Executors.newCachedThreadPool(ServalThreads.platform("batcher"));
    private final List<Job> expired = new CopyOnWriteArrayList<>();
    private JobQueue queue = new JobQueue("m:1", 100, LEVELS, Integer.MAX_VALUE);

    @AfterEach
    void stopBatchers() {
        queue.close();
        batchers.shutdownNow();
    }

    private static SchedulerSettings batching(int maxRows, long delay, Integer... preferred) {
        return new SchedulerSettings(1, maxRows, delay, List.of(preferred), 100, LEVELS, false, 1);
    }

    private static SchedulerSettings unbatched(int maxBatchSize) {
        return new SchedulerSettings(1, maxBatchSize, HOUR, List.of(), 100, LEVELS, false, 1);
    }

    private Job job(int rows) {
        return job(rows, 0);
    }

    private Job job(int rows, int level) {
        return job(FakeSession.rows(rows, rows), Y, rows, level, Job.NO_DEADLINE, true);
    }

    private Job job(Tensor input, List<String> outputs, int rows, int level, long deadline, boolean batching) {
        return new Job(List.of(input), outputs, rows, level, ticker.now(), deadline, batching);
    }

    private Job unbatchedJob(int level) {
        return job(FakeSession.rows(1, 1), Y, 1, level, Job.NO_DEADLINE, false);
    }

    private Future<List<Job>> takeAsync(SchedulerSettings settings) {
        return batchers.submit(() -> queue.takeBatch(settings, settings.maxBatchSize(), ticker, expired::add));
    }

    private List<Job> takeWithCeiling(SchedulerSettings settings, int ceiling) throws Exception {
        return get(batchers.submit(() -> queue.takeBatch(settings, ceiling, ticker, expired::add)));
    }

    private static List<Job> get(Future<List<Job>> taken) throws Exception {
        return get(taken, 30);
    }

    private static List<Job> get(Future<List<Job>> taken, int seconds) throws Exception {
        try {
            return taken.get(seconds, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("the batcher kept waiting", e);
        }
    }

    private List<Job> take(SchedulerSettings settings) throws Exception {
        return get(takeAsync(settings));
    }

    /** Waits until the batcher has looked at the queue, then checks it took nothing and waits. */
    private void assertWaiting(Future<List<Job>> taken, int queued) {
        ticker.awaitRead();
        // size() takes the queue's lock: it returns once the batcher has either taken or begun to wait.
        assertThat(queue.size()).as("jobs still queued, so the batcher is waiting").isEqualTo(queued);
        assertThat(taken).isNotDone();
    }

    // ---- forming batches ----

    @Test
    void takeBatch_gathersCompatibleJobsUpToMaxRows() throws Exception {
        Job a = job(1);
        Job b = job(2);
        Job c = job(1);
        Job d = job(1);
        for (Job j : List.of(a, b, c, d)) {
            queue.offer(j, false);
        }

        assertThat(take(batching(4, HOUR))).containsExactly(a, b, c);
        assertThat(take(batching(4, HOUR))).containsExactly(d);
        assertThat(queue.size()).isZero();
    }

    @Test
    void takeBatch_gathersUpToTheLearnedCeiling_andRunsALargerRequestAlone() throws Exception {
        Job big = job(3);
        Job a = job(1);
        Job b = job(1);
        Job c = job(1);
        for (Job j : List.of(big, a, b, c)) {
            queue.offer(j, false);
        }
        SchedulerSettings settings = batching(8, HOUR);

        assertThat(takeWithCeiling(settings, 2)).containsExactly(big);
        assertThat(takeWithCeiling(settings, 2)).containsExactly(a, b);
        assertThat(takeWithCeiling(settings, 2)).containsExactly(c);
    }

    @Test
    void takeBatch_stacksOnlyJobsWithSameShapesTypesAndOutputs() throws Exception {
        Job a = job(FakeSession.rows(0, 1), Y, 1, 0, Job.NO_DEADLINE, true);
        Job wider = job(TestTensors.fp32("x", new long[] {1, 4}, 1, 2, 3, 4), Y, 1, 0, Job.NO_DEADLINE, true);
        Job int32 = job(TestTensors.int32("x", new long[] {1, 3}, 1, 2, 3), Y, 1, 0, Job.NO_DEADLINE, true);
        Job moreOutputs = job(FakeSession.rows(0, 1), List.of("y", "s"), 1, 0, Job.NO_DEADLINE, true);
        Job otherOrder = job(FakeSession.rows(0, 1), List.of("s", "y"), 1, 0, Job.NO_DEADLINE, true);
        Job rank3 = job(TestTensors.zeros("x", DataType.FP32, 1, 3, 1), Y, 1, 0, Job.NO_DEADLINE, true);
        Job e = job(FakeSession.rows(5, 2), Y, 2, 0, Job.NO_DEADLINE, true);
        for (Job j : List.of(a, wider, int32, moreOutputs, otherOrder, rank3, e)) {
            queue.offer(j, false);
        }
        SchedulerSettings settings = batching(8, HOUR);

        assertThat(take(settings)).containsExactly(a, e);
        assertThat(take(settings)).containsExactly(wider);
        assertThat(take(settings)).containsExactly(int32);
        assertThat(take(settings)).containsExactly(moreOutputs);
        assertThat(take(settings)).containsExactly(otherOrder);
        assertThat(take(settings)).containsExactly(rank3);
    }

    @Test
    void takeBatch_leavesARequestThatWouldOverflowForTheNextBatch() throws Exception {
        Job a = job(3);
        Job b = job(2);
        Job c = job(1);
        for (Job j : List.of(a, b, c)) {
            queue.offer(j, false);
        }

        List<Job> first = take(batching(4, HOUR));
        assertThat(first).startsWith(a).doesNotContain(b);
        assertThat(first.stream().mapToInt(j -> j.rows).sum()).isLessThanOrEqualTo(4);
        List<Job> second = take(batching(4, HOUR));
        assertThat(second).startsWith(b);
    }

    @Test
    void takeBatch_runsAtOnceWhenTheNextCompatibleRequestDoesNotFit() throws Exception {
        queue.arrive(); // another request on its way: only the full batch makes waiting pointless
        Job a = job(2);
        Job b = job(3);
        queue.offer(a, false);
        queue.offer(b, false);

        assertThat(take(batching(4, HOUR))).containsExactly(a);
    }

    @Test
    void takeBatch_runsAtOnceWhenMaxRowsReachedEvenWithArrivalsPending() throws Exception {
        queue.arrive();
        Job a = job(2);
        Job b = job(2);
        queue.offer(a, false);
        queue.offer(b, false);

        assertThat(take(batching(4, HOUR))).containsExactly(a, b);
    }

    // ---- priority and order ----

    @Test
    void takeBatch_takesHigherLevelsFirstAndFifoWithinALevel() throws Exception {
        Job low1 = unbatchedJob(2);
        Job mid1 = unbatchedJob(1);
        Job high1 = unbatchedJob(0);
        Job low2 = unbatchedJob(2);
        Job high2 = unbatchedJob(0);
        Job mid2 = unbatchedJob(1);
        for (Job j : List.of(low1, mid1, high1, low2, high2, mid2)) {
            queue.offer(j, false);
        }

        List<Job> order = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            List<Job> batch = take(unbatched(1));
            assertThat(batch).hasSize(1);
            order.add(batch.get(0));
        }
        assertThat(order).containsExactly(high1, high2, mid1, mid2, low1, low2);
    }

    @Test
    void takeBatch_batchStartsWithTheHighestLevelAndFillsFromLowerOnes() throws Exception {
        Job low1 = job(1, 2);
        Job low2 = job(1, 2);
        Job high = job(1, 0);
        Job mid = job(1, 1);
        for (Job j : List.of(low1, low2, high, mid)) {
            queue.offer(j, false);
        }

        assertThat(take(batching(3, HOUR))).containsExactly(high, mid, low1);
        assertThat(take(batching(3, HOUR))).containsExactly(low2);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1})
    void takeBatch_withoutBatchingRunsOneJobAtATime(int maxBatchSize) throws Exception {
        queue.arrive(); // would make a batcher wait; without batching nothing waits
        Job a = unbatchedJob(0);
        Job b = unbatchedJob(0);
        Job c = unbatchedJob(0);
        for (Job j : List.of(a, b, c)) {
            queue.offer(j, false);
        }

        assertThat(take(unbatched(maxBatchSize))).containsExactly(a);
        assertThat(take(unbatched(maxBatchSize))).containsExactly(b);
        assertThat(take(unbatched(maxBatchSize))).containsExactly(c);
    }

    // ---- when to run ----

    @Test
    void takeBatch_runsAtOnceWhenNoOtherRequestIsArriving() throws Exception {
        Job a = job(1);
        queue.offer(a, false);

        assertThat(take(batching(8, HOUR))).containsExactly(a);
    }

    @Test
    void takeBatch_waitsForAnArrivingRequestAndStacksIt() throws Exception {
        queue.arrive();
        Job a = job(1);
        queue.offer(a, false);
        Future<List<Job>> taken = takeAsync(batching(8, HOUR));
        assertWaiting(taken, 1);

        Job b = job(2);
        queue.offer(b, true);

        assertThat(get(taken)).containsExactly(a, b);
    }

    @Test
    void takeBatch_keepsWaitingWhileAnotherRequestIsStillArriving() throws Exception {
        queue.arrive();
        queue.arrive();
        Job a = job(1);
        queue.offer(a, false);
        Future<List<Job>> taken = takeAsync(batching(8, HOUR));
        assertWaiting(taken, 1);

        Job b = job(1);
        queue.offer(b, true);
        assertWaiting(taken, 2);

        Job c = job(1);
        queue.offer(c, true);
        assertThat(get(taken)).containsExactly(a, b, c);
    }

    @Test
    void takeBatch_arrivalThatLeavesReleasesTheWaitingBatcher() throws Exception {
        queue.arrive();
        Job a = job(1);
        queue.offer(a, false);
        Future<List<Job>> taken = takeAsync(batching(8, HOUR));
        assertWaiting(taken, 1);

        queue.leave();

        assertThat(get(taken)).containsExactly(a);
    }

    @Test
    void takeBatch_flushesAPartialBatchAtMaxDelay() throws Exception {
        queue.arrive(); // never comes: only the delay can end the wait
        Job a = job(1);
        queue.offer(a, false);
        Future<List<Job>> taken = takeAsync(batching(8, HOUR));
        assertWaiting(taken, 1);

        // A request the batch cannot take wakes the batcher; one nanosecond early it keeps waiting.
        ticker.advance(HOUR - 1);
        queue.offer(job(FakeSession.rows(0, 1), List.of("s"), 1, 0, Job.NO_DEADLINE, true), false);
        assertWaiting(taken, 2);

        ticker.advance(1);
        queue.offer(job(FakeSession.rows(0, 1), List.of("s"), 1, 0, Job.NO_DEADLINE, true), false);
        assertThat(get(taken)).containsExactly(a);
    }

    @Test
    void takeBatch_flushDelayCountsFromTheOldestJob() throws Exception {
        queue.arrive();
        Job a = job(1);
        queue.offer(a, false);
        ticker.advance(HOUR / 2);
        Job b = job(1); // enqueued half an hour after a
        queue.offer(b, false);
        ticker.advance(HOUR / 2);

        assertThat(take(batching(8, HOUR))).containsExactly(a, b);
    }

    @Test
    void takeBatch_runsAtOnceAtAPreferredSize() throws Exception {
        queue.arrive();
        Job a = job(1);
        queue.offer(a, false);
        Future<List<Job>> taken = takeAsync(batching(8, HOUR, 3));
        assertWaiting(taken, 1);

        Job b = job(1);
        queue.offer(b, false); // 2 rows: not preferred, still waiting for the arrival
        assertWaiting(taken, 2);

        Job c = job(1);
        queue.offer(c, false); // 3 rows: preferred
        assertThat(get(taken)).containsExactly(a, b, c);
    }

    @Test
    void takeBatch_preferredSizeCountsRowsNotRequests() throws Exception {
        queue.arrive();
        Job a = job(2);
        Job b = job(2);
        queue.offer(a, false);
        queue.offer(b, false);

        assertThat(take(batching(8, HOUR, 4))).containsExactly(a, b);
    }

    // ---- bounds, deadlines, abandoned jobs, close ----

    @Test
    void offer_refusesAFullQueueNamingMaxQueueSize() {
        queue = new JobQueue("iris:1", 2, 1, Integer.MAX_VALUE);
        queue.offer(job(1), false);
        queue.offer(job(1), false);

        assertThatThrownBy(() -> queue.offer(job(1), false))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED))
                .hasMessageContaining("max_queue_size").hasMessageContaining("iris:1");
        assertThat(queue.size()).isEqualTo(2);
    }

    @Test
    void offer_acceptsAgainOnceAJobWasTaken() throws Exception {
        queue = new JobQueue("m:1", 1, 1, Integer.MAX_VALUE);
        Job a = job(1);
        queue.offer(a, false);
        assertThat(take(unbatched(0))).containsExactly(a);

        Job b = job(1);
        queue.offer(b, false);
        assertThat(queue.size()).isEqualTo(1);
    }

    @Test
    void offer_refusedWhileArrivingStillReleasesAWaitingBatcher() throws Exception {
        queue = new JobQueue("m:1", 2, LEVELS, Integer.MAX_VALUE);
        queue.arrive();
        Job a = job(1);
        Job b = job(1);
        queue.offer(a, false);
        queue.offer(b, false);
        Future<List<Job>> taken = takeAsync(batching(8, HOUR));
        assertWaiting(taken, 2);

        // The awaited request is refused: nothing is on its way any more, so waiting is pointless.
        assertThatThrownBy(() -> queue.offer(job(1), true)).isInstanceOf(ServalException.class);

        assertThat(get(taken, 10)).containsExactly(a, b);
    }

    @Test
    void offer_afterCloseIsUnavailable() {
        queue.close();

        assertThatThrownBy(() -> queue.offer(job(1), false))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
                .hasMessageContaining("m:1");
        assertThat(queue.size()).isZero();
    }

    @Test
    void close_letsQueuedJobsBeTakenThenReturnsNull() throws Exception {
        queue.arrive(); // would make the batcher wait, but a closing queue waits for nothing
        Job a = job(1);
        Job b = job(1);
        queue.offer(a, false);
        queue.offer(b, false);
        queue.close();

        assertThat(take(batching(8, HOUR))).containsExactly(a, b);
        assertThat(take(batching(8, HOUR))).isNull();
    }

    @Test
    void close_releasesABatcherWaitingForArrivals() throws Exception {
        queue.arrive();
        Job a = job(1);
        queue.offer(a, false);
        Future<List<Job>> taken = takeAsync(batching(8, HOUR));
        assertWaiting(taken, 1);

        queue.close();

        assertThat(get(taken)).containsExactly(a);
    }

    @Test
    void close_releasesAnIdleTaker() throws Exception {
        Future<List<Job>> taken = takeAsync(batching(8, HOUR));

        queue.close();

        assertThat(get(taken)).isNull();
    }

    @Test
    void takeBatch_failsJobsWhoseDeadlinePassedAndNeverReturnsThem() throws Exception {
        long now = ticker.now();
        Job late = job(FakeSession.rows(0, 1), Y, 1, 0, now + 100, true);
        Job onTime = job(FakeSession.rows(0, 1), Y, 1, 0, now + 101, true);
        Job lateLow = job(FakeSession.rows(0, 1), Y, 1, 2, now + 50, true);
        Job noDeadline = job(FakeSession.rows(0, 1), Y, 1, 1, Job.NO_DEADLINE, true);
        for (Job j : List.of(late, onTime, lateLow, noDeadline)) {
            queue.offer(j, false);
        }
        ticker.advance(100);

        assertThat(take(batching(8, HOUR))).containsExactly(onTime, noDeadline);
        assertThat(expired).containsExactlyInAnyOrder(late, lateLow);
        assertThat(queue.size()).isZero();
    }

    @Test
    void takeBatch_withoutBatchingAlsoDropsExpiredJobs() throws Exception {
        Job late = job(FakeSession.rows(0, 1), Y, 1, 0, ticker.now() + 10, false);
        Job next = unbatchedJob(0);
        queue.offer(late, false);
        queue.offer(next, false);
        ticker.advance(10);

        assertThat(take(unbatched(0))).containsExactly(next);
        assertThat(expired).containsExactly(late);
    }

    @Test
    void takeBatch_dropsAbandonedJobsWithoutReportingThem() throws Exception {
        Job a = job(1);
        Job gone = job(1);
        Job c = job(1);
        for (Job j : List.of(a, gone, c)) {
            queue.offer(j, false);
        }
        gone.abandon();

        assertThat(take(batching(8, HOUR))).containsExactly(a, c);
        assertThat(expired).isEmpty();
        assertThat(gone.result()).isNotDone();
        assertThat(queue.size()).isZero();
    }

    @Test
    void takeBatch_whenEveryQueuedJobIsDroppedWaitsForTheNext() throws Exception {
        Job gone = job(1);
        queue.offer(gone, false);
        gone.abandon();
        Future<List<Job>> taken = takeAsync(batching(8, HOUR));
        ticker.awaitRead();
        assertThat(queue.size()).isZero();

        Job next = job(1);
        queue.offer(next, false);

        assertThat(get(taken)).containsExactly(next);
    }

    @Test
    void oldestWaitNanos_isTheLongestWaitAcrossLevels() {
        assertThat(queue.oldestWaitNanos(ticker.now())).isZero();
        queue.offer(job(1, 2), false);
        ticker.advance(300);
        queue.offer(job(1, 0), false);
        ticker.advance(200);

        assertThat(queue.oldestWaitNanos(ticker.now())).isEqualTo(500);
    }
}
