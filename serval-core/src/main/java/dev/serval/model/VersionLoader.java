package dev.serval.model;

import dev.serval.metrics.ModelMetrics;
import dev.serval.metrics.ServalMetrics;
import dev.serval.pipeline.Pipeline;
import dev.serval.pipeline.PipelineConfig;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import dev.serval.schedule.ModelScheduler;
import dev.serval.schedule.SchedulerSettings;
import dev.serval.schedule.ServalThreads;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a version folder into a ready {@link ModelVersion}: opens the session, starts its
 * scheduler, registers its metrics and runs its warm-up. What it returns is not yet reachable by
 * requests; the {@link ModelRegistry} publishes it. Used by the registry's lifecycle thread only.
 */
final class VersionLoader {
    private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);
    /**
     * {@link SchedulerSettings#inlineRunLimitNanos()} for every model: a tuning knob, not a model
     * setting, so a system property ({@code -Dserval.scheduler.inline_run_limit_us=0} turns inline
     * runs off, e.g. to measure what they save).
     */
    private static final long INLINE_RUN_LIMIT_NANOS = TimeUnit.MICROSECONDS.toNanos(Long.getLong(
            "serval.scheduler.inline_run_limit_us", TimeUnit.NANOSECONDS.toMicros(SchedulerSettings.DEFAULT_INLINE_RUN_LIMIT_NANOS)));

    private final ModelRepository repository;
    private final ModelRuntime runtime;
    private final RegistryOptions options;
    private final ServalMetrics metrics;
    private final ScheduledExecutorService deadlines;
    private final Function<String, List<String>> readyVersions;
    private final Function<String, ModelVersion> fallbacks;

    /**
     * @param deadlines     the timer for run cancellations, shared by every version
     * @param readyVersions a model's loaded versions now, for metadata
     * @param fallbacks     resolves a fallback model by name
     */
    VersionLoader(ModelRepository repository, ModelRuntime runtime, RegistryOptions options, ServalMetrics metrics,
                  ScheduledExecutorService deadlines, Function<String, List<String>> readyVersions,
                  Function<String, ModelVersion> fallbacks) {
        this.repository = repository;
        this.runtime = runtime;
        this.options = options;
        this.metrics = metrics;
        this.deadlines = deadlines;
        this.readyVersions = readyVersions;
        this.fallbacks = fallbacks;
    }

    /** (Re-)registers a version's gauges; the last registration of a name and version wins. */
    void gauges(ModelVersion version) {
        metrics.forModel(version.name(), version.version(), version::queueDepth, version::batchCeiling);
    }

    /** A version could not be loaded or warmed up; the message is the index's reason. */
    static final class LoadFailure extends Exception {
        private static final long serialVersionUID = 1L;

        LoadFailure(String message) {
            super(message);
        }
    }

    /**
     * Opens, schedules and warms up one version; it is published by the caller.
     *
     * @param current the instance of the same version serving now, if any (its gauges are restored
     *                if this one fails)
     */
    ModelVersion open(ModelRepository.Source source, long number, ModelConfig config, List<String> labels,
                      ModelVersion current) throws LoadFailure {
        String name = source.name();
        Path file = source.versions().get(number);
        if (!repository.insideRoot(file)) {
            throw new LoadFailure("version " + number + " leads outside the model repository");
        }
        int instances = config.instanceCount() > 0 ? config.instanceCount() : 1;
        int threads = config.intraOpThreads() > 0 ? config.intraOpThreads() : Math.max(1, options.cpuBudget() / instances);
        long started = System.nanoTime();
        ModelSession session;
        try {
            session = runtime.open(file, new SessionSettings(threads, options.allowSpinning()));
        } catch (ModelLoadException e) {
            throw new LoadFailure(e.getMessage());
        } catch (RuntimeException e) {
            throw new LoadFailure("the runtime failed to open " + file.getFileName() + ": " + e);
        }
        int maxBatchSize;
        Pipeline pipeline = null;
        try {
            maxBatchSize = config.effectiveMaxBatchSize(session.inputs(), session.outputs());
            if (config.pipeline().isPresent()) {
                pipeline = pipeline(name, config.pipeline().get(), session, maxBatchSize);
            }
        } catch (InvalidConfigException e) {
            session.close();
            throw new LoadFailure(e.getMessage());
        }
        String id = name + ":" + number;
        ModelConfig.DynamicBatching batching = config.dynamicBatching();
        SchedulerSettings schedule = new SchedulerSettings(instances, maxBatchSize,
                TimeUnit.MICROSECONDS.toNanos(batching.maxQueueDelayMicros()), batching.preferredBatchSizes(),
                batching.maxQueueSize(), batching.priorityLevels(), batching.adaptiveBatchSize(), threads,
                INLINE_RUN_LIMIT_NANOS);
        ModelScheduler[] scheduler = new ModelScheduler[1];
        ModelMetrics modelMetrics = metrics.forModel(name, String.valueOf(number),
                () -> scheduler[0].queueDepth(), () -> scheduler[0].batchCeiling());
        scheduler[0] = new ModelScheduler(id, session, schedule, options.ticker(),
                ServalThreads.platform("serval-" + name + "-v" + number), deadlines, modelMetrics);
        ModelVersion version = new ModelVersion(name, number, runtime.platform(), session, pipeline, scheduler[0],
                maxBatchSize, config, labels, () -> readyVersions.apply(name), options.ticker(), modelMetrics, fallbacks);
        long opened = System.nanoTime();
        try {
            version.warmUp(config.warmup());
        } catch (InvalidConfigException | RuntimeException e) {
            version.close();
            if (current != null) {
                gauges(current);
            } else {
                metrics.remove(name, String.valueOf(number));
            }
            throw new LoadFailure("warm-up failed: " + e.getMessage());
        }
        long warmed = System.nanoTime();
        log.info("loaded model {} in {} ms{}: {} instance(s) x {} thread(s), {}, inputs {}, outputs {}", id,
                (opened - started) / 1_000_000,
                config.warmup().count() == 0 ? "" : " + " + config.warmup().count() + " warm-up run(s) in "
                        + (warmed - opened) / 1_000_000 + " ms",
                instances, threads, maxBatchSize > 1 ? "batches of up to " + maxBatchSize : "no batching",
                InputValidator.describe(version.inputs()), InputValidator.describe(version.outputs()));
        return version;
    }

    /** The model's pipeline, checked against the model and given the server's feature store. */
    private Pipeline pipeline(String name, PipelineConfig config, ModelSession session, int maxBatchSize)
            throws InvalidConfigException {
        if (maxBatchSize == 0) {
            throw new InvalidConfigException("setting 'pipeline' needs a model with a batch dimension "
                    + "(max_batch_size above 0): its rows are the pipeline's rows");
        }
        try {
            return Pipeline.create(name, config, session.inputs(), session.outputs(), options.featureStore());
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException(e.getMessage());
        }
    }

    List<String> readLabels(Path directory, ModelConfig config) throws InvalidConfigException {
        if (config.labelsFile().isEmpty()) {
            return List.of();
        }
        Path file = directory.resolve(config.labelsFile().get()).normalize();
        if (!file.startsWith(directory) || !repository.insideRoot(file)) {
            throw new InvalidConfigException("setting 'labels' is '" + config.labelsFile().get()
                    + "'; expected a file inside the model's folder");
        }
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                    .map(String::strip).filter(line -> !line.isEmpty()).toList();
        } catch (IOException e) {
            throw new InvalidConfigException("setting 'labels' names '" + config.labelsFile().get()
                    + "', which cannot be read: " + e.getMessage());
        }
    }
}
