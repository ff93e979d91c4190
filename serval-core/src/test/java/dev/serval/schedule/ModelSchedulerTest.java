package dev.serval.schedule;

import static dev.serval.testing.TestTensors.floats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.runtime.RunControl;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.assertj.core.api.AbstractThrowableAssert;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class ModelSchedulerTest {
    private static final long HOUR = TimeUnit.HOURS.toNanos(1);
    private static final List<String> Y = List.of("y");
    private static final List<String> Y_S = List.of("y", "s");

    private static ScheduledThreadPoolExecutor timer;

    private final FakeSession session = new FakeSession();
    private final ManualTicker ticker = new ManualTicker(5_000, null);
    private final List<ModelScheduler> schedulers = new ArrayList<>();

    @BeforeAll
    static void startTimer() {
        timer = new ScheduledThreadPoolExecutor(1, ServalThreads.platform("test-deadlines"));
        timer.setRemoveOnCancelPolicy(true);
    }

    @AfterAll
    static void stopTimer() {
        timer.shutdownNow();
    }

    @AfterEach
    void closeSchedulers() {
        session.openGate();
        schedulers.forEach(ModelScheduler::close);
    }

    private static SchedulerSettings settings(int instances, int maxBatchSize, long delay) {
        return new SchedulerSettings(instances, maxBatchSize, delay, List.of(), 1000, 2, false, 1);
    }

    private ModelScheduler scheduler(SchedulerSettings settings) {
        return scheduler(settings, ticker, timer, SchedulerMetrics.NONE);
    }

    private ModelScheduler scheduler(SchedulerSettings settings, Ticker clock, ScheduledThreadPoolExecutor deadlines,
                                     SchedulerMetrics metrics) {
        ModelScheduler scheduler = new ModelScheduler("m:1", session, settings, clock,
                ServalThreads.platform("serval-m-v1"), deadlines, metrics);
        schedulers.add(scheduler);
        return scheduler;
    }

    private static Job submit(ModelScheduler scheduler, Tensor x) {
        return scheduler.submit(null, List.of(x), Y_S, (int) x.shape()[0], 0, Job.NO_DEADLINE);
    }

    private static List<Tensor> result(Job job) throws Exception {
        try {
            return job.result().get(30, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("the job was never answered", e);
        }
    }

    private static ServalException failure(Job job) throws Exception {
        try {
            job.result().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(ServalException.class);
            return (ServalException) e.getCause();
        } catch (TimeoutException e) {
            throw new AssertionError("the job was never answered", e);
        }
        throw new AssertionError("the job succeeded");
    }

    /** y = x + 1 and s = row sums, for the rows of {@code x}. */
    private static void assertAnswers(Tensor x, List<Tensor> outputs) {
        float[] in = floats(x);
        int rows = (int) x.shape()[0];
        float[] y = new float[in.length];
        float[] s = new float[rows];
        for (int i = 0; i < in.length; i++) {
            y[i] = in[i] + 1;
            s[i / 3] += in[i];
        }
        assertThat(outputs).extracting(Tensor::name).containsExactly("y", "s");
        assertThat(outputs.get(0).shape()).containsExactly(rows, 3);
        assertThat(floats(outputs.get(0))).containsExactly(y);
        assertThat(outputs.get(1).shape()).containsExactly(rows);
        assertThat(floats(outputs.get(1))).containsExactly(s);
    }

    // ---- threads ----

    @Test
    void run_happensOnNamedPlatformThreads() throws Exception {
        ModelScheduler scheduler = scheduler(settings(2, 8, HOUR));
        Job job = submit(scheduler, FakeSession.rows(1, 1));
        result(job);

        Thread thread = session.runs().get(0).thread();
        assertThat(thread.getName()).startsWith("serval-m-v1-");
        assertThat(thread.isVirtual()).isFalse();
        assertThat(thread.isDaemon()).isTrue();
    }

    @Test
    void instances_runTwoBatchesConcurrently() throws Exception {
        ModelScheduler scheduler = scheduler(settings(2, 8, HOUR));
        session.closeGate();
        Job a = submit(scheduler, FakeSession.rows(1, 1));
        session.awaitRuns(1);
        Job b = submit(scheduler, FakeSession.rows(100, 1));

        session.awaitRuns(1); // the second instance started while the first is still held
        assertThat(scheduler.queueDepth()).isZero();
        session.openGate();

        assertAnswers(FakeSession.rows(1, 1), result(a));
        assertAnswers(FakeSession.rows(100, 1), result(b));
        assertThat(session.runs()).extracting(FakeSession.Run::thread).doesNotHaveDuplicates();
    }

    @Test
    void instances_oneInstanceRunsOneBatchAtATime() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.closeGate();
        Job a = submit(scheduler, FakeSession.rows(1, 1));
        session.awaitRuns(1);
        Job b = submit(scheduler, FakeSession.rows(100, 1));

        assertThat(scheduler.queueDepth()).isEqualTo(1);
        assertThat(session.runs()).hasSize(1);
        session.openGate();
        result(a);
        result(b);
        assertThat(session.runs()).hasSize(2);
    }

    // ---- batching and routing ----

    @Test
    void run_stacksQueuedJobsIntoOneRunAndRoutesEachItsRows() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(-1, 1));
        session.awaitRuns(1);
        List<Tensor> inputs = List.of(FakeSession.rows(100, 1), FakeSession.rows(200, 2), FakeSession.rows(300, 3),
                FakeSession.rows(400, 1), FakeSession.rows(500, 2));
        List<Job> jobs = new ArrayList<>();
        for (Tensor x : inputs) {
            jobs.add(submit(scheduler, x));
        }
        assertThat(scheduler.queueDepth()).isEqualTo(5);

        session.openGate();

        result(first);
        for (int i = 0; i < jobs.size(); i++) {
            assertAnswers(inputs.get(i), result(jobs.get(i)));
        }
        // 1+2+3+1 = 7 rows fit in 8; the last 2-row job would overflow and runs next.
        assertThat(session.runs()).extracting(FakeSession.Run::rows).containsExactly(1, 7, 2);
        float[] stacked = session.runs().get(1).x();
        assertThat(stacked).startsWith(floats(inputs.get(0))).endsWith(floats(inputs.get(3)));
    }

    @Test
    void run_routesOutputsToTheRightJobUnderConcurrency() throws Exception {
        ModelScheduler scheduler = scheduler(new SchedulerSettings(2, 8, TimeUnit.MICROSECONDS.toNanos(200),
                List.of(4), 10_000, 2, true, 1), Ticker.SYSTEM, timer, SchedulerMetrics.NONE);
        int threads = 16;
        int perThread = 100;
        ExecutorService submitters = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Integer>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(submitters.submit(() -> {
                    int rows = 0;
                    for (int i = 0; i < perThread; i++) {
                        int n = 1 + ThreadLocalRandom.current().nextInt(3);
                        Tensor x = FakeSession.rows(thread * 100_000 + i * 100, n);
                        ModelScheduler.Arrival arrival = scheduler.arrive();
                        Job job = scheduler.submit(arrival, List.of(x), Y_S, n, i % 2, Job.NO_DEADLINE);
                        assertAnswers(x, result(job));
                        rows += n;
                    }
                    return rows;
                }));
            }
            int rows = 0;
            for (Future<Integer> future : done) {
                rows += future.get(60, TimeUnit.SECONDS);
            }
            assertThat(session.runs().stream().mapToInt(FakeSession.Run::rows).sum()).isEqualTo(rows);
            assertThat(session.runs()).allSatisfy(run -> assertThat(run.rows()).isBetween(1, 8));
        } finally {
            submitters.shutdownNow();
        }
    }

    @Test
    void run_passesTheOutputsAskedForInTheirOrder() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        Tensor x = FakeSession.rows(3, 2);
        Job job = scheduler.submit(null, List.of(x), List.of("s"), 2, 0, Job.NO_DEADLINE);

        List<Tensor> outputs = result(job);

        assertThat(outputs).extracting(Tensor::name).containsExactly("s");
        assertThat(session.runs().get(0).outputs()).containsExactly("s");
    }

    @Test
    void run_withoutBatchingRunsEachJobAlone() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 0, HOUR));
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        Job a = submit(scheduler, FakeSession.rows(10, 1));
        Job b = submit(scheduler, FakeSession.rows(20, 1));
        session.openGate();

        result(first);
        assertAnswers(FakeSession.rows(10, 1), result(a));
        assertAnswers(FakeSession.rows(20, 1), result(b));
        assertThat(session.runs()).extracting(FakeSession.Run::rows).containsExactly(1, 1, 1);
    }

    @Test
    void run_ordersQueuedJobsByPriority() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 0, HOUR));
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        Job low = scheduler.submit(null, List.of(FakeSession.rows(10, 1)), Y_S, 1, 1, Job.NO_DEADLINE);
        Job high = scheduler.submit(null, List.of(FakeSession.rows(20, 1)), Y_S, 1, 0, Job.NO_DEADLINE);
        session.openGate();

        for (Job job : List.of(first, low, high)) {
            result(job);
        }
        assertThat(session.runs()).extracting(run -> run.x()[0]).containsExactly(0f, 20f, 10f);
    }

    // ---- arrivals ----

    @Test
    void arrival_passedToSubmitIsConsumedOnce() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        ModelScheduler.Arrival arrival = scheduler.arrive();
        assertThat(arrival.startedNanos()).isEqualTo(ticker.now());
        Job a = scheduler.submit(arrival, List.of(FakeSession.rows(1, 1)), Y_S, 1, 0, Job.NO_DEADLINE);
        result(a);
        arrival.close(); // after submit: a no-op, or the next batch would wait for a phantom request
        arrival.close();

        // With the manual ticker and an hour's delay, only "nothing arriving" lets this run.
        Job b = submit(scheduler, FakeSession.rows(2, 1));
        assertAnswers(FakeSession.rows(2, 1), result(b));
    }

    @Test
    void arrival_closedWithoutSubmitLetsTheWaitingBatchRun() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        ModelScheduler.Arrival pending = scheduler.arrive();
        Job a = submit(scheduler, FakeSession.rows(1, 1));

        pending.close();

        assertAnswers(FakeSession.rows(1, 1), result(a));
    }

    @Test
    void arrival_thatIsSubmittedJoinsTheWaitingBatch() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        ModelScheduler.Arrival pending = scheduler.arrive();
        Job a = submit(scheduler, FakeSession.rows(1, 1));
        Job b = scheduler.submit(pending, List.of(FakeSession.rows(2, 1)), Y_S, 1, 0, Job.NO_DEADLINE);

        result(a);
        result(b);
        assertThat(session.runs()).extracting(FakeSession.Run::rows).containsExactly(2);
    }

    // ---- bounds and deadlines ----

    @Test
    void submit_refusesBeyondMaxQueueSize() {
        ModelScheduler scheduler = scheduler(new SchedulerSettings(1, 8, HOUR, List.of(), 2, 1, false, 1));
        session.closeGate();
        submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        submit(scheduler, FakeSession.rows(1, 1));
        submit(scheduler, FakeSession.rows(2, 1));

        assertFails(ErrorCode.RESOURCE_EXHAUSTED, () -> submit(scheduler, FakeSession.rows(3, 1)))
                .hasMessageContaining("max_queue_size");
        assertThat(scheduler.queueDepth()).isEqualTo(2);
    }

    @Test
    void submit_ofMoreRowsThanMaxBatchSizeIsRefusedOrRunAlone() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 2, HOUR));
        Tensor x = FakeSession.rows(1, 3);
        Job big;
        try {
            big = scheduler.submit(null, List.of(x), Y_S, 3, 0, Job.NO_DEADLINE);
        } catch (ServalException | IllegalArgumentException refused) {
            return; // refusing it is fine
        }
        try {
            // Accepted: it must then be answered, and must not stop the jobs behind it.
            assertAnswers(x, big.result().get(10, TimeUnit.SECONDS));
        } catch (TimeoutException e) {
            big.abandon(); // lets the stuck instance drop it, so that close() can end the threads
            throw new AssertionError("a job of 3 rows with max_batch_size 2 was accepted but never run", e);
        }
        Job next = submit(scheduler, FakeSession.rows(5, 1));
        assertAnswers(FakeSession.rows(5, 1), result(next));
    }

    @Test
    void run_neverSeesJobsWhoseDeadlinePassedWhileQueued() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        Job late = scheduler.submit(null, List.of(FakeSession.rows(10, 1)), Y_S, 1, 0, ticker.now() + 1_000);
        Job gone = submit(scheduler, FakeSession.rows(20, 1));
        Job next = submit(scheduler, FakeSession.rows(30, 1));
        gone.abandon();
        ticker.advance(1_000);

        session.openGate();

        result(first);
        assertAnswers(FakeSession.rows(30, 1), result(next));
        ServalException e = failure(late);
        assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
        assertThat(e.getMessage()).contains("m:1").contains("not run");
        assertThat(gone.result()).isNotDone();
        assertThat(session.runs()).extracting(run -> run.x()[0]).containsExactly(0f, 30f);
        assertThat(scheduler.queueDepth()).isZero();
    }

    @Test
    void run_isCancelledByTheTimerWhenEveryJobsDeadlinePassed() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.behaviour(ModelSchedulerTest::waitUntilCancelled);
        // The manual ticker never reaches the deadline, so the jobs cannot expire in the queue; the
        // timer, on real time, fires the cancel (deadline - start) = a microsecond after the start.
        Job a = scheduler.submit(null, List.of(FakeSession.rows(1, 1)), Y_S, 1, 0, ticker.now() + 1_000);

        ServalException e = failure(a);

        assertThat(e.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
        RunControl control = session.runs().get(0).control();
        assertThat(control).isNotNull();
        assertThat(control.isCancelled()).isTrue();
    }

    @Test
    void run_cancelledFailsEveryJobOfTheBatch() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        long deadline = ticker.now() + 1_000;
        Job a = scheduler.submit(null, List.of(FakeSession.rows(1, 1)), Y_S, 1, 0, deadline);
        Job b = scheduler.submit(null, List.of(FakeSession.rows(2, 2)), Y_S, 2, 0, deadline + 1);
        session.behaviour(ModelSchedulerTest::waitUntilCancelled);
        session.openGate();

        result(first);
        assertThat(failure(a).code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
        assertThat(failure(b).code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED);
        assertThat(session.runs()).extracting(FakeSession.Run::rows).containsExactly(1, 3);
    }

    @Test
    void run_timerFiresAtTheLatestDeadlineOfTheBatchAndIsCancelledAfterTheRun() throws Exception {
        RecordingTimer recording = new RecordingTimer();
        try {
            ModelScheduler scheduler = scheduler(settings(1, 8, HOUR), ticker, recording, SchedulerMetrics.NONE);
            session.closeGate();
            Job first = submit(scheduler, FakeSession.rows(0, 1));
            session.awaitRuns(1);
            long start = ticker.now();
            Job a = scheduler.submit(null, List.of(FakeSession.rows(1, 1)), Y_S, 1, 0, start + 7_000);
            Job b = scheduler.submit(null, List.of(FakeSession.rows(2, 1)), Y_S, 1, 0, start + 9_000);
            Job c = scheduler.submit(null, List.of(FakeSession.rows(3, 1)), Y_S, 1, 0, start + 8_000);
            ticker.advance(2_000);
            session.openGate();

            result(first);
            result(a);
            result(b);
            result(c);
            // The instance cancels the timer after completing the jobs; its next run comes after.
            result(submit(scheduler, FakeSession.rows(4, 1)));
            assertThat(recording.delays).containsExactly(7_000L);
            assertThat(recording.futures.get(0).isCancelled()).as("the timer is cancelled when the run ends").isTrue();
            assertThat(session.runs().get(0).control()).as("no deadline, no control").isNull();
            assertThat(session.runs().get(1).control()).isNotNull();
            assertThat(session.runs().get(1).control().isCancelled()).isFalse();
        } finally {
            recording.shutdownNow();
        }
    }

    @Test
    void run_withAJobWithoutDeadlineIsNeverCancelled() throws Exception {
        RecordingTimer recording = new RecordingTimer();
        try {
            ModelScheduler scheduler = scheduler(settings(1, 8, HOUR), ticker, recording, SchedulerMetrics.NONE);
            session.closeGate();
            Job first = submit(scheduler, FakeSession.rows(0, 1));
            session.awaitRuns(1);
            Job a = scheduler.submit(null, List.of(FakeSession.rows(1, 1)), Y_S, 1, 0, ticker.now() + 1_000);
            Job b = submit(scheduler, FakeSession.rows(2, 1));
            session.openGate();

            result(first);
            result(a);
            result(b);
            assertThat(session.runs()).extracting(FakeSession.Run::rows).containsExactly(1, 2);
            assertThat(session.runs().get(1).control()).isNull();
            assertThat(recording.delays).isEmpty();
        } finally {
            recording.shutdownNow();
        }
    }

    // ---- failures ----

    @Test
    void run_sessionFailureFailsEveryJobOfTheBatch() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        List<Job> jobs = List.of(submit(scheduler, FakeSession.rows(1, 1)), submit(scheduler, FakeSession.rows(2, 2)),
                submit(scheduler, FakeSession.rows(3, 1)));
        ServalException boom = ServalException.internal("ONNX Runtime failed", null);
        session.behaviour((in, out, control) -> {
            throw boom;
        });
        session.openGate();

        result(first);
        for (Job job : jobs) {
            assertThat(failure(job)).isSameAs(boom);
        }
        assertThat(session.runs()).hasSize(2);
    }

    @Test
    void run_outOfMemory_failsItsJobsResourceExhausted_andTheInstanceGoesOn() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.behaviour((in, out, control) -> {
            throw new OutOfMemoryError("Cannot reserve 19267584 bytes of direct buffer memory");
        });
        ServalException refused = failure(submit(scheduler, FakeSession.rows(1, 1)));
        assertThat(refused.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
        assertThat(refused.getMessage()).contains("ran out of memory").contains("direct buffer memory");

        session.behaviour(FakeSession::addOne);
        assertThat(result(submit(scheduler, FakeSession.rows(2, 1)))).as("the same instance serves on").isNotEmpty();
        assertThat(session.runs()).hasSize(2);
    }

    @Test
    void run_outputWithoutTheBatchRowsFailsEveryJobAsInternal() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        Job a = submit(scheduler, FakeSession.rows(1, 1));
        Job b = submit(scheduler, FakeSession.rows(2, 1));
        session.behaviour((in, out, control) -> List.of(FakeSession.x(1, 2, 3), FakeSession.x(4, 5, 6)));
        session.openGate();

        result(first);
        assertThat(failure(a).code()).isEqualTo(ErrorCode.INTERNAL);
        assertThat(failure(b).code()).isEqualTo(ErrorCode.INTERNAL);
    }

    @Test
    void run_keepsServingAfterAFailedRun() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR));
        session.behaviour((in, out, control) -> {
            throw new IllegalStateException("native crash");
        });
        Job bad = submit(scheduler, FakeSession.rows(0, 1));
        assertThatThrownBy(() -> bad.result().get(30, TimeUnit.SECONDS))
                .hasCauseInstanceOf(IllegalStateException.class);

        session.behaviour(FakeSession::addOne);
        Job good = submit(scheduler, FakeSession.rows(1, 1));
        assertAnswers(FakeSession.rows(1, 1), result(good));
    }

    // ---- close ----

    @Test
    void close_letsQueuedWorkFinishAndRefusesNewWork() throws Exception {
        ModelScheduler scheduler = scheduler(settings(1, 2, HOUR));
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        List<Tensor> inputs = List.of(FakeSession.rows(1, 1), FakeSession.rows(2, 1), FakeSession.rows(3, 1));
        List<Job> queued = new ArrayList<>();
        for (Tensor x : inputs) {
            queued.add(submit(scheduler, x));
        }
        Thread closer = Thread.ofPlatform().name("closer").start(scheduler::close);
        // close() refuses new work before it joins the instances.
        awaitUntil(() -> closer.getState() == Thread.State.TIMED_WAITING || !closer.isAlive());
        assertFails(ErrorCode.UNAVAILABLE, () -> submit(scheduler, FakeSession.rows(9, 1)))
                .hasMessageContaining("m:1");
        assertThat(closer.isAlive()).as("close waits for the held run").isTrue();

        session.openGate();
        closer.join(TimeUnit.SECONDS.toMillis(30));

        assertThat(closer.isAlive()).isFalse();
        result(first);
        for (int i = 0; i < inputs.size(); i++) {
            assertAnswers(inputs.get(i), result(queued.get(i)));
        }
        assertThat(session.runs()).extracting(FakeSession.Run::rows).containsExactly(1, 2, 1);
        assertThat(session.runs()).extracting(FakeSession.Run::thread).allSatisfy(t -> assertThat(t.isAlive()).isFalse());
    }

    @Test
    void close_withNothingQueuedEndsTheThreads() throws Exception {
        ModelScheduler scheduler = scheduler(settings(2, 8, HOUR));
        result(submit(scheduler, FakeSession.rows(0, 1)));

        scheduler.close();

        assertThat(session.runs().get(0).thread().isAlive()).isFalse();
        assertFails(ErrorCode.UNAVAILABLE, () -> submit(scheduler, FakeSession.rows(1, 1)));
    }

    // ---- metrics ----

    @Test
    void metrics_reportBatchQueueWaitAndComputeOnTheTicker() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        SchedulerMetrics metrics = new SchedulerMetrics() {
            @Override
            public void batch(int requests, int rows) {
                events.add("batch " + requests + "/" + rows);
            }

            @Override
            public void queueWait(long nanos) {
                events.add("wait " + nanos);
            }

            @Override
            public void compute(long nanos) {
                events.add("compute " + nanos);
            }
        };
        ModelScheduler scheduler = scheduler(settings(1, 8, HOUR), ticker, timer, metrics);
        session.closeGate();
        Job first = submit(scheduler, FakeSession.rows(0, 1));
        session.awaitRuns(1);
        Job a = submit(scheduler, FakeSession.rows(1, 2));
        ticker.advance(300);
        Job b = submit(scheduler, FakeSession.rows(2, 1));
        ticker.advance(700);
        session.behaviour((in, out, control) -> {
            ticker.advance(50);
            return FakeSession.addOne(in, out, control);
        });
        session.openGate();

        result(first);
        result(a);
        result(b);
        // The first run started at once and ended when the gate opened (ticker +1000); the second
        // started then, and its session moved the ticker by 50.
        assertThat(events).containsExactly("wait 0", "batch 1/1", "compute 1000",
                "wait 1000", "wait 700", "batch 2/3", "compute 50");
    }

    // ---- helpers ----

    private static List<Tensor> waitUntilCancelled(List<Tensor> in, List<String> out, RunControl control)
            throws InterruptedException {
        if (control == null) {
            throw new IllegalStateException("a run with deadlines must get a control");
        }
        CountDownLatch cancelled = new CountDownLatch(1);
        if (control.attach(cancelled::countDown)) {
            if (!cancelled.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the run was never cancelled");
            }
            control.detach();
        }
        throw new ServalException(ErrorCode.DEADLINE_EXCEEDED, "the run was stopped: its deadline passed");
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertFails(
            ErrorCode code, ThrowableAssert.ThrowingCallable call) {
        return assertThatThrownBy(call).isInstanceOfSatisfying(ServalException.class,
                e -> assertThat(e.code()).isEqualTo(code));
    }

    private static void awaitUntil(BooleanSupplier condition) {
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - giveUp > 0) {
                throw new AssertionError("condition never held");
            }
            Thread.onSpinWait();
        }
    }

    /** Records each scheduled cancel's delay; never fires it on its own. */
    private static final class RecordingTimer extends ScheduledThreadPoolExecutor {
        final List<Long> delays = new CopyOnWriteArrayList<>();
        final List<ScheduledFuture<?>> futures = new CopyOnWriteArrayList<>();

        RecordingTimer() {
            super(1, ServalThreads.platform("recording-timer"));
        }

        @Override
        public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
            delays.add(unit.toNanos(delay));
            ScheduledFuture<?> future = super.schedule(command, 1, TimeUnit.DAYS);
            futures.add(future);
            return future;
        }
    }
}
