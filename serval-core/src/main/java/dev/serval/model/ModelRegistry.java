package dev.serval.model;

import dev.serval.api.ServalException;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import dev.serval.metrics.ModelMetrics;
import dev.serval.metrics.ServalMetrics;
import dev.serval.schedule.ModelScheduler;
import dev.serval.schedule.SchedulerSettings;
import dev.serval.schedule.ServalThreads;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models being served, by name and version, loaded from a {@link ModelRepository} at start.
 *
 * <p>A model or version that fails to load is kept in the index with its reason and never serves;
 * the others serve normally. When a request names no version, the highest ready version answers.
 *
 * <p>Thread-safe: the set of models is fixed once {@link #load} returns.
 */
public final class ModelRegistry implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);

    private final ModelRepository repository;
    private final RegistryOptions options;
    private final ServalMetrics metrics;
    private final ScheduledExecutorService deadlines;
    private final Map<String, ModelConfig.Fallback> fallbacks = new LinkedHashMap<>();
    private volatile Map<String, Entry> models = Map.of();

    /** A model: its loaded versions and what failed. */
    private record Entry(String name, SortedMap<Long, ModelVersion> ready, List<ModelStatus> failures) {
        List<String> readyVersions() {
            return ready.keySet().stream().map(String::valueOf).toList();
        }
    }

    private ModelRegistry(ModelRepository repository, RegistryOptions options, ServalMetrics metrics) {
        this.repository = repository;
        this.options = options;
        this.metrics = metrics;
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, ServalThreads.platform("serval-deadlines"));
        timer.setRemoveOnCancelPolicy(true);
        this.deadlines = timer;
    }

    /** {@link #load(ModelRepository, ModelRuntime, RegistryOptions, ServalMetrics)} without JVM metrics. */
    public static ModelRegistry load(ModelRepository repository, ModelRuntime runtime, RegistryOptions options)
            throws IOException {
        return load(repository, runtime, options, ServalMetrics.withoutJvm());
    }

    /**
     * Loads every model in the repository. Failures are recorded, not thrown.
     *
     * @throws IOException if the repository itself cannot be listed
     */
    public static ModelRegistry load(ModelRepository repository, ModelRuntime runtime, RegistryOptions options,
                                     ServalMetrics metrics) throws IOException {
        ModelRegistry registry = new ModelRegistry(repository, options, metrics);
        Map<String, Entry> models = new LinkedHashMap<>();
        for (ModelRepository.Source source : repository.scan()) {
            models.put(source.name(), registry.loadModel(runtime, source));
        }
        registry.models = Collections.unmodifiableMap(models);
        registry.checkFallbacks();
        return registry;
    }

    private Entry loadModel(ModelRuntime runtime, ModelRepository.Source source) {
        String name = source.name();
        SortedMap<Long, ModelVersion> ready = new TreeMap<>();
        List<ModelStatus> failures = new ArrayList<>();
        Entry entry = new Entry(name, Collections.unmodifiableSortedMap(ready), Collections.unmodifiableList(failures));
        if (source.problem().isPresent()) {
            fail(failures, name, "", source.problem().get());
            return entry;
        }
        ModelConfig config;
        List<String> labels;
        try {
            config = source.configFile().isPresent() ? ModelConfig.read(source.configFile().get()) : ModelConfig.DEFAULTS;
            labels = readLabels(source.directory(), config);
        } catch (InvalidConfigException e) {
            fail(failures, name, "", e.getMessage());
            return entry;
        }
        if (config.fallback().isPresent()) {
            if (config.fallback().get().model().equals(name)) {
                fail(failures, name, "", "setting 'fallback.model' names the model itself; name a cheaper model");
                return entry;
            }
            fallbacks.put(name, config.fallback().get());
        }
        int instances = config.instanceCount() > 0 ? config.instanceCount() : 1;
        int threads = config.intraOpThreads() > 0 ? config.intraOpThreads() : Math.max(1, options.cpuBudget() / instances);
        SessionSettings settings = new SessionSettings(threads, options.allowSpinning());

        for (Map.Entry<Long, Path> version : source.versions().entrySet()) {
            long number = version.getKey();
            Path file = version.getValue();
            if (!repository.insideRoot(file)) {
                fail(failures, name, String.valueOf(number), "version " + number + " leads outside the model repository");
                continue;
            }
            long started = System.nanoTime();
            ModelSession session;
            try {
                session = runtime.open(file, settings);
            } catch (ModelLoadException e) {
                fail(failures, name, String.valueOf(number), e.getMessage());
                continue;
            }
            int maxBatchSize;
            try {
                maxBatchSize = config.effectiveMaxBatchSize(session.inputs(), session.outputs());
            } catch (InvalidConfigException e) {
                session.close();
                fail(failures, name, String.valueOf(number), e.getMessage());
                continue;
            }
            String id = name + ":" + number;
            ModelConfig.DynamicBatching batching = config.dynamicBatching();
            SchedulerSettings schedule = new SchedulerSettings(instances, maxBatchSize,
                    TimeUnit.MICROSECONDS.toNanos(batching.maxQueueDelayMicros()), batching.preferredBatchSizes(),
                    batching.maxQueueSize(), batching.priorityLevels(), batching.adaptiveBatchSize(), threads);
            ModelScheduler[] scheduler = new ModelScheduler[1];
            ModelMetrics modelMetrics = metrics.forModel(name, String.valueOf(number),
                    () -> scheduler[0].queueDepth(), () -> scheduler[0].batchCeiling());
            scheduler[0] = new ModelScheduler(id, session, schedule, options.ticker(),
                    ServalThreads.platform("serval-" + name + "-v" + number), deadlines, modelMetrics);
            ready.put(number, new ModelVersion(name, number, runtime.platform(), session, scheduler[0], maxBatchSize,
                    config, labels, entry::readyVersions, options.ticker(), modelMetrics,
                    fallback -> resolve(fallback, null)));
            log.info("loaded model {} in {} ms: {} instance(s) x {} thread(s), {}, inputs {}, outputs {}", id,
                    (System.nanoTime() - started) / 1_000_000, instances, threads,
                    maxBatchSize > 1 ? "batches of up to " + maxBatchSize : "no batching",
                    InputValidator.describe(session.inputs()), InputValidator.describe(session.outputs()));
        }
        return entry;
    }

    /** A fallback that names no model of the repository can never take over: say so at start. */
    private void checkFallbacks() {
        fallbacks.forEach((model, fallback) -> {
            if (!models.containsKey(fallback.model())) {
                log.warn("model {} names fallback '{}', which is not in the repository; it will not degrade",
                        model, fallback.model());
            }
        });
    }

    private static void fail(List<ModelStatus> failures, String name, String version, String reason) {
        log.error("model {}{} failed to load: {}", name, version.isEmpty() ? "" : ":" + version, reason);
        failures.add(new ModelStatus(name, version, ModelStatus.UNAVAILABLE, Optional.of(reason)));
    }

    private List<String> readLabels(Path directory, ModelConfig config)
            throws InvalidConfigException {
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

    /**
     * The version that should answer a request.
     *
     * @param version a version number, or null / empty for the highest ready version
     * @throws ServalException NOT_FOUND for an unknown model or version, UNAVAILABLE when it failed to load
     */
    public ModelVersion resolve(String name, String version) {
        Entry entry = models.get(name);
        if (entry == null) {
            throw ServalException.notFound("unknown model '%s'; the repository serves %s", name, models.keySet());
        }
        if (version == null || version.isEmpty()) {
            if (entry.ready().isEmpty()) {
                throw ServalException.unavailable("model '%s' is not ready: %s", name, reasons(entry));
            }
            return entry.ready().get(entry.ready().lastKey());
        }
        // Only the spelling a version folder may have: "01" or "+1" name no version.
        long number = version.matches("[1-9][0-9]{0,17}") ? Long.parseLong(version) : -1;
        ModelVersion found = entry.ready().get(number);
        if (found != null) {
            return found;
        }
        for (ModelStatus failure : entry.failures()) {
            if (failure.version().equals(version) || failure.version().isEmpty()) {
                throw ServalException.unavailable("model '%s' version %s is not ready: %s", name, version,
                        failure.reason().orElse("unknown"));
            }
        }
        throw ServalException.notFound("unknown version '%s' of model '%s'; ready versions are %s",
                version, name, entry.readyVersions());
    }

    /** Every model and version with its state, sorted by name then version. */
    public List<ModelStatus> index() {
        List<ModelStatus> rows = new ArrayList<>();
        for (Entry entry : models.values()) {
            List<ModelStatus> model = new ArrayList<>(entry.failures());
            for (ModelVersion version : entry.ready().values()) {
                model.add(new ModelStatus(entry.name(), version.version(), ModelStatus.READY, Optional.empty()));
            }
            // Whole-model problems (no version) first, then versions in numeric order.
            model.sort(Comparator.comparingLong(s -> s.version().isEmpty() ? -1 : Long.parseLong(s.version())));
            rows.addAll(model);
        }
        return rows;
    }

    /** True when every model in the repository loaded, every version of it. */
    public boolean allReady() {
        return models.values().stream().allMatch(entry -> entry.failures().isEmpty() && !entry.ready().isEmpty());
    }

    public ModelRepository repository() {
        return repository;
    }

    private static String reasons(Entry entry) {
        return entry.failures().stream()
                .map(f -> (f.version().isEmpty() ? "" : "version " + f.version() + ": ") + f.reason().orElse(""))
                .reduce((a, b) -> a + "; " + b).orElse("no versions");
    }

    /** Drains and closes every version. */
    @Override
    public void close() {
        for (Entry entry : models.values()) {
            for (ModelVersion version : entry.ready().values()) {
                version.close();
                metrics.remove(version.name(), version.version());
            }
        }
        deadlines.shutdownNow();
    }
}
