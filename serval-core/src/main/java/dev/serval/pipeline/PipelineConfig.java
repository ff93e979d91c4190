package dev.serval.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import dev.serval.api.DataType;
import dev.serval.api.TensorSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The {@code pipeline} section of a model's config: what clients send instead of the model's own
 * input, and the steps between them.
 *
 * <pre>
 * pipeline:
 *   inputs:                                   # what clients send, one value per row
 *     - {name: card_id, datatype: BYTES}      #   shape [-1] (the default) or [-1, 1]
 *     - {name: amount, datatype: FP32}
 *     - {name: timestamp, datatype: INT64}
 *   features: {key: card_id, at: timestamp}   # optional: one feature-store lookup per request, the
 *                                             #   entity of each row from a BYTES input, the time its
 *                                             #   windows are judged at from an INT64 input (epoch ms)
 *   assemble:                                 # the model's only input, FP32 [-1, columns]
 *     input: features
 *     columns: [amount, log1p(amount), count_1m, ratio(sum_total, count_total)]   # see Column
 *   threshold:                                # optional: labels a score output per row
 *     {input: score, output: decision, review: 0.5, decline: 0.9}
 * </pre>
 *
 * <p>The threshold labels a row {@code decline} when its score is at least {@code decline},
 * {@code review} when at least {@code review}, else {@code approve}; a NaN score is
 * {@code review} (a person looks, rather than a silent approval). {@code 0 <= review <= decline <= 1}.
 * Scores and thresholds compare as FP32, the scores' type.
 *
 * <p>Immutable. What can be checked without the model is checked as it is read; that the model's
 * input and outputs fit is checked when a {@link Pipeline} is built for the model.
 *
 * @param inputs    what clients send, in the declared order
 * @param features  the feature lookup, if any
 * @param assemble  how the model's input is built
 * @param threshold the labelling of a score, if any
 */
public record PipelineConfig(List<TensorSpec> inputs, Optional<FeatureLookup> features, Assemble assemble,
                             Optional<Threshold> threshold) {

    public PipelineConfig {
        inputs = List.copyOf(inputs);
    }

    /**
     * @param key the BYTES input holding each row's entity key
     * @param at  the INT64 input holding each row's time, epoch milliseconds
     */
    public record FeatureLookup(String key, String at) {
    }

    /**
     * @param input   the model input built, FP32 [-1, columns]
     * @param columns its columns in order, as {@link Column} expressions
     */
    public record Assemble(String input, List<String> columns) {
        public Assemble {
            columns = List.copyOf(columns);
        }
    }

    /**
     * @param input   the model output scored, FP32 with one value per row
     * @param output  the BYTES output added, one label per row
     * @param review  the lowest score labelled review
     * @param decline the lowest score labelled decline
     */
    public record Threshold(String input, String output, double review, double decline) {
    }

    private static final Set<DataType> NUMBER_INPUTS = Set.of(DataType.FP32, DataType.FP64, DataType.INT32,
            DataType.INT64);

    /**
     * Reads the {@code pipeline} section.
     *
     * @throws IllegalArgumentException naming the setting ({@code pipeline.assemble.columns[2]}),
     *                                  the value and what was expected
     */
    public static PipelineConfig parse(JsonNode node) {
        requireObject("pipeline", node);
        rejectUnknown("pipeline.", node, Set.of("inputs", "features", "assemble", "threshold"));

        JsonNode inputsNode = node.get("inputs");
        if (inputsNode == null || !inputsNode.isArray() || inputsNode.isEmpty()) {
            throw error("pipeline.inputs", inputsNode,
                    "a list of the inputs clients send, e.g. [{name: card_id, datatype: BYTES}]");
        }
        List<TensorSpec> inputs = new ArrayList<>();
        Map<String, TensorSpec> byName = new LinkedHashMap<>();
        for (int i = 0; i < inputsNode.size(); i++) {
            TensorSpec spec = input("pipeline.inputs[" + i + "]", inputsNode.get(i));
            if (byName.put(spec.name(), spec) != null) {
                throw error("pipeline.inputs[" + i + "].name", inputsNode.get(i).get("name"),
                        "a name no other input has");
            }
            inputs.add(spec);
        }

        Optional<FeatureLookup> features = Optional.empty();
        JsonNode featuresNode = node.get("features");
        if (featuresNode != null && !featuresNode.isNull()) {
            requireObject("pipeline.features", featuresNode);
            rejectUnknown("pipeline.features.", featuresNode, Set.of("key", "at"));
            String key = inputName("pipeline.features.key", featuresNode.get("key"), byName, Set.of(DataType.BYTES));
            String at = inputName("pipeline.features.at", featuresNode.get("at"), byName, Set.of(DataType.INT64));
            features = Optional.of(new FeatureLookup(key, at));
        }

        Assemble assemble = assemble(node.get("assemble"), byName, features.isPresent());
        Optional<Threshold> threshold = threshold(node.get("threshold"));
        return new PipelineConfig(inputs, features, assemble, threshold);
    }

    private static TensorSpec input(String setting, JsonNode node) {
        requireObject(setting, node);
        rejectUnknown(setting + ".", node, Set.of("name", "datatype", "shape"));
        JsonNode name = node.get("name");
        if (name == null || !name.isTextual() || name.asText().isBlank()) {
            throw error(setting + ".name", name, "the input's name");
        }
        JsonNode datatype = node.get("datatype");
        DataType type;
        try {
            type = DataType.parse(setting + ".datatype",
                    datatype == null || !datatype.isTextual() ? null : datatype.asText());
        } catch (RuntimeException e) {
            throw error(setting + ".datatype", datatype, "a protocol datatype such as BYTES, FP32 or INT64");
        }
        if (type != DataType.BYTES && !NUMBER_INPUTS.contains(type)) {
            throw error(setting + ".datatype", datatype, "one of BYTES, FP32, FP64, INT32, INT64");
        }
        long[] shape = {-1};
        JsonNode shapeNode = node.get("shape");
        if (shapeNode != null && !shapeNode.isNull()) {
            String text = shapeNode.toString().replace(" ", "");
            if (text.equals("[-1,1]")) {
                shape = new long[] {-1, 1};
            } else if (!text.equals("[-1]")) {
                throw error(setting + ".shape", shapeNode, "[-1] or [-1, 1]: one value per row, rows first");
            }
        }
        return new TensorSpec(name.asText(), type, shape);
    }

    private static String inputName(String setting, JsonNode node, Map<String, TensorSpec> inputs,
                                    Set<DataType> types) {
        String expected = "the name of a " + new TreeSet<>(types.stream().map(Enum::name).toList())
                + " input in pipeline.inputs " + inputs.keySet();
        if (node == null || !node.isTextual()) {
            throw error(setting, node, expected);
        }
        TensorSpec spec = inputs.get(node.asText());
        if (spec == null || !types.contains(spec.type())) {
            throw error(setting, node, expected);
        }
        return node.asText();
    }

    private static Assemble assemble(JsonNode node, Map<String, TensorSpec> inputs, boolean lookup) {
        if (node == null || node.isNull()) {
            throw error("pipeline.assemble", null, "{input: <the model's input>, columns: [...]}");
        }
        requireObject("pipeline.assemble", node);
        rejectUnknown("pipeline.assemble.", node, Set.of("input", "columns"));
        JsonNode input = node.get("input");
        if (input == null || !input.isTextual() || input.asText().isBlank()) {
            throw error("pipeline.assemble.input", input, "the name of the model's input to build");
        }
        JsonNode columns = node.get("columns");
        if (columns == null || !columns.isArray() || columns.isEmpty()) {
            throw error("pipeline.assemble.columns", columns, "a non-empty list of columns, each " + Column.GRAMMAR);
        }
        Map<String, Column.Input> numbers = numberInputs(inputs);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            JsonNode column = columns.get(i);
            String setting = "pipeline.assemble.columns[" + i + "]";
            if (!column.isTextual()) {
                throw error(setting, column, Column.GRAMMAR);
            }
            Column parsed;
            try {
                parsed = Column.parse(column.asText(), numbers);
            } catch (IllegalArgumentException e) {
                throw error(setting, column, Column.GRAMMAR + " (" + e.getMessage() + ")");
            }
            if (!lookup && usesFeatures(parsed)) {
                throw error(setting, column, "no feature, since setting 'pipeline.features' is missing; "
                        + "add features: {key: <BYTES input>, at: <INT64 input>}");
            }
            texts.add(column.asText());
        }
        return new Assemble(input.asText(), texts);
    }

    /** The pipeline's inputs a column may read, by name, with their index among all inputs. */
    static Map<String, Column.Input> numberInputs(Map<String, TensorSpec> inputs) {
        Map<String, Column.Input> numbers = new LinkedHashMap<>();
        int index = 0;
        for (TensorSpec spec : inputs.values()) {
            if (NUMBER_INPUTS.contains(spec.type())) {
                numbers.put(spec.name(), new Column.Input(spec.name(), index, spec.type()));
            }
            index++;
        }
        return numbers;
    }

    private static boolean usesFeatures(Column column) {
        return switch (column) {
            case Column.FeatureValue feature -> true;
            case Column.Input input -> false;
            case Column.Log1p log -> usesFeatures(log.argument());
            case Column.HourOfDay hour -> usesFeatures(hour.argument());
            case Column.Ratio ratio -> usesFeatures(ratio.numerator()) || usesFeatures(ratio.denominator());
        };
    }

    private static Optional<Threshold> threshold(JsonNode node) {
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        requireObject("pipeline.threshold", node);
        rejectUnknown("pipeline.threshold.", node, Set.of("input", "output", "review", "decline"));
        JsonNode input = node.get("input");
        if (input == null || !input.isTextual() || input.asText().isBlank()) {
            throw error("pipeline.threshold.input", input, "the name of the model output holding the score");
        }
        JsonNode output = node.get("output");
        if (output == null || !output.isTextual() || output.asText().isBlank()) {
            throw error("pipeline.threshold.output", output, "the name of the label output to add, e.g. decision");
        }
        if (output.asText().equals(input.asText())) {
            throw error("pipeline.threshold.output", output, "a name other than the score's, '" + input.asText() + "'");
        }
        double review = fraction("pipeline.threshold.review", node.get("review"));
        double decline = fraction("pipeline.threshold.decline", node.get("decline"));
        if (review > decline) {
            throw error("pipeline.threshold.decline", node.get("decline"),
                    "a score at least pipeline.threshold.review (" + review + ")");
        }
        return Optional.of(new Threshold(input.asText(), output.asText(), review, decline));
    }

    private static double fraction(String setting, JsonNode node) {
        if (node == null || !node.isNumber() || !(node.asDouble() >= 0.0 && node.asDouble() <= 1.0)) {
            throw error(setting, node, "a score from 0 to 1");
        }
        return node.asDouble();
    }

    private static void requireObject(String setting, JsonNode node) {
        if (node == null || !node.isObject()) {
            throw error(setting, node, "a mapping of settings");
        }
    }

    private static void rejectUnknown(String prefix, JsonNode node, Set<String> known) {
        for (Map.Entry<String, JsonNode> entry : node.properties()) {
            if (!known.contains(entry.getKey())) {
                throw new IllegalArgumentException("unknown setting '" + prefix + entry.getKey() + "'; expected one of "
                        + known.stream().sorted().map(k -> prefix + k).toList());
            }
        }
    }

    private static IllegalArgumentException error(String setting, JsonNode value, String expected) {
        return new IllegalArgumentException("setting '" + setting + "' is " + (value == null ? "missing" : value)
                + "; expected " + expected);
    }
}
