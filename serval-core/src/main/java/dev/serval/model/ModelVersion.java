package dev.serval.model;

import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.ModelMetadata;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.metrics.ModelMetrics;
import dev.serval.pipeline.Pipeline;
import dev.serval.runtime.ModelSession;
import dev.serval.schedule.Job;
import dev.serval.schedule.ModelScheduler;
import dev.serval.schedule.Ticker;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One loaded version of a model: its session, its scheduler, and what it declares.
 *
 * <p>{@link #infer} validates a request against the model, reads its schedule policy (request
 * parameters {@code priority}, 1 the highest, and {@code timeout} in microseconds, as in Triton),
 * queues it and parks until the answer. It is meant for request threads: virtual threads park
 * cheaply, and the model runs on the scheduler's platform threads.
 *
 * <p>Graceful degradation: with a {@code fallback} configured, when the oldest queued request has
 * waited past the budget, new requests go to the fallback model and their responses carry the
 * parameter {@code degraded: true}; once this model's queue has drained, traffic returns. A
 * request the fallback cannot take (outputs it lacks, its queue full, not loaded) is served here:
 * no request fails because of the switch.
 *
 * <p>Pipelines: a model whose config declares a {@code pipeline} shows clients the pipeline's
 * inputs and outputs (metadata, validation); its pre-steps (feature lookup, assembly of the
 * model's input) run on the request thread before the request is queued, its post-steps
 * (labels) after the run, and a response whose features came from a degraded lookup carries
 * the parameter {@code degraded: true}.
 *
 * <p>Lifecycle. A version is used from {@link #arrive()} until its {@link #infer} returns (or
 * {@link #failed} is called): each use holds a lease. When the registry replaces or unloads the
 * version it first stops resolving it, then {@linkplain #retire retires} it: the retirement waits
 * until no lease is held, and only then closes the scheduler and the session. Design note: the
 * lease count and a CLOSED bit share one atomic int, so "no lease held" and "no lease may be taken
 * any more" become true in one compare-and-set: a request cannot slip in between the check and
 * the close. Requests that found this version just before it stopped being resolvable, and arrive
 * after it closed, are not failed: they go to what replaced it (the same version number if it was
 * reloaded, else the model's new default version if this one was the default), and the response
 * names the version that ran them. The window is the few instructions between the transport's
 * {@code resolve} and {@code arrive}; everything after {@code arrive} holds a lease.
 *
 * <p>Thread-safe.
 */
public final class ModelVersion implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelVersion.class);

    /** Request parameter: priority level, 1 the highest, 0 the model's default. */
    public static final String PRIORITY = "priority";
    /** Request parameter: deadline in microseconds from arrival, 0 the model's default. */
    public static final String TIMEOUT = "timeout";
    /** Response parameter set when the fallback model answered, or a pipeline's feature lookup was degraded. */
    public static final String DEGRADED = "degraded";

    /** Set in {@link #leases} once no lease may be taken: the version is closed or closing. */
    private static final int CLOSED = 1 << 30;
    private static final Parameters DEGRADED_LOOKUP = Parameters.empty().with(DEGRADED, Boolean.TRUE);

    private final String name;
    private final long version;
    /** {@link #version} as text, made once: every answer and metric names it. */
    private final String versionText;
    private final String platform;
    private final ModelSession session;
    /** The steps around the model, or null. */
    private final Pipeline pipeline;
    /** The model outputs a pipeline's run computes when a request asks for every output. */
    private final List<String> allModelOutputNames;
    private final ModelScheduler scheduler;
    private final int maxBatchSize;
    private final ModelConfig.DynamicBatching policy;
    private final List<String> labels;
    private final Supplier<List<String>> availableVersions;
    private final List<String> allOutputNames;
    private final Ticker ticker;
    private final ModelMetrics metrics;
    private final Optional<ModelConfig.Fallback> fallback;
    private final Function<String, ModelVersion> models;
    private volatile boolean degraded;

    /** Leases held, plus {@link #CLOSED} once closed. */
    private final AtomicInteger leases = new AtomicInteger();
    /** The retirement waits on this for the last lease to go. */
    private final Object idle = new Object();
    private volatile boolean retiring;
    /** Where arrivals go once closed; null: they fail (the model was unloaded or the server stops). */
    private volatile Supplier<ModelVersion> successor;
    private volatile String closedReason = "is shutting down";
    /** Arrivals handed to a successor after close, so that {@link #infer} can follow them there. */
    private final Map<ModelScheduler.Arrival, ModelVersion> redirected = new ConcurrentHashMap<>();
    private final AtomicBoolean resourcesClosed = new AtomicBoolean();
    private final List<TensorSpec> inputs;
    private final List<TensorSpec> outputs;

    /** @param pipeline the steps around the model, or null */
    ModelVersion(String name, long version, String platform, ModelSession session, Pipeline pipeline,
                 ModelScheduler scheduler, int maxBatchSize, ModelConfig config, List<String> labels,
                 Supplier<List<String>> availableVersions, Ticker ticker, ModelMetrics metrics, Function<String, ModelVersion> models) {
        this.name = name;
        this.version = version;
        this.versionText = Long.toString(version);
        this.platform = platform;
        this.session = session;
        this.pipeline = pipeline;
        this.scheduler = scheduler;
        this.maxBatchSize = maxBatchSize;
        this.policy = config.dynamicBatching();
        this.labels = List.copyOf(labels);
        this.availableVersions = availableVersions;
        this.inputs = List.copyOf(pipeline == null ? session.inputs() : pipeline.inputs());
        this.outputs = List.copyOf(pipeline == null ? session.outputs() : pipeline.outputs());
        this.allOutputNames = outputs.stream().map(TensorSpec::name).toList();
        this.allModelOutputNames = pipeline == null ? allOutputNames
                : pipeline.modelOutputs(allOutputNames);
        this.ticker = ticker;
        this.metrics = metrics;
        this.fallback = config.fallback();
        this.models = models;
    }

    public String name() {
        return name;
    }

    /** The version as the protocol writes it, e.g. {@code "1"}. */
    public String version() {
        return versionText;
    }

    public List<TensorSpec> inputs() {
        return inputs;
    }

    public List<TensorSpec> outputs() {
        return outputs;
    }

    /** Rows per run; 0 when the model has no batch dimension. */
    public int maxBatchSize() {
        return maxBatchSize;
    }

    /** The protocol's model metadata for this version. */
    public ModelMetadata metadata() {
        return new ModelMetadata(name, availableVersions.get(), platform, inputs, outputs);
    }

    /** Requests waiting for an instance. */
    public int queueDepth() {
        return scheduler.queueDepth();
    }

    /** True while new requests are being sent to the fallback model. */
    public boolean isDegraded() {
        return degraded;
    }

    /**
     * Announces a request on its way (the transport has found the model and is decoding), so a
     * forming batch can wait for it; its start time is the request's arrival. Close it, or pass it
     * to {@link #infer(InferenceRequest, ModelScheduler.Arrival)}.
     *
     * <p>The request holds a lease on this version from here until {@code infer} returns or
     * {@link #failed} is called: call exactly one of the two. If this version closed since the
     * transport found it, the arrival is taken by its successor and {@code infer} follows it there.
     *
     * @throws ServalException RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE when this
     *                         version was unloaded and nothing replaced it
     */
    public ModelScheduler.Arrival arrive() {
        if (!acquire()) {
            return redirect();
        }
        try {
            return scheduler.arrive();
        } catch (ServalException e) {
            release();
            metrics.request(0, e.code());
            throw e;
        }
    }

    /** An arrival at this version's successor, for a request that found this one just before it closed. */
    private ModelScheduler.Arrival redirect() {
        Supplier<ModelVersion> next = successor;
        ModelVersion target = next == null ? null : next.get();
        if (target == null || target == this) {
            throw ServalException.unavailable("model '%s' version %d %s", name, version, closedReason);
        }
        ModelScheduler.Arrival arrival = target.arrive();
        redirected.put(arrival, target);
        return arrival;
    }

    /** The version a redirected arrival belongs to, or null when it is this version's own. */
    private ModelVersion redirectedTo(ModelScheduler.Arrival arrival) {
        return (leases.get() & CLOSED) == 0 ? null : redirected.remove(arrival);
    }

    private boolean acquire() {
        while (true) {
            int state = leases.get();
            if ((state & CLOSED) != 0) {
                return false;
            }
            if (leases.compareAndSet(state, state + 1)) {
                return true;
            }
        }
    }

    private void release() {
        if ((leases.decrementAndGet() & ~CLOSED) == 0 && retiring) {
            synchronized (idle) {
                idle.notifyAll();
            }
        }
    }

    /** {@link #infer(InferenceRequest, ModelScheduler.Arrival)} for a request that arrives now. */
    public InferenceResponse infer(InferenceRequest request) {
        try (ModelScheduler.Arrival arrival = arrive()) {
            return infer(request, arrival);
        }
    }

    /**
     * Validates the request against the model, queues it, waits for its run and returns the
     * outputs asked for.
     *
     * @throws ServalException INVALID_ARGUMENT for inputs, outputs or parameters that do not fit
     *                         the model, RESOURCE_EXHAUSTED when the queue is full,
     *                         DEADLINE_EXCEEDED when the timeout passes first, INTERNAL when the
     *                         runtime fails
     */
    public InferenceResponse infer(InferenceRequest request, ModelScheduler.Arrival arrival) {
        ModelVersion target = redirectedTo(arrival);
        if (target != null) {
            return target.infer(request, arrival);
        }
        ErrorCode outcome = ErrorCode.INTERNAL;
        try {
            InferenceResponse response = degrade()
                    ? viaFallback(request, arrival)
                    : serve(request, arrival, arrival.startedNanos());
            outcome = null;
            return response;
        } catch (ServalException e) {
            outcome = e.code();
            throw e;
        } finally {
            metrics.request(ticker.nanoTime() - arrival.startedNanos(), outcome);
            release();
        }
    }

    /**
     * @param arrival the arrival announced to this model's scheduler, or null
     * @param arrived when the request arrived, for its deadline
     */
    private InferenceResponse serve(InferenceRequest request, ModelScheduler.Arrival arrival, long arrived) {
        List<Tensor> inputs = InputValidator.validate(name, this.inputs, request.inputs());
        List<RequestedOutput> requested = request.outputs();
        List<String> outputNames = requested.isEmpty() ? allOutputNames : outputNames(requested);
        int[] topK = classification(requested);
        int rows = rows(inputs);
        int level = priorityLevel(request.parameters());
        long deadline = deadline(request.parameters(), arrived);

        Parameters parameters = Parameters.empty();
        List<String> computed = outputNames;
        if (pipeline != null) {
            Pipeline.Prepared prepared;
            try {
                prepared = pipeline.prepare(inputs, rows);
            } finally {
                inputs.forEach(Tensor::release); // the assembled input holds all the model reads
            }
            inputs = List.of(prepared.input());
            computed = outputNames == allOutputNames ? allModelOutputNames : pipeline.modelOutputs(outputNames);
            parameters = prepared.degraded() ? DEGRADED_LOOKUP : parameters;
        }
        Job job = scheduler.submit(arrival, inputs, computed, rows, level, deadline);
        List<Tensor> outputs;
        try {
            outputs = await(job, deadline);
        } finally {
            // Once the job is done its inputs are read by no one: pooled buffers go back. An
            // abandoned job may still be in a run, so its buffers are left to the collector.
            if (job.result().isDone()) {
                inputs.forEach(Tensor::release);
            }
        }
        if (pipeline != null) {
            outputs = pipeline.finish(outputs, computed, outputNames);
        }

        if (topK != null) {
            List<Tensor> classified = new ArrayList<>(outputs.size());
            for (int i = 0; i < outputs.size(); i++) {
                classified.add(topK[i] > 0 ? Classification.apply(outputs.get(i), topK[i], labels) : outputs.get(i));
            }
            outputs = classified;
        }
        return new InferenceResponse(name, version(), request.id(), parameters, outputs);
    }

    /** Decides, and logs when it changes, whether new requests go to the fallback. */
    private boolean degrade() {
        if (fallback.isEmpty()) {
            return false;
        }
        if (!degraded) {
            long waited = scheduler.oldestWaitNanos();
            if (waited > TimeUnit.MICROSECONDS.toNanos(fallback.get().queueWaitBudgetMicros())) {
                degraded = true;
                log.warn("model {}:{} degrades to '{}': its oldest request has waited {} us, past the budget of {} us",
                        name, version, fallback.get().model(), waited / 1000, fallback.get().queueWaitBudgetMicros());
            }
        } else if (scheduler.queueDepth() == 0) {
            degraded = false;
            log.info("model {}:{} serves again: its queue has drained", name, version);
        }
        return degraded;
    }

    /** Records a request that failed before {@link #infer} (its body could not be read or decoded). */
    public void failed(ModelScheduler.Arrival arrival, ErrorCode code) {
        ModelVersion target = redirectedTo(arrival);
        if (target != null) {
            target.failed(arrival, code);
            return;
        }
        metrics.request(ticker.nanoTime() - arrival.startedNanos(), code);
        release();
    }

    private InferenceResponse viaFallback(InferenceRequest request, ModelScheduler.Arrival arrival) {
        long arrived = arrival.startedNanos();
        ModelVersion other;
        try {
            other = models.apply(fallback.get().model());
        } catch (ServalException e) {
            return serve(request, arrival, arrived);
        }
        if (other == this) {
            return serve(request, arrival, arrived);
        }
        if (!other.acquire()) {
            return serve(request, arrival, arrived); // the fallback is closing
        }
        arrival.close(); // it will not queue here, so batches forming here need not wait for it
        InferenceResponse answer;
        try {
            answer = other.serve(request, null, arrived);
        } catch (ServalException e) {
            if (e.code() == ErrorCode.DEADLINE_EXCEEDED || e.code() == ErrorCode.INTERNAL) {
                throw e;
            }
            // The fallback could not take it (outputs it lacks, full, unloaded): this model can.
            return serve(request, null, arrived);
        } finally {
            other.release();
        }
        metrics.degraded(other.name());
        Parameters parameters = answer.parameters().with(DEGRADED, Boolean.TRUE)
                .with("fallback_model", other.name()).with("fallback_version", other.version());
        return new InferenceResponse(name, version(), answer.id(), parameters, answer.outputs());
    }

    private int rows(List<Tensor> inputs) {
        if (maxBatchSize == 0 || inputs.isEmpty()) {
            return 1;
        }
        long rows = inputs.get(0).shape()[0];
        for (Tensor input : inputs) {
            if (input.shape()[0] != rows) {
                throw ServalException.invalidArgument("input '%s' has %d rows but input '%s' has %d; "
                        + "every input's first (batch) dimension must agree", input.name(), input.shape()[0],
                        inputs.get(0).name(), rows);
            }
        }
        if (rows > maxBatchSize) {
            throw ServalException.invalidArgument("the request has a batch of %d but model '%s' takes at most %d "
                    + "(max_batch_size); split it", rows, name, maxBatchSize);
        }
        return (int) rows;
    }

    private int priorityLevel(Parameters parameters) {
        OptionalLong priority = parameters.getLong(PRIORITY);
        long level = priority.isEmpty() || priority.getAsLong() == 0 ? policy.defaultPriorityLevel() : priority.getAsLong();
        if (level < 1 || level > policy.priorityLevels()) {
            throw ServalException.invalidArgument("parameter 'priority' is %d but model '%s' has priority levels "
                    + "1 (highest) to %d, or 0 for the default", priority.getAsLong(), name, policy.priorityLevels());
        }
        return (int) level - 1;
    }

    private long deadline(Parameters parameters, long arrived) {
        OptionalLong timeout = parameters.getLong(TIMEOUT);
        if (timeout.isPresent() && timeout.getAsLong() < 0) {
            throw ServalException.invalidArgument("parameter 'timeout' is %d; expected microseconds >= 0 "
                    + "(0 for the model's default)", timeout.getAsLong());
        }
        long micros = timeout.isPresent() && timeout.getAsLong() > 0 ? timeout.getAsLong() : policy.defaultTimeoutMicros();
        if (micros == 0) {
            return Job.NO_DEADLINE;
        }
        return arrived + TimeUnit.MICROSECONDS.toNanos(Math.min(micros, TimeUnit.DAYS.toMicros(1)));
    }

    private List<String> outputNames(List<RequestedOutput> requested) {
        List<String> names = new ArrayList<>(requested.size());
        Set<String> seen = new HashSet<>();
        for (RequestedOutput output : requested) {
            if (InputValidator.find(outputs, output.name()) == null) {
                throw ServalException.invalidArgument("unknown output '%s'; model '%s' has outputs %s",
                        output.name(), name, InputValidator.describe(outputs));
            }
            if (!seen.add(output.name())) {
                throw ServalException.invalidArgument("output '%s' is requested more than once", output.name());
            }
            names.add(output.name());
        }
        return List.copyOf(names);
    }

    /** Top-k per requested output, or null when no output asks for classification. */
    private static int[] classification(List<RequestedOutput> requested) {
        int[] topK = null;
        for (int i = 0; i < requested.size(); i++) {
            RequestedOutput output = requested.get(i);
            OptionalLong k = output.parameters().getLong(Classification.PARAMETER);
            if (k.isPresent()) {
                if (topK == null) {
                    topK = new int[requested.size()];
                }
                topK[i] = Classification.topK(output.name(), k.getAsLong());
            }
        }
        return topK;
    }

    private List<Tensor> await(Job job, long deadline) {
        try {
            if (deadline == Job.NO_DEADLINE) {
                return job.result().get();
            }
            return job.result().get(Math.max(0, deadline - ticker.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            job.abandon();
            throw new ServalException(ErrorCode.DEADLINE_EXCEEDED,
                    "model '" + name + "' did not answer before the request's timeout");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            job.abandon();
            throw ServalException.unavailable("request to model '%s' was interrupted", name);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof ServalException serval) {
                throw serval;
            }
            throw ServalException.internal("model '" + name + "' version " + version + " failed: " + cause, cause);
        }
    }

    /**
     * Runs the configured warm-up on this version's own threads, before it is published.
     *
     * @throws InvalidConfigException when the warm-up settings do not fit the model
     * @throws ServalException        when a run fails
     */
    void warmUp(ModelConfig.Warmup warmup) throws InvalidConfigException {
        for (int i = 0; i < warmup.count(); i++) {
            List<Tensor> generated = WarmupInputs.generate(inputs, maxBatchSize, warmup);
            serve(new InferenceRequest(name, version(), "warmup", Parameters.empty(), generated, List.of()),
                    null, ticker.nanoTime());
        }
    }

    /** The scheduler's learned batch ceiling, for the metrics gauge. */
    int batchCeiling() {
        return scheduler.batchCeiling();
    }

    /**
     * Closes this version once no request uses it (it must already be unreachable through the
     * registry), waiting at most {@code maxWaitNanos} for the last lease; past that it closes
     * anyway (requests still being decoded on it then fail with UNAVAILABLE; nothing native is
     * touched after close because the scheduler drains before the session closes).
     *
     * @param successor where requests that still find this version go, or null to fail them
     * @param reason    how a failure describes this version, e.g. {@code "was unloaded"}
     * @return true when it closed idle, false when the wait ran out
     */
    boolean retire(Supplier<ModelVersion> successor, String reason, long maxWaitNanos) throws InterruptedException {
        this.successor = successor;
        this.closedReason = reason;
        retiring = true;
        boolean idleClose = true;
        long deadline = System.nanoTime() + maxWaitNanos;
        synchronized (idle) {
            while (!leases.compareAndSet(0, CLOSED)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    int held = leases.getAndUpdate(state -> state | CLOSED) & ~CLOSED;
                    log.warn("model {}:{} still has {} request(s) after {} ms; closing it anyway", name, version,
                            held, TimeUnit.NANOSECONDS.toMillis(maxWaitNanos));
                    idleClose = false;
                    break;
                }
                TimeUnit.NANOSECONDS.timedWait(idle, left);
            }
        }
        closeResources();
        return idleClose;
    }

    /** True once this version takes no more requests of its own. */
    boolean isClosed() {
        return (leases.get() & CLOSED) != 0;
    }

    /** Requests using this version now. */
    int leasesHeld() {
        return leases.get() & ~CLOSED;
    }

    /**
     * Refuses new requests at once, lets queued work finish, then releases the session's native
     * memory. Idempotent.
     */
    @Override
    public void close() {
        leases.getAndUpdate(state -> state | CLOSED);
        closeResources();
    }

    private void closeResources() {
        if (resourcesClosed.compareAndSet(false, true)) {
            scheduler.close();
            session.close();
        }
    }

    @Override
    public String toString() {
        return name + ":" + version;
    }
}
