package dev.serval.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What a model's {@code config.yaml} (or {@code config.json}) says: only what the ONNX file cannot
 * tell. Names follow Triton's model configuration where one exists.
 *
 * <pre>
 * labels: labels.txt        # one class label per line, for the classification extension
 * instance_group:
 *   count: 1                # concurrent runs of this model (0 = derived from the cores)
 * parameters:
 *   intra_op_threads: 2     # threads per run (0 = cores / instances)
 * </pre>
 *
 * <p>Immutable; validated as it is read, and every error names the setting, the value and what
 * was expected.
 *
 * @param labelsFile     the labels file relative to the model's folder, if any
 * @param instanceCount  concurrent runs, or 0 to derive from the cores
 * @param intraOpThreads threads per run, or 0 to derive from the cores and instances
 * @param queueCapacity  requests that may wait for an instance before new ones are refused
 */
public record ModelConfig(Optional<String> labelsFile, int instanceCount, int intraOpThreads, int queueCapacity) {

    /** The configuration of a model that has no config file. */
    public static final ModelConfig DEFAULTS = new ModelConfig(Optional.empty(), 0, 0, 256);

    private static final Set<String> TOP_LEVEL = Set.of("labels", "instance_group", "parameters");

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
        if (root.has("labels")) {
            JsonNode node = root.get("labels");
            if (!node.isTextual() || node.asText().isBlank()) {
                throw settings.error("labels", node, "a file name relative to the model's folder");
            }
            labels = Optional.of(node.asText());
        }

        int instances = DEFAULTS.instanceCount();
        if (root.has("instance_group")) {
            JsonNode group = root.get("instance_group");
            settings.requireObject("instance_group", group);
            settings.rejectUnknown("instance_group.", group, Set.of("count"));
            instances = settings.integer("instance_group.count", group.get("count"), 0, 64, instances);
        }

        int threads = DEFAULTS.intraOpThreads();
        if (root.has("parameters")) {
            JsonNode parameters = root.get("parameters");
            settings.requireObject("parameters", parameters);
            settings.rejectUnknown("parameters.", parameters, Set.of("intra_op_threads"));
            threads = settings.integer("parameters.intra_op_threads", parameters.get("intra_op_threads"), 0, 256, threads);
        }
        return new ModelConfig(labels, instances, threads, DEFAULTS.queueCapacity());
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
                String key = entry.getKey();
                if (!known.contains(key)) {
                    throw new InvalidConfigException(source + ": unknown setting '" + prefix + key
                            + "'; expected one of " + known.stream().sorted().map(k -> prefix + k).toList());
                }
            }
        }

        int integer(String name, JsonNode node, int min, int max, int fallback) throws InvalidConfigException {
            if (node == null || node.isNull()) {
                return fallback;
            }
            if (!node.canConvertToInt() || !node.isIntegralNumber() || node.asInt() < min || node.asInt() > max) {
                throw error(name, node, "an integer from " + min + " to " + max);
            }
            return node.asInt();
        }

        InvalidConfigException error(String name, JsonNode value, String expected) {
            return new InvalidConfigException(source + ": setting '" + name + "' is " + value + "; expected " + expected);
        }
    }
}
