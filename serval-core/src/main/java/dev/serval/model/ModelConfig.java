package dev.serval.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.serval.api.Shapes;
import dev.serval.api.TensorSpec;
import dev.serval.pipeline.PipelineConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a model's {@code config.yaml} (or {@code config.json}) says: only what the ONNX file cannot
 * tell. Names follow Triton's model configuration where one exists.
 *
 * <pre>
 * labels: labels.txt                   # one class label per line, for the classification extension
 * max_batch_size: 32                   # rows per run; 0 = no batch dimension (default: 32 when every
 *                                      #   input and output has a variable first dimension, else 0)
 * dynamic_batching:
 *   max_queue_delay_microseconds: 500  # how long the oldest request may wait for a batch to fill
 *   preferred_batch_size: [8, 16]      # run as soon as one of these is reached
 *   max_queue_size: 1024               # waiting requests beyond this are refused (429)
 *   default_timeout_microseconds: 0    # deadline when the request sets none; 0 = none
 *   priority_levels: 2                 # request parameter priority: 1 (highest) .. levels
 *   default_priority_level: 2          # the level of requests that set none (default: the lowest)
 *   adaptive_batch_size: true          # Serval's own: learn the batch size (up to max_batch_size) that
 *                                      #   costs least per row on this machine; false = always fill up
 * instance_group:
 *   count: 1                           # concurrent runs (default 1)
 * parameters:
 *   intra_op_threads: 2                # threads per run (default: the server's cores / instances)
 * fallback:
 *   model: iris_small                  # a cheaper model that takes over when the queue is slow
 *   queue_wait_budget_microseconds: 5000
 * version_policy:                      # which version folders load (Triton's names); default: all
 *   latest: {num_versions: 1}          #   the N highest; or all: {}; or specific: {versions: [1, 3]}
 * warmup:                              # runs before a version takes traffic (default: none)
 *   count: 2                           # runs (default 1)
 *   batch_size: 1                      # rows per run for a model with a batch dimension (default 1)
 *   data: zeros                        # zeros or ones (default zeros)
 *   shapes:                            # whole shapes for inputs whose other dimensions vary;
 *     input_ids: [1, 16]               #   otherwise each variable dimension but the batch is 1
 * pipeline:                            # Serval's own: steps around the model, so clients send entity
 *   ...                                #   ids and raw fields; see dev.serval.pipeline.PipelineConfig
 * </pre>
 *
 * <p>Immutable; validated as it is read, and every error names the setting, the value and what
 * was expected. Defaults live in {@link #DEFAULTS} and {@link DynamicBatching#DEFAULTS}.
 *
 * @param labelsFile      the labels file relative to the model's folder, if any
 * @param maxBatchSize    rows per run, or empty to derive it from the model
 * @param dynamicBatching queueing and batching settings
 * @param instanceCount   concurrent runs, or 0 for the default (1)
 * @param intraOpThreads  threads per run, or 0 to derive from the cores and instances
 * @param fallback        the model to degrade to under load, if any
 * @param versionPolicy   which of the model's version folders load
 * @param warmup          the runs a new version makes before it takes traffic
 * @param pipeline        the steps around the model, if any
 */
public record ModelConfig(Optional<String> labelsFile, OptionalInt maxBatchSize, DynamicBatching dynamicBatching,
                          int instanceCount, int intraOpThreads, Optional<Fallback> fallback,
                          VersionPolicy versionPolicy, Warmup warmup, Optional<PipelineConfig> pipeline) {

    /** A configuration without a pipeline. */
    public ModelConfig(Optional<String> labelsFile, OptionalInt maxBatchSize, DynamicBatching dynamicBatching,
                       int instanceCount, int intraOpThreads, Optional<Fallback> fallback,
                       VersionPolicy versionPolicy, Warmup warmup) {
        this(labelsFile, maxBatchSize, dynamicBatching, instanceCount, intraOpThreads, fallback, versionPolicy, warmup,
                Optional.empty());
    }

    /** A configuration with the default version policy (all) and no warm-up. */
    public ModelConfig(Optional<String> labelsFile, OptionalInt maxBatchSize, DynamicBatching dynamicBatching,
                       int instanceCount, int intraOpThreads, Optional<Fallback> fallback) {
        this(labelsFile, maxBatchSize, dynamicBatching, instanceCount, intraOpThreads, fallback,
                VersionPolicy.ALL, Warmup.NONE);
    }

    /** The batch size used when the model has a batch dimension and the config names none. */
    public static final int DEFAULT_MAX_BATCH_SIZE = 32;

    /** The configuration of a model that has no config file. */
    public static final ModelConfig DEFAULTS = new ModelConfig(Optional.empty(), OptionalInt.empty(),
            DynamicBatching.DEFAULTS, 0, 0, Optional.empty(), VersionPolicy.ALL, Warmup.NONE, Optional.empty());

    /**
     * @param maxQueueDelayMicros  how long the oldest request may wait for a batch to fill
     * @param preferredBatchSizes  sizes run as soon as reached
     * @param maxQueueSize         requests that may wait
     * @param defaultTimeoutMicros deadline for requests that set none, 0 for none
     * @param priorityLevels       priority levels, at least 1
     * @param defaultPriorityLevel level of requests that set none, 1..priorityLevels
     */
    public record DynamicBatching(long maxQueueDelayMicros, List<Integer> preferredBatchSizes, int maxQueueSize,
                                  long defaultTimeoutMicros, int priorityLevels, int defaultPriorityLevel,
                                  boolean adaptiveBatchSize) {
        /** Small delay (never TorchServe's 100 ms), bounded queue, no deadline, one level, batch size learned. */
        public static final DynamicBatching DEFAULTS = new DynamicBatching(500, List.of(), 1024, 0, 1, 1, true);

        public DynamicBatching {
            preferredBatchSizes = List.copyOf(preferredBatchSizes);
        }
    }

    /**
     * @param model                    the model to send requests to while degraded
     * @param queueWaitBudgetMicros    degrade when the oldest queued request has waited longer
     */
    public record Fallback(String model, long queueWaitBudgetMicros) {
    }

    /**
     * Which of a model's version folders load, by Triton's names. Serval's default is {@link #ALL}
     * (Triton's is the latest one): a repository holds the versions meant to be served, and
     * requests that name none get the highest.
     */
    public sealed interface VersionPolicy {
        /** Every version folder. */
        VersionPolicy ALL = new All();

        /** The versions to load out of those present, in ascending order. */
        SortedSet<Long> select(Set<Long> available);

        /** {@code all: {}}. */
        record All() implements VersionPolicy {
            @Override
            public SortedSet<Long> select(Set<Long> available) {
                return new TreeSet<>(available);
            }
        }

        /** {@code latest: {num_versions: N}}: the N highest versions present. */
        record Latest(int count) implements VersionPolicy {
            @Override
            public SortedSet<Long> select(Set<Long> available) {
                TreeSet<Long> selected = new TreeSet<>();
                for (Long version : new TreeSet<>(available).descendingSet()) {
                    if (selected.size() == count) {
                        break;
                    }
                    selected.add(version);
                }
                return selected;
            }
        }

        /** {@code specific: {versions: [1, 3]}}: these versions, those of them present. */
        record Specific(SortedSet<Long> versions) implements VersionPolicy {
            public Specific {
                versions = Collections.unmodifiableSortedSet(new TreeSet<>(versions));
            }

            @Override
            public SortedSet<Long> select(Set<Long> available) {
                TreeSet<Long> selected = new TreeSet<>(versions);
                selected.retainAll(available);
                return selected;
            }
        }
    }

    /**
     * Runs a new version makes before it takes traffic, with inputs generated from the model's
     * metadata: every element zero (or one), {@code batchSize} rows for a model with a batch
     * dimension, each other variable dimension 1 unless {@code shapes} gives the input's whole
     * shape. A run that fails fails the load.
     *
     * @param count     runs; 0 for none
     * @param batchSize rows per run when the model batches
     * @param ones      fill with ones instead of zeros
     * @param shapes    whole shapes for named inputs
     */
    public record Warmup(int count, int batchSize, boolean ones, Map<String, long[]> shapes) {
        /** No warm-up. */
        public static final Warmup NONE = new Warmup(0, 1, false, Map.of());

        public Warmup {
            shapes = Collections.unmodifiableMap(new TreeMap<>(shapes));
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Warmup w && count == w.count && batchSize == w.batchSize && ones == w.ones
                    && shapes.keySet().equals(w.shapes.keySet())
                    && shapes.entrySet().stream().allMatch(e -> Arrays.equals(e.getValue(), w.shapes.get(e.getKey())));
        }

        @Override
        public int hashCode() {
            return Objects.hash(count, batchSize, ones, shapes.keySet());
        }
    }

    /** What an empty YAML mapping ({@code all:} with nothing after it) reads as. */
    private static final JsonNode YAML_EMPTY = new ObjectMapper().createObjectNode();

    private static final Set<String> TOP_LEVEL = Set.of("labels", "max_batch_size", "dynamic_batching",
            "instance_group", "parameters", "fallback", "version_policy", "warmup", "pipeline");
    private static final Set<String> BATCHING = Set.of("max_queue_delay_microseconds", "preferred_batch_size",
            "max_queue_size", "default_timeout_microseconds", "priority_levels", "default_priority_level",
            "adaptive_batch_size");

    /**
     * Reads a config file; YAML unless its name ends in {@code .json}.
     *
     * @throws InvalidConfigException naming the file, the setting and the problem
     */
    public static ModelConfig read(Path file) throws InvalidConfigException {
        ObjectMapper mapper = file.getFileName().toString().endsWith(".json") ? new ObjectMapper() : new YAMLMapper();
        JsonNode root;
        try {
            root = mapper.readTree(Files.readAllBytes(file));
        } catch (JacksonException e) {
            throw new InvalidConfigException(file.getFileName() + " is not valid "
                    + (mapper instanceof YAMLMapper ? "YAML" : "JSON") + ": " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidConfigException("cannot read " + file.getFileName() + ": " + e.getMessage());
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            return DEFAULTS;
        }
        return parse(file.getFileName().toString(), root);
    }

    static ModelConfig parse(String source, JsonNode root) throws InvalidConfigException {
        Settings settings = new Settings(source);
        settings.requireObject("(top level)", root);
        settings.rejectUnknown("", root, TOP_LEVEL);

        Optional<String> labels = Optional.empty();
        if (root.hasNonNull("labels")) {
            JsonNode node = root.get("labels");
            if (!node.isTextual() || node.asText().isBlank()) {
                throw settings.error("labels", node, "a file name relative to the model's folder");
            }
            labels = Optional.of(node.asText());
        }

        OptionalInt maxBatchSize = root.hasNonNull("max_batch_size")
                ? OptionalInt.of(settings.integer("max_batch_size", root.get("max_batch_size"), 0, 1 << 20, 0))
                : OptionalInt.empty();

        DynamicBatching batching = dynamicBatching(settings, root.get("dynamic_batching"), maxBatchSize);

        int instances = DEFAULTS.instanceCount();
        if (root.hasNonNull("instance_group")) {
            JsonNode group = root.get("instance_group");
            settings.requireObject("instance_group", group);
            settings.rejectUnknown("instance_group.", group, Set.of("count"));
            instances = settings.integer("instance_group.count", group.get("count"), 0, 64, instances);
        }

        int threads = DEFAULTS.intraOpThreads();
        if (root.hasNonNull("parameters")) {
            JsonNode parameters = root.get("parameters");
            settings.requireObject("parameters", parameters);
            settings.rejectUnknown("parameters.", parameters, Set.of("intra_op_threads"));
            threads = settings.integer("parameters.intra_op_threads", parameters.get("intra_op_threads"), 0, 256, threads);
        }

        Optional<Fallback> fallback = Optional.empty();
        if (root.hasNonNull("fallback")) {
            JsonNode node = root.get("fallback");
            settings.requireObject("fallback", node);
            settings.rejectUnknown("fallback.", node, Set.of("model", "queue_wait_budget_microseconds"));
            JsonNode model = node.get("model");
            if (model == null || !model.isTextual() || !ModelRepository.isValidModelName(model.asText())) {
                throw settings.error("fallback.model", model, "the name of another model in the repository");
            }
            JsonNode budget = node.get("queue_wait_budget_microseconds");
            if (budget == null || budget.isNull()) {
                throw settings.error("fallback.queue_wait_budget_microseconds", null,
                        "how long the oldest request may wait before requests go to the fallback");
            }
            fallback = Optional.of(new Fallback(model.asText(),
                    settings.longInteger("fallback.queue_wait_budget_microseconds", budget, 1, 3_600_000_000L, 0)));
        }
        VersionPolicy policy = versionPolicy(settings, root.get("version_policy"));
        Warmup warmup = warmup(settings, root.get("warmup"), maxBatchSize);
        Optional<PipelineConfig> pipeline = Optional.empty();
        if (root.hasNonNull("pipeline")) {
            try {
                pipeline = Optional.of(PipelineConfig.parse(root.get("pipeline")));
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigException(source + ": " + e.getMessage());
            }
        }
        return new ModelConfig(labels, maxBatchSize, batching, instances, threads, fallback, policy, warmup, pipeline);
    }

    private static VersionPolicy versionPolicy(Settings settings, JsonNode node) throws InvalidConfigException {
        if (node == null || node.isNull()) {
            return VersionPolicy.ALL;
        }
        String expected = "one of latest: {num_versions: N}, all: {} or specific: {versions: [1, 3]}";
        if (!node.isObject() || node.size() != 1) {
            throw settings.error("version_policy", node, expected);
        }
        settings.rejectUnknown("version_policy.", node, Set.of("latest", "all", "specific"));
        Map.Entry<String, JsonNode> only = node.properties().iterator().next();
        JsonNode body = only.getValue();
        String name = "version_policy." + only.getKey();
        if (body == null || body.isNull()) {
            body = YAML_EMPTY;
        }
        settings.requireObject(name, body);
        switch (only.getKey()) {
            case "all" -> {
                settings.rejectUnknown(name + ".", body, Set.of());
                return VersionPolicy.ALL;
            }
            case "latest" -> {
                settings.rejectUnknown(name + ".", body, Set.of("num_versions"));
                return new VersionPolicy.Latest(settings.integer(name + ".num_versions", body.get("num_versions"),
                        1, 1 << 20, 1));
            }
            default -> {
                settings.rejectUnknown(name + ".", body, Set.of("versions"));
                JsonNode versions = body.get("versions");
                if (versions == null || !versions.isArray() || versions.isEmpty()) {
                    throw settings.error(name + ".versions", versions, "a non-empty list of version numbers, e.g. [1, 3]");
                }
                TreeSet<Long> numbers = new TreeSet<>();
                for (JsonNode version : versions) {
                    if (version.isNull()) {
                        throw settings.error(name + ".versions", version, "version numbers of at least 1");
                    }
                    numbers.add(settings.longInteger(name + ".versions", version, 1, 999_999_999_999_999_999L, 0));
                }
                return new VersionPolicy.Specific(numbers);
            }
        }
    }

    private static Warmup warmup(Settings settings, JsonNode node, OptionalInt maxBatchSize)
            throws InvalidConfigException {
        if (node == null || node.isNull()) {
            return Warmup.NONE;
        }
        settings.requireObject("warmup", node);
        settings.rejectUnknown("warmup.", node, Set.of("count", "batch_size", "data", "shapes"));
        int count = settings.integer("warmup.count", node.get("count"), 0, 1000, 1);
        int batchSize = settings.integer("warmup.batch_size", node.get("batch_size"), 1, 1 << 20, 1);
        if (maxBatchSize.isPresent() && maxBatchSize.getAsInt() > 0 && batchSize > maxBatchSize.getAsInt()) {
            throw settings.error("warmup.batch_size", node.get("batch_size"),
                    "at most max_batch_size " + maxBatchSize.getAsInt());
        }
        boolean ones = false;
        JsonNode data = node.get("data");
        if (data != null && !data.isNull()) {
            if (!data.isTextual() || !Set.of("zeros", "ones").contains(data.asText())) {
                throw settings.error("warmup.data", data, "zeros or ones");
            }
            ones = data.asText().equals("ones");
        }
        Map<String, long[]> shapes = new TreeMap<>();
        JsonNode shapesNode = node.get("shapes");
        if (shapesNode != null && !shapesNode.isNull()) {
            settings.requireObject("warmup.shapes", shapesNode);
            for (Map.Entry<String, JsonNode> entry : shapesNode.properties()) {
                String name = "warmup.shapes." + entry.getKey();
                JsonNode dims = entry.getValue();
                if (dims == null || !dims.isArray()) {
                    throw settings.error(name, dims, "the input's whole shape, e.g. [1, 16]");
                }
                long[] shape = new long[dims.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = settings.longInteger(name, dims.get(i), 1, 1 << 24, 0);
                    if (dims.get(i).isNull()) {
                        throw settings.error(name, dims, "dimensions of at least 1");
                    }
                }
                shapes.put(entry.getKey(), shape);
            }
        }
        return new Warmup(count, batchSize, ones, shapes);
    }

    private static DynamicBatching dynamicBatching(Settings settings, JsonNode node, OptionalInt maxBatchSize)
            throws InvalidConfigException {
        DynamicBatching d = DynamicBatching.DEFAULTS;
        if (node == null || node.isNull()) {
            return d;
        }
        String p = "dynamic_batching.";
        settings.requireObject("dynamic_batching", node);
        settings.rejectUnknown(p, node, BATCHING);
        long delay = settings.longInteger(p + "max_queue_delay_microseconds", node.get("max_queue_delay_microseconds"),
                0, 10_000_000, d.maxQueueDelayMicros());
        List<Integer> preferred = new ArrayList<>();
        JsonNode sizes = node.get("preferred_batch_size");
        if (sizes != null && !sizes.isNull()) {
            if (!sizes.isArray()) {
                throw settings.error(p + "preferred_batch_size", sizes, "a list of batch sizes, e.g. [8, 16]");
            }
            for (JsonNode size : sizes) {
                if (size.isNull()) {
                    throw settings.error(p + "preferred_batch_size", size, "batch sizes of at least 1");
                }
                int value = settings.integer(p + "preferred_batch_size", size, 1, 1 << 20, 0);
                if (maxBatchSize.isPresent() && value > maxBatchSize.getAsInt()) {
                    throw settings.error(p + "preferred_batch_size", size,
                            "sizes no larger than max_batch_size " + maxBatchSize.getAsInt());
                }
                preferred.add(value);
            }
        }
        int queueSize = settings.integer(p + "max_queue_size", node.get("max_queue_size"), 1, 1 << 20, d.maxQueueSize());
        long timeout = settings.longInteger(p + "default_timeout_microseconds", node.get("default_timeout_microseconds"),
                0, 3_600_000_000L, d.defaultTimeoutMicros());
        int levels = settings.integer(p + "priority_levels", node.get("priority_levels"), 1, 16, d.priorityLevels());
        int defaultLevel = settings.integer(p + "default_priority_level", node.get("default_priority_level"),
                1, levels, levels);
        boolean adaptive = settings.bool(p + "adaptive_batch_size", node.get("adaptive_batch_size"),
                d.adaptiveBatchSize());
        return new DynamicBatching(delay, preferred, queueSize, timeout, levels, defaultLevel, adaptive);
    }

    /**
     * The rows per run for a model with these inputs and outputs: the configured value, checked
     * against the model, or the default when every input and output has a variable first dimension.
     *
     * @return 0 when requests run one at a time (no batch dimension)
     * @throws InvalidConfigException if max_batch_size is set on a model without a batch dimension
     */
    public int effectiveMaxBatchSize(List<TensorSpec> inputs, List<TensorSpec> outputs) throws InvalidConfigException {
        TensorSpec fixed = null;
        for (List<TensorSpec> specs : List.of(inputs, outputs)) {
            for (TensorSpec spec : specs) {
                if (!spec.hasVariableFirstDimension() && fixed == null) {
                    fixed = spec;
                }
            }
        }
        int configured = maxBatchSize.orElse(fixed == null ? DEFAULT_MAX_BATCH_SIZE : 0);
        if (maxBatchSize.isPresent() && configured > 0 && fixed != null) {
            throw new InvalidConfigException("setting 'max_batch_size' is " + configured + ", but '" + fixed.name()
                    + "' has shape " + Shapes.format(fixed.shape())
                    + " with a fixed first dimension; use max_batch_size: 0 for a model without a batch dimension");
        }
        for (int size : dynamicBatching.preferredBatchSizes()) {
            if (size > configured) {
                throw new InvalidConfigException("setting 'dynamic_batching.preferred_batch_size' has " + size
                        + ", larger than the model's max_batch_size " + configured);
            }
        }
        return configured;
    }

    /** Reads settings out of a JSON tree with errors that name them. */
    private record Settings(String source) {

        void requireObject(String name, JsonNode node) throws InvalidConfigException {
            if (!node.isObject()) {
                throw error(name, node, "a mapping of settings");
            }
        }

        void rejectUnknown(String prefix, JsonNode node, Set<String> known) throws InvalidConfigException {
            for (Map.Entry<String, JsonNode> entry : node.properties()) {
                if (!known.contains(entry.getKey())) {
                    throw new InvalidConfigException(source + ": unknown setting '" + prefix + entry.getKey()
                            + "'; expected one of " + known.stream().sorted().map(k -> prefix + k).toList());
                }
            }
        }

        int integer(String name, JsonNode node, int min, int max, int fallback) throws InvalidConfigException {
            return (int) longInteger(name, node, min, max, fallback);
        }

        long longInteger(String name, JsonNode node, long min, long max, long fallback) throws InvalidConfigException {
            if (node == null || node.isNull()) {
                return fallback;
            }
            if (!node.isIntegralNumber() || !node.canConvertToLong() || node.asLong() < min || node.asLong() > max) {
                throw error(name, node, "an integer from " + min + " to " + max);
            }
            return node.asLong();
        }

        boolean bool(String name, JsonNode node, boolean fallback) throws InvalidConfigException {
            if (node == null || node.isNull()) {
                return fallback;
            }
            if (!node.isBoolean()) {
                throw error(name, node, "true or false");
            }
            return node.booleanValue();
        }

        InvalidConfigException error(String name, JsonNode value, String expected) {
            return new InvalidConfigException(source + ": setting '" + name + "' is " + (value == null ? "missing" : value)
                    + "; expected " + expected);
        }
    }
}
