package dev.serval.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Requests for a model with short runs run in the submitting thread when nothing is queued and an
 * instance is free; otherwise they queue as usual. Run times are the {@link ManualTicker}'s, so
 * "short" and "long" are set by the test, not measured.
 */
@Timeout(60)
class InlineRunsTest {
    private static final long HOUR = TimeUnit.HOURS.toNanos(1);
    private static final long LIMIT = TimeUnit.MICROSECONDS.toNanos(100);
    private static final List<String> Y_S = List.of("y", "s");

    private final FakeSession session = new FakeSession();
    private final ManualTicker ticker = new ManualTicker(5_000, null);
    private final List<ModelScheduler> schedulers = new ArrayList<>();
    private final ExecutorService callers = Executors.newCachedThreadPool(ServalThreads.platform("caller"));
    private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, ServalThreads.platform("deadlines"));

    @AfterEach
    void close() {
        session.openGate();
        schedulers.forEach(ModelScheduler::close);
        callers.shutdownNow();
        timer.shutdownNow();
    }

    private ModelScheduler scheduler(int instances, int maxBatchSize, long inlineLimit) {
        SchedulerSettings settings = new SchedulerSettings(instances, maxBatchSize, HOUR, List.of(), 1000, 1, false, 1,
                inlineLimit);
        ModelScheduler scheduler = new ModelScheduler("m:1", session, settings, ticker,
                ServalThreads.platform("serval-m-v1"), timer, SchedulerMetrics.NONE);
        schedulers.add(scheduler);
        return scheduler;
    }

    private static Job submit(ModelScheduler scheduler, float base) {
        return scheduler.submit(null, List.of(FakeSession.rows(base, 1)), Y_S, 1, 0, Job.NO_DEADLINE);
    }

    private static List<Tensor> result(Job job) throws Exception {
        try {
            return job.result().get(30, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("the job was never answered", e);
        }
    }

    /**
     * After one measured run, submits {@code base}'s row from a caller thread, where it runs inline
     * and is held at the closed gate: the model's one instance slot stays taken until the gate opens.
     */
    private Future<Job> holdAnInlineRun(ModelScheduler scheduler, float base) throws Exception {
        result(submit(scheduler, 1));
        session.closeGate();
        Future<Job> held = callers.submit(() -> submit(scheduler, base));
        session.awaitRuns(1);
        return held;
    }

    /** The thread of the run that computed {@code base}'s row. */
    private Thread ranOn(float base) {
        return session.runs().stream().filter(run -> run.x().length > 0 && run.x()[0] == base)
                .findFirst().orElseThrow().thread();
    }

    @Test
    void shortRuns_runInTheSubmittingThreadOnceARunWasMeasured() throws Exception {
        ModelScheduler scheduler = scheduler(1, 8, LIMIT);
        result(submit(scheduler, 1)); // nothing measured yet: through an instance
        assertThat(ranOn(1).getName()).startsWith("serval-m-v1-");

        Job job = submit(scheduler, 100);

        assertThat(job.result()).isDone();
        assertThat(ranOn(100)).isSameAs(Thread.currentThread());
        assertThat(result(job).get(1).buffer().getFloat(0)).isEqualTo(100 + 101 + 102);
    }

    @Test
    void longRuns_stayOnTheInstanceThreads() throws Exception {
        ModelScheduler scheduler = scheduler(1, 8, LIMIT);
        session.behaviour((in, out, control) -> {
            ticker.advance(LIMIT + 1);
            return FakeSession.addOne(in, out, control);
        });
        result(submit(scheduler, 1));

        Job job = submit(scheduler, 100);
        result(job);

        assertThat(ranOn(100).getName()).startsWith("serval-m-v1-");
    }

    @Test
    void aZeroLimitNeverRunsInline() throws Exception {
        ModelScheduler scheduler = scheduler(1, 8, 0);
        result(submit(scheduler, 1));

        result(submit(scheduler, 100));

        assertThat(ranOn(100).getName()).startsWith("serval-m-v1-");
    }

    @Test
    void anInlineRunHoldsTheInstanceSlot_soTheInstanceWaitsForIt() throws Exception {
        ModelScheduler scheduler = scheduler(1, 0, LIMIT);
        Future<Job> held = holdAnInlineRun(scheduler, 100);

        Job queued = submit(scheduler, 200);

        assertThat(queued.result()).isNotDone();
        assertThat(scheduler.queueDepth()).isEqualTo(1);
        assertThat(session.runs()).hasSize(2); // the warm-up run and the held one: the instance did not start
        session.openGate();
        assertThat(held.get(30, TimeUnit.SECONDS).result()).isDone();
        result(queued);
        assertThat(ranOn(100).getName()).startsWith("caller");
        assertThat(ranOn(200).getName()).startsWith("serval-m-v1-");
    }

    @Test
    void aRequestNeverOvertakesAQueuedOne_andQueuedRequestsStillBatch() throws Exception {
        ModelScheduler scheduler = scheduler(1, 8, LIMIT);
        Future<Job> held = holdAnInlineRun(scheduler, 100);
        Job queued = submit(scheduler, 200);
        ModelScheduler.Arrival coming = scheduler.arrive(); // the batcher will wait for it
        session.openGate();
        held.get(30, TimeUnit.SECONDS);
        // The slot is free now, but a request waits (for its batch to fill): a new one must queue.
        Job next = submit(scheduler, 300);

        assertThat(next.result()).isNotDone();
        coming.close();
        result(queued);
        result(next);
        FakeSession.Run last = session.runs().get(session.runs().size() - 1);
        assertThat(last.rows()).isEqualTo(2);
        assertThat(last.thread().getName()).startsWith("serval-m-v1-");
    }

    @Test
    void aRunWhoseDeadlineTimerRefusesFailsItsRequest_andFreesTheSlotForTheNext() throws Exception {
        ModelScheduler scheduler = scheduler(1, 8, LIMIT);
        result(submit(scheduler, 1));
        timer.shutdownNow(); // as during a shutdown: scheduling the run's deadline is refused

        Job refused = scheduler.submit(null, List.of(FakeSession.rows(100, 1)), Y_S, 1, 0, ticker.now() + HOUR);

        assertThat(refused.result()).isCompletedExceptionally();
        result(submit(scheduler, 200)); // no deadline: it runs, so the slot was given back
        assertThat(ranOn(200)).isSameAs(Thread.currentThread());
    }

    @Test
    void anInlineRequestPastItsDeadlineIsNeverRun() throws Exception {
        ModelScheduler scheduler = scheduler(1, 8, LIMIT);
        result(submit(scheduler, 1));

        Job job = scheduler.submit(null, List.of(FakeSession.rows(100, 1)), Y_S, 1, 0, ticker.now());

        assertThat(job.result()).isDone();
        try {
            job.result().get();
            throw new AssertionError("the job succeeded");
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOfSatisfying(ServalException.class,
                    failure -> assertThat(failure.code()).isEqualTo(ErrorCode.DEADLINE_EXCEEDED));
        }
        assertThat(session.runs()).hasSize(1);
    }
}
