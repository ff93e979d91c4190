package dev.serval.schedule;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.RunControl;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one model version: a bounded priority queue feeding {@code instanceCount} platform threads,
 * each taking a batch from the queue (see {@link JobQueue}), stacking it, running the session and
 * splitting the outputs back to each request. How many rows a run gathers is learned per model
 * ({@link BatchCeiling}), up to {@code max_batch_size}.
 *
 * <p>Inline runs: a request for a model whose runs of one request are short (at most
 * {@link SchedulerSettings#inlineRunLimitNanos()}, as measured here) that finds nothing queued and
 * an instance free runs in the submitting thread, and {@link #submit} returns its job completed.
 * Under load requests queue as usual and the instance threads batch them, so the hand-off is then
 * paid once per batch rather than per request.
 *
 * <p>Deadlines: a request whose deadline passes while queued is dropped before compute and failed
 * with DEADLINE_EXCEEDED. A run still going when every request in it is past its deadline is
 * stopped through the runtime ({@link RunControl}): the run's timer fires at the latest deadline
 * of the batch, so no request loses a run it still had time for.
 *
 * <p>Thread-safe. {@link #close()} refuses new work, lets queued work finish and joins the threads.
 */
public final class ModelScheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelScheduler.class);
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Full runs a {@link BatchCeiling} measures before it probes another size. */
    static final int CEILING_WINDOW = 32;

    private final String name;
    private final ModelSession session;
    private final SchedulerSettings settings;
    private final Ticker ticker;
    private final ScheduledExecutorService timer;
    private final SchedulerMetrics metrics;
    private final JobQueue queue;
    private final BatchCeiling ceiling;
    /**
     * Whether a run's cost for the {@link BatchCeiling} is its thread's CPU time: when the run
     * uses one thread, the instance thread does all of it, and CPU time leaves out the time the
     * thread waited for a core. Wall time would not: on a busy core (request threads decoding
     * the next bodies) it charged small batches, which overlap that work more, up to 40% more per
     * row than large ones, the opposite of what the model costs (measured with MobileNetV2).
     */
    private final boolean cpuClock;
    private final List<Thread> instances;
    /**
     * Wall time of a run of one request, a moving average over recent runs; {@code Long.MAX_VALUE}
     * until the first run. Written by whichever thread ran (races lose an update, which is harmless).
     */
    private volatile long singleRunNanos = Long.MAX_VALUE;

    /**
     * @param name    for thread names and messages, e.g. {@code iris:1}
     * @param timer   fires run cancellations at deadlines; shared, owned by the caller
     */
    public ModelScheduler(String name, ModelSession session, SchedulerSettings settings, Ticker ticker,
                          ThreadFactory threads, ScheduledExecutorService timer, SchedulerMetrics metrics) {
        this.name = name;
        this.session = session;
        this.settings = settings;
        this.ticker = ticker;
        this.timer = timer;
        this.metrics = metrics;
        this.queue = new JobQueue(name, settings.maxQueueSize(), settings.priorityLevels(), settings.instanceCount());
        // Only a learning ceiling needs each run's cost: the others pay no clock reads per run.
        this.ceiling = settings.batching() && settings.adaptiveBatchSize()
                ? new BatchCeiling(name, settings.maxBatchSize(), CEILING_WINDOW, true)
                : null;
        this.cpuClock = ceiling != null && settings.runThreads() == 1 && THREADS.isCurrentThreadCpuTimeSupported();
        this.instances = new ArrayList<>(settings.instanceCount());
        for (int i = 0; i < settings.instanceCount(); i++) {
            Thread thread = threads.newThread(this::work);
            instances.add(thread);
            thread.start();
        }
    }

    public SchedulerSettings settings() {
        return settings;
    }

    /**
     * Announces a request on its way to this model, so that a forming batch may wait for it. Close
     * the arrival (or pass it to {@link #submit}) when the request is queued or fails.
     */
    public Arrival arrive() {
        queue.arrive();
        return new Arrival(ticker.nanoTime());
    }

    /** A request between the transport finding the model and the request being queued. */
    public final class Arrival implements AutoCloseable {
        private final long startedNanos;
        private final AtomicBoolean open = new AtomicBoolean(true);

        private Arrival(long startedNanos) {
            this.startedNanos = startedNanos;
        }

        /** When the request arrived, on the scheduler's ticker. */
        public long startedNanos() {
            return startedNanos;
        }

        boolean consume() {
            return open.compareAndSet(true, false);
        }

        @Override
        public void close() {
            if (consume()) {
                queue.leave();
            }
        }
    }

    /**
     * Queues a request, or runs it in the calling thread when it may (see the class notes), in
     * which case the returned job is already completed.
     *
     * @param arrival  the request's arrival, or null if it was not announced
     * @param rows     rows in the batch dimension (1 for models without one)
     * @param level    priority level, 0 the highest
     * @param deadline {@link Job#NO_DEADLINE} or a {@link Ticker} time
     * @throws ServalException RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE after close
     */
    public Job submit(Arrival arrival, List<Tensor> inputs, List<String> outputs, int rows, int level, long deadline) {
        if (settings.batching() && rows > settings.maxBatchSize()) {
            throw ServalException.invalidArgument("the request has a batch of %d but model '%s' takes at most %d "
                    + "(max_batch_size)", rows, name, settings.maxBatchSize());
        }
        Job job = new Job(inputs, outputs, rows, level, ticker.nanoTime(), deadline, settings.batching());
        boolean arrived = arrival != null && arrival.consume();
        if (settings.inlineRunLimitNanos() == 0 || singleRunNanos > settings.inlineRunLimitNanos()) {
            queue.offer(job, arrived);
        } else if (queue.claim(job, arrived)) {
            if (deadline != Job.NO_DEADLINE && job.enqueuedNanos - deadline >= 0) {
                queue.done();
                expire(job);
            } else {
                run(List.of(job), 1, true);
            }
        }
        return job;
    }

    /** Requests waiting to run. */
    public int queueDepth() {
        return queue.size();
    }

    /** How long the longest-waiting request has waited so far. */
    public long oldestWaitNanos() {
        return queue.oldestWaitNanos(ticker.nanoTime());
    }

    private void work() {
        try {
            while (true) {
                int ceilingNow = batchCeiling();
                List<Job> batch = queue.takeBatch(settings, ceilingNow, ticker, this::expire);
                if (batch == null) {
                    return;
                }
                run(batch, ceilingNow, false);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            log.error("scheduler thread of {} stopped", name, e);
            throw e;
        }
    }

    /**
     * The most rows the next run may gather: learned ({@link BatchCeiling}), or max_batch_size when
     * the config turns learning off, or 1 without batching.
     */
    public int batchCeiling() {
        if (ceiling != null) {
            return ceiling.current();
        }
        return settings.batching() ? settings.maxBatchSize() : 1;
    }

    private void expire(Job job) {
        double waitedMs = (ticker.nanoTime() - job.enqueuedNanos) / 1e6;
        job.result().completeExceptionally(new ServalException(ErrorCode.DEADLINE_EXCEEDED, String.format(
                java.util.Locale.ROOT, "the request waited %.1f ms in model '%s''s queue and its deadline passed; "
                        + "it was not run", waitedMs, name)));
    }

    /**
     * Runs a batch that holds a run slot of the {@link JobQueue}, and gives the slot back as soon
     * as the runtime returns: splitting and answering need no instance, and a request answered
     * here may come back at once (a client in a closed loop) and should find the slot free.
     *
     * <p>A run that fails fails its requests and nothing else: an instance thread that died of an
     * Error (direct memory for a stacked batch, under overload) would leave the model unable to
     * serve while it still looked ready.
     *
     * @param inline whether the run is in a request's thread: the {@link BatchCeiling} learns only
     *               from the instances' runs (it measures them by their thread's CPU time)
     */
    private void run(List<Job> batch, int ceilingNow, boolean inline) {
        long started = ticker.nanoTime();
        long cpuStarted = cpuClock && !inline ? THREADS.getCurrentThreadCpuTime() : 0;
        int rows = 0;
        long deadline = Long.MIN_VALUE;
        for (Job job : batch) {
            metrics.queueWait(started - job.enqueuedNanos);
            rows += job.rows;
            deadline = Math.max(deadline, job.deadlineNanos);
        }
        metrics.batch(batch.size(), rows);
        RunControl control = null;
        ScheduledFuture<?> stop = null;
        List<Tensor> stacked = null;
        boolean holdsSlot = true;
        try {
            if (deadline != Job.NO_DEADLINE) {
                // Inside the try: a timer that refuses (shut down) fails the batch and frees the slot.
                control = new RunControl();
                stop = timer.schedule(control::cancel, Math.max(0, deadline - started), TimeUnit.NANOSECONDS);
            }
            Job first = batch.get(0);
            List<Tensor> inputs = first.inputs;
            if (batch.size() > 1) {
                stacked = Batches.concat(batch);
                inputs = stacked;
            }
            List<Tensor> outputs = session.run(inputs, first.outputs, control);
            holdsSlot = false;
            queue.done();
            long took = ticker.nanoTime() - started;
            metrics.compute(took);
            if (batch.size() == 1) {
                long average = singleRunNanos;
                singleRunNanos = average == Long.MAX_VALUE ? took : average + (took - average) / 8;
                first.result().complete(outputs);
            } else {
                List<List<Tensor>> shares = Batches.split(batch, outputs);
                for (int i = 0; i < batch.size(); i++) {
                    batch.get(i).result().complete(shares.get(i));
                }
            }
            if (ceiling != null && !inline) {
                long cost = cpuClock ? THREADS.getCurrentThreadCpuTime() - cpuStarted : ticker.nanoTime() - started;
                ceiling.record(ceilingNow, rows, cost);
            }
        } catch (Throwable t) {
            if (holdsSlot) {
                holdsSlot = false;
                queue.done();
            }
            Throwable failure = t;
            if (t instanceof OutOfMemoryError) {
                // Direct memory for a batch's tensors ran out (overload): the requests are refused
                // as the overloaded server refuses others, and the instance keeps serving.
                failure = new ServalException(ErrorCode.RESOURCE_EXHAUSTED, "the server ran out of memory for a "
                        + "batch of " + rows + " row(s) of model '" + name + "' (" + t.getMessage() + "); retry later");
            }
            if (t instanceof Error) {
                log.error("a run of {} failed; its {} request(s) are failed and the instance goes on", name,
                        batch.size(), t);
            }
            for (Job job : batch) {
                job.result().completeExceptionally(failure);
            }
        } finally {
            if (stop != null) {
                stop.cancel(false);
            }
            if (stacked != null) {
                stacked.forEach(Tensor::release);
            }
        }
    }

    /** Refuses new requests, lets queued ones run, and waits for the threads to end. */
    @Override
    public void close() {
        queue.close();
        for (Thread thread : instances) {
            try {
                thread.join(TimeUnit.MINUTES.toMillis(1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
