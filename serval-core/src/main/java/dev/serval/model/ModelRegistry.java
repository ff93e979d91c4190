package dev.serval.model;

import dev.serval.api.ServalException;
import dev.serval.metrics.ServalMetrics;
import dev.serval.runtime.ModelRuntime;
import dev.serval.schedule.ServalThreads;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models being served, by name and version: loaded from a {@link ModelRepository} at start,
 * then loaded, reloaded and unloaded while serving ({@link ModelControl}).
 *
 * <p>A model or version that fails to load is kept in the index with its reason and never serves;
 * the others serve normally. When a request names no version, the highest ready version answers.
 *
 * <p>Design note. Requests read the registry with one volatile read of an immutable map of
 * {@link ServedModel}s ({@link #resolve}): no lock on the hot path. Every change (start, load,
 * unload, poll) runs on one platform thread, the {@link LifecycleThread}, so changes never race
 * each other and a change is simple: load and warm up the new versions beside the serving ones
 * (no request can reach them), publish a new map in one write (traffic moves), then retire what
 * the new map no longer holds.
 * Retiring waits until no request still uses the old version (see {@link ModelVersion}'s
 * leases) and only then closes its scheduler and session, so a swap fails no request and frees
 * the old version's native memory. A version that fails to load or warm up is never published:
 * what served before keeps serving, and the index says why. Native loads and runs never happen on
 * request threads (virtual threads would pin their carriers): the transports' load and unload
 * calls hand their work to the lifecycle thread and park until it is done.
 *
 * <p>Thread-safe.
 */
public final class ModelRegistry implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelRegistry.class);

    /** How long retiring a version waits for the requests still using it before it closes anyway. */
    static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final ModelRepository repository;
    private final ServalMetrics metrics;
    private final ModelControl control;
    private final ScheduledExecutorService deadlines;
    private final VersionLoader loader;
    /** The single writer: every load, unload and poll runs there, one at a time. */
    private final LifecycleThread lifecycle;
    private final Map<String, ModelConfig.Fallback> fallbacks = new ConcurrentHashMap<>();
    /** Versions being loaded now, "name:version", for the index. */
    private final Set<String> loading = ConcurrentHashMap.newKeySet();
    /** Written by the lifecycle thread only; immutable, sorted by name. */
    private volatile Map<String, ServedModel> models = Map.of();

    private ModelRegistry(ModelRepository repository, ModelRuntime runtime, RegistryOptions options,
                          ServalMetrics metrics, ModelControl control) {
        this.repository = repository;
        this.metrics = metrics;
        this.control = control;
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, ServalThreads.platform("serval-deadlines"));
        timer.setRemoveOnCancelPolicy(true);
        this.deadlines = timer;
        this.loader = new VersionLoader(repository, runtime, options, metrics, timer, this::readyVersions,
                fallback -> resolve(fallback, null));
        this.lifecycle = new LifecycleThread("serval-model-lifecycle");
    }

    /** {@link #load(ModelRepository, ModelRuntime, RegistryOptions, ServalMetrics)} without JVM metrics. */
    public static ModelRegistry load(ModelRepository repository, ModelRuntime runtime, RegistryOptions options)
            throws IOException {
        return load(repository, runtime, options, ServalMetrics.withoutJvm());
    }

    /**
     * Loads every model in the repository, once ({@link ModelControl#NONE}). Failures are recorded,
     * not thrown.
     *
     * @throws IOException if the repository itself cannot be listed
     */
    public static ModelRegistry load(ModelRepository repository, ModelRuntime runtime, RegistryOptions options,
                                     ServalMetrics metrics) throws IOException {
        return start(repository, runtime, options, metrics, ModelControl.NONE);
    }

    /**
     * Loads what {@code control} says to load at start and, in POLL mode, starts polling. Load
     * failures are recorded, not thrown. The registry owns neither the runtime nor the metrics.
     *
     * @throws IOException              if the repository itself cannot be listed
     * @throws IllegalArgumentException if a model to load at start has no folder in the repository
     */
    public static ModelRegistry start(ModelRepository repository, ModelRuntime runtime, RegistryOptions options,
                                      ServalMetrics metrics, ModelControl control) throws IOException {
        ModelRegistry registry = new ModelRegistry(repository, runtime, options, metrics, control);
        try {
            registry.lifecycle.call(() -> {
                registry.loadAtStart();
                return null;
            });
        } catch (IOException | RuntimeException e) {
            registry.close();
            throw e;
        }
        if (control.mode() == ModelControl.Mode.POLL) {
            registry.lifecycle.every(control.pollInterval(), registry::pollSafely);
        }
        return registry;
    }

    private void loadAtStart() throws IOException {
        List<ModelRepository.Source> sources = repository.scan();
        if (control.mode() == ModelControl.Mode.EXPLICIT) {
            for (ModelRepository.Source source : sources) {
                publish(ServedModel.absent(source.name(), notLoadedReason(source.name())));
            }
            for (String name : control.startupModels()) {
                Optional<ModelRepository.Source> source = repository.find(name);
                if (source.isEmpty()) {
                    throw new IllegalArgumentException("--load-model " + name + ": the model repository "
                            + repository.root() + " has no folder '" + name + "'");
                }
                apply(source.get());
            }
        } else {
            for (ModelRepository.Source source : sources) {
                apply(source);
            }
        }
        fallbacks.forEach((model, fallback) -> {
            if (!models.containsKey(fallback.model())) {
                log.warn("model {} names fallback '{}', which is not in the repository; it will not degrade",
                        model, fallback.model());
            }
        });
    }

    private static String notLoadedReason(String name) {
        return "not loaded; load it with POST /v2/repository/models/" + name + "/load";
    }

    /**
     * Loads or reloads one model from its folder, as the repository API's load: the config is read
     * again, the versions its {@code version_policy} selects load and warm up beside the serving
     * ones, then take the traffic; versions no longer selected are unloaded once their requests
     * finish. A version whose files have not changed is kept as it is.
     *
     * @return the model's rows of the index after the load
     * @throws ServalException INVALID_ARGUMENT when loading is not allowed in this control mode,
     *                         the name is not a model name, or the load failed (the message gives
     *                         the reasons; what served before serves on); NOT_FOUND when the
     *                         repository has no such folder; UNAVAILABLE once closed
     */
    public List<ModelStatus> load(String name) {
        requireExplicit("load");
        Optional<ModelRepository.Source> source = findSource(name);
        if (source.isEmpty()) {
            throw ServalException.notFound("the model repository has no folder '%s'; it has %s", name,
                    onDiskNames());
        }
        return lifecycle.callUnchecked(() -> {
            apply(source.get());
            ServedModel model = models.get(name);
            List<ModelStatus> rows = model.rows(loading);
            if (model.unavailable() || model.keptServing()) {
                throw ServalException.invalidArgument("model '%s' failed to load: %s%s", name, model.reasons(),
                        model.ready().isEmpty() ? "" : "; serving versions " + model.readyVersions());
            }
            return rows;
        });
    }

    /**
     * Unloads a model, as the repository API's unload: requests stop finding it at once, requests
     * already using it finish, then its versions close. Unloading a model that is not loaded does
     * nothing.
     *
     * @throws ServalException INVALID_ARGUMENT when unloading is not allowed in this control mode or
     *                         the name is not a model name; NOT_FOUND for a model the registry
     *                         does not know; UNAVAILABLE once closed
     */
    public void unload(String name) {
        requireExplicit("unload");
        if (!ModelRepository.isValidModelName(name)) {
            throw ServalException.invalidArgument("'%s' is not a valid model name: letters, digits, '_', '.' and "
                    + "'-', not starting with '.'", name);
        }
        lifecycle.callUnchecked(() -> {
            ServedModel model = models.get(name);
            if (model == null) {
                throw ServalException.notFound("unknown model '%s'; the registry knows %s", name, models.keySet());
            }
            if (model.notLoaded().isEmpty()) {
                replace(model, ServedModel.absent(name, "unloaded"), "was unloaded");
                log.info("unloaded model {}", name);
            }
            return null;
        });
    }

    /** Scans the repository now and applies what changed, as the POLL mode's poller does. */
    void poll() throws IOException {
        lifecycle.call(() -> {
            pollNow();
            return null;
        });
    }

    private void pollSafely() {
        try {
            pollNow();
        } catch (IOException | RuntimeException e) {
            log.warn("polling the model repository {} failed: {}", repository.root(), e.toString());
        }
    }

    private void pollNow() throws IOException {
        Set<String> present = new HashSet<>();
        for (ModelRepository.Source source : repository.scan()) {
            present.add(source.name());
            ServedModel model = models.get(source.name());
            if (model == null || model.stamp() == null || !model.stamp().equals(repository.stamp(source))) {
                log.info("model {} changed in the repository; loading it", source.name());
                apply(source);
            }
        }
        for (ServedModel model : models.values()) {
            if (!present.contains(model.name())) {
                log.info("model {} left the repository; unloading it", model.name());
                replace(model, null, "was unloaded");
            }
        }
    }

    private void requireExplicit(String operation) {
        if (control.mode() != ModelControl.Mode.EXPLICIT) {
            throw ServalException.invalidArgument("%s is not allowed with --model-control-mode %s%s; start the "
                    + "server with --model-control-mode explicit to load and unload through the API", operation,
                    control.mode().flag(), control.mode() == ModelControl.Mode.POLL
                            ? " (the poller applies the repository's changes)" : "");
        }
    }

    private Optional<ModelRepository.Source> findSource(String name) {
        try {
            return repository.find(name);
        } catch (IllegalArgumentException e) {
            throw ServalException.invalidArgument("%s", e.getMessage());
        } catch (IOException e) {
            throw ServalException.unavailable("cannot read model '%s' in the repository: %s", name, e.getMessage());
        }
    }

    private List<String> onDiskNames() {
        try {
            return repository.scan().stream().map(ModelRepository.Source::name).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Loads {@code source} beside what serves, publishes it, and retires what it replaces. */
    private void apply(ModelRepository.Source source) {
        String name = source.name();
        ServedModel old = models.get(name);
        NavigableMap<Long, ModelVersion> serving = old == null ? Collections.emptyNavigableMap() : old.ready();
        ModelRepository.Stamp stamp = repository.stamp(source);
        List<ModelStatus> problems = new ArrayList<>();
        TreeMap<Long, ModelVersion> next = new TreeMap<>();
        try {
            loadVersions(source, old, stamp, problems, next);
        } catch (InvalidConfigException e) {
            problems.add(problem(name, "", e.getMessage()));
        }
        boolean failed = problems.stream().anyMatch(row -> !row.isReady());
        if (failed) {
            // A failed load changes nothing that served: every version that served serves on.
            serving.forEach(next::putIfAbsent);
        }
        boolean kept = !serving.isEmpty() && (failed || !problems.isEmpty());
        replace(old, new ServedModel(name, Collections.unmodifiableNavigableMap(next), List.copyOf(problems),
                Optional.empty(), stamp, kept), "was replaced");
    }

    private void loadVersions(ModelRepository.Source source, ServedModel old, ModelRepository.Stamp stamp,
                              List<ModelStatus> problems, TreeMap<Long, ModelVersion> next)
            throws InvalidConfigException {
        String name = source.name();
        if (source.problem().isPresent()) {
            throw new InvalidConfigException(source.problem().get());
        }
        ModelConfig config = source.configFile().isPresent() ? ModelConfig.read(source.configFile().get()) : ModelConfig.DEFAULTS;
        List<String> labels = loader.readLabels(source.directory(), config);
        if (config.fallback().isPresent()) {
            if (config.fallback().get().model().equals(name)) {
                throw new InvalidConfigException("setting 'fallback.model' names the model itself; name a cheaper model");
            }
            fallbacks.put(name, config.fallback().get());
        } else {
            fallbacks.remove(name);
        }
        SortedSet<Long> selected = config.versionPolicy().select(source.versions().keySet());
        if (selected.isEmpty()) {
            throw new InvalidConfigException("setting 'version_policy' selects none of the version folders "
                    + source.versions().keySet());
        }
        boolean sameModelFiles = old != null && old.stamp() != null && old.stamp().model().equals(stamp.model());
        NavigableMap<Long, ModelVersion> serving = old == null ? Collections.emptyNavigableMap() : old.ready();
        for (long number : selected) {
            ModelVersion current = serving.get(number);
            if (current != null && sameModelFiles
                    && stamp.versions().get(number).equals(old.stamp().versions().get(number))) {
                next.put(number, current);
                continue;
            }
            String key = name + ":" + number;
            loading.add(key);
            try {
                next.put(number, loader.open(source, number, config, labels, current));
            } catch (VersionLoader.LoadFailure e) {
                log.error("model {} failed to load: {}", key, e.getMessage());
                if (current != null) {
                    next.put(number, current);
                    problems.add(new ModelStatus(name, String.valueOf(number), ModelStatus.READY, Optional.of(
                            "reloading failed, the version loaded before serves on: " + e.getMessage())));
                } else {
                    problems.add(new ModelStatus(name, String.valueOf(number), ModelStatus.UNAVAILABLE,
                            Optional.of(e.getMessage())));
                }
            } finally {
                loading.remove(key);
            }
        }
    }

    /**
     * Publishes {@code replacement} (null removes the model), then retires the versions of
     * {@code old} it no longer holds. Runs on the lifecycle thread.
     */
    private void replace(ServedModel old, ServedModel replacement, String reason) {
        String name = old != null ? old.name() : replacement.name();
        if (replacement != null) {
            replacement.ready().values().forEach(loader::gauges);
            publish(replacement);
        } else {
            TreeMap<String, ServedModel> copy = new TreeMap<>(models);
            copy.remove(name);
            models = Collections.unmodifiableMap(new LinkedHashMap<>(copy)); // hashed lookups, sorted iteration
            fallbacks.remove(name);
        }
        if (old == null) {
            return;
        }
        ModelVersion oldDefault = old.defaultVersion();
        for (ModelVersion version : old.ready().values()) {
            if (replacement != null && replacement.ready().get(Long.parseLong(version.version())) == version) {
                continue;
            }
            long number = Long.parseLong(version.version());
            boolean wasDefault = version == oldDefault;
            Supplier<ModelVersion> successor = () -> successor(name, number, wasDefault);
            try {
                if (!version.retire(successor, reason, DRAIN_NANOS)) {
                    log.warn("model {} closed with requests still decoding", version);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                version.close();
            }
            ServedModel now = models.get(name);
            if (now == null || !now.ready().containsKey(number)) {
                metrics.remove(name, version.version());
            }
            log.info("closed model {} ({})", version, reason);
        }
    }

    private void publish(ServedModel model) {
        TreeMap<String, ServedModel> copy = new TreeMap<>(models);
        copy.put(model.name(), model);
        models = Collections.unmodifiableMap(new LinkedHashMap<>(copy)); // hashed lookups, sorted iteration
    }

    /** Where a request that found a closed version goes: the same number, or the new default. */
    private ModelVersion successor(String name, long number, boolean wasDefault) {
        ServedModel model = models.get(name);
        if (model == null) {
            return null;
        }
        ModelVersion same = model.ready().get(number);
        return same != null ? same : wasDefault ? model.defaultVersion() : null;
    }

    private List<String> readyVersions(String name) {
        ServedModel model = models.get(name);
        return model == null ? List.of() : model.readyVersions();
    }

    private static ModelStatus problem(String name, String version, String reason) {
        log.error("model {}{} failed to load: {}", name, version.isEmpty() ? "" : ":" + version, reason);
        return new ModelStatus(name, version, ModelStatus.UNAVAILABLE, Optional.of(reason));
    }

    /**
     * The version that should answer a request: one volatile read and map lookups, no lock.
     *
     * @param version a version number, or null / empty for the highest ready version
     * @throws ServalException NOT_FOUND for an unknown model or a version that is not loaded,
     *                         UNAVAILABLE when it failed to load or the model is not loaded
     */
    public ModelVersion resolve(String name, String version) {
        ServedModel model = models.get(name);
        if (model == null) {
            throw ServalException.notFound("unknown model '%s'; the repository serves %s", name, servedNames());
        }
        if (model.notLoaded().isPresent()) {
            throw ServalException.unavailable("model '%s' is %s", name, model.notLoaded().get());
        }
        if (version == null || version.isEmpty()) {
            ModelVersion highest = model.defaultVersion();
            if (highest == null) {
                throw ServalException.unavailable("model '%s' is not ready: %s", name, model.reasons());
            }
            return highest;
        }
        // Only the spelling a version folder may have: "01" or "+1" name no version.
        long number = version.matches("[1-9][0-9]{0,17}") ? Long.parseLong(version) : -1;
        ModelVersion found = model.ready().get(number);
        if (found != null) {
            return found;
        }
        for (ModelStatus problem : model.problems()) {
            if (!problem.isReady() && (problem.version().equals(version) || problem.version().isEmpty())) {
                throw ServalException.unavailable("model '%s' version %s is not ready: %s", name, version,
                        problem.reason().orElse("unknown"));
            }
        }
        throw ServalException.notFound("unknown version '%s' of model '%s'; ready versions are %s",
                version, name, model.readyVersions());
    }

    private List<String> servedNames() {
        return models.values().stream().filter(m -> m.notLoaded().isEmpty()).map(ServedModel::name).toList();
    }

    /**
     * Every model and version with its state, sorted by name then version: READY, UNAVAILABLE with
     * the reason, or LOADING while a version loads. Models in the repository that are not loaded
     * are listed with their reason (in explicit mode, those not loaded yet).
     */
    public List<ModelStatus> index() {
        Map<String, ServedModel> snapshot = models;
        List<ModelStatus> rows = new ArrayList<>();
        for (ServedModel model : snapshot.values()) {
            rows.addAll(model.rows(loading));
        }
        if (control.mode() == ModelControl.Mode.EXPLICIT) {
            for (String name : onDiskNames()) {
                if (!snapshot.containsKey(name)) {
                    rows.add(new ModelStatus(name, "", ModelStatus.UNAVAILABLE, Optional.of(notLoadedReason(name))));
                }
            }
            rows.sort(Comparator.comparing(ModelStatus::name));
        }
        return rows;
    }

    /**
     * True when every loaded model serves and its last load went through, or failed while the
     * versions loaded before serve on (a bad update does not take a serving server out of
     * rotation). Models not loaded (unloaded, or not loaded yet in explicit mode) do not count.
     */
    public boolean allReady() {
        return models.values().stream().allMatch(model -> model.notLoaded().isPresent()
                || (!model.ready().isEmpty() && (!model.unavailable() || model.keptServing())));
    }

    public ModelRepository repository() {
        return repository;
    }

    /** How models are loaded and unloaded. */
    public ModelControl control() {
        return control;
    }

    /**
     * Stops loading and polling, then closes every version: new requests are refused, queued ones
     * finish. Idempotent.
     */
    @Override
    public void close() {
        lifecycle.close();
        for (ServedModel model : models.values()) {
            for (ModelVersion version : model.ready().values()) {
                version.close();
                metrics.remove(version.name(), version.version());
            }
        }
        deadlines.shutdownNow();
    }
}
