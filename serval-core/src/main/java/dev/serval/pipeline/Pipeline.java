package dev.serval.pipeline;

import dev.serval.api.BufferPool;
import dev.serval.api.DataType;
import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import dev.serval.features.FeatureStore;
import dev.serval.features.FeatureStoreException;
import dev.serval.features.Lookup;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The steps around one model that a {@link PipelineConfig} declares: before the model, one
 * feature-store lookup for the whole request and the assembly of the model's input; after it, the
 * labelling of its score. Clients see the pipeline's {@link #inputs()} and {@link #outputs()},
 * never the model's own input.
 *
 * <p>Design note: the pre-steps run on the request's thread, before the request is queued, so
 * the scheduler batches assembled FP32 rows exactly as it batches any model's input, and the
 * model's instance threads never wait on the store. The lookup is one call for all of a
 * request's rows (the store answers a batch from its tiers at once), never a call per row. The
 * assembled tensor comes from {@link BufferPool#SHARED}; the caller releases it once the run is
 * done, like a decoded request tensor.
 *
 * <p>Immutable and thread-safe; the store it holds is shared and owned by the caller.
 */
public final class Pipeline {
    private static final byte[] APPROVE = "approve".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] REVIEW = "review".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DECLINE = "decline".getBytes(StandardCharsets.US_ASCII);

    private final String model;
    private final List<TensorSpec> inputs;
    private final List<TensorSpec> outputs;
    private final List<String> modelOutputs;
    private final FeatureStore store;
    private final int keyIndex;
    private final int atIndex;
    private final String assembled;
    private final Column[] columns;
    private final PipelineConfig.Threshold threshold;
    /**
     * The thresholds as FP32, the scores' type: compared in double, a score printed as 0.9
     * (0.89999998f) would fall below a threshold written 0.9.
     */
    private final float review;
    private final float decline;

    private Pipeline(String model, List<TensorSpec> inputs, List<TensorSpec> outputs, List<String> modelOutputs,
                     FeatureStore store, int keyIndex, int atIndex, String assembled, Column[] columns,
                     PipelineConfig.Threshold threshold) {
        this.model = model;
        this.inputs = inputs;
        this.outputs = outputs;
        this.modelOutputs = modelOutputs;
        this.store = store;
        this.keyIndex = keyIndex;
        this.atIndex = atIndex;
        this.assembled = assembled;
        this.columns = columns;
        this.threshold = threshold;
        this.review = threshold == null ? Float.NaN : (float) threshold.review();
        this.decline = threshold == null ? Float.NaN : (float) threshold.decline();
    }

    /**
     * Builds the pipeline for one loaded model.
     *
     * @param model        the model's name, for messages
     * @param modelInputs  what the model declares; it must have exactly the one input the
     *                     pipeline assembles, FP32 [-1, columns]
     * @param modelOutputs what the model declares
     * @param store        the feature store, or null when the server has none
     * @throws IllegalArgumentException saying why the pipeline does not fit the model, or that it
     *                                  needs a feature store and there is none
     */
    public static Pipeline create(String model, PipelineConfig config, List<TensorSpec> modelInputs,
                                  List<TensorSpec> modelOutputs, FeatureStore store) {
        PipelineConfig.Assemble assemble = config.assemble();
        if (modelInputs.size() != 1 || !modelInputs.get(0).name().equals(assemble.input())) {
            throw new IllegalArgumentException("setting 'pipeline.assemble.input' is '" + assemble.input()
                    + "' but the model's inputs are " + describe(modelInputs)
                    + "; a pipeline builds a model's only input");
        }
        TensorSpec input = modelInputs.get(0);
        int width = assemble.columns().size();
        long[] shape = input.shape();
        if (input.type() != DataType.FP32 || shape.length != 2 || shape[0] >= 0
                || (shape[1] >= 0 && shape[1] != width)) {
            throw new IllegalArgumentException("the model's input '" + input.name() + "' is " + input.type() + " "
                    + Shapes.format(shape) + " but setting 'pipeline.assemble.columns' builds FP32 [-1," + width
                    + "] (" + width + " columns per row)");
        }
        Map<String, TensorSpec> byName = new LinkedHashMap<>();
        config.inputs().forEach(spec -> byName.put(spec.name(), spec));
        Map<String, Column.Input> numbers = PipelineConfig.numberInputs(byName);
        Column[] columns = new Column[width];
        for (int i = 0; i < width; i++) {
            columns[i] = Column.parse(assemble.columns().get(i), numbers);
        }

        List<TensorSpec> outputs = new ArrayList<>(modelOutputs);
        PipelineConfig.Threshold threshold = config.threshold().orElse(null);
        if (threshold != null) {
            TensorSpec score = find(modelOutputs, threshold.input());
            if (score == null || score.type() != DataType.FP32 || !score.hasVariableFirstDimension()
                    || Shapes.elementCount(Arrays.copyOfRange(score.shape(), 1, score.shape().length)) != 1) {
                throw new IllegalArgumentException("setting 'pipeline.threshold.input' is '" + threshold.input()
                        + "'; expected a model output of one FP32 score per row ([-1] or [-1, 1]); "
                        + "the model's outputs are "
                        + describe(modelOutputs));
            }
            if (find(modelOutputs, threshold.output()) != null || byName.containsKey(threshold.output())) {
                throw new IllegalArgumentException("setting 'pipeline.threshold.output' is '" + threshold.output()
                        + "', a name the model or the pipeline already uses; choose another");
            }
            outputs.add(new TensorSpec(threshold.output(), DataType.BYTES, score.shape()));
        }

        int keyIndex = -1;
        int atIndex = -1;
        if (config.features().isPresent()) {
            if (store == null) {
                throw new IllegalArgumentException("model '" + model + "' looks up features (setting "
                        + "'pipeline.features') but the server has no feature store configured");
            }
            keyIndex = indexOf(config.inputs(), config.features().get().key());
            atIndex = indexOf(config.inputs(), config.features().get().at());
        }
        return new Pipeline(model, config.inputs(), List.copyOf(outputs),
                modelOutputs.stream().map(TensorSpec::name).toList(), keyIndex < 0 ? null : store, keyIndex, atIndex,
                assemble.input(), columns, threshold);
    }

    /** What clients send, in the declared order. */
    public List<TensorSpec> inputs() {
        return inputs;
    }

    /** What clients get: the model's outputs, then the threshold's label output if any. */
    public List<TensorSpec> outputs() {
        return outputs;
    }

    /**
     * The model outputs a run must compute to answer these client outputs (each one of
     * {@link #outputs()}), in the model's order: a label needs its score.
     */
    public List<String> modelOutputs(List<String> requested) {
        List<String> needed = new ArrayList<>(modelOutputs.size());
        for (String name : modelOutputs) {
            if (requested.contains(name) || (threshold != null && name.equals(threshold.input())
                    && requested.contains(threshold.output()))) {
                needed.add(name);
            }
        }
        return needed;
    }

    /** The model's input for a request, and whether its features came from a degraded lookup. */
    public record Prepared(Tensor input, boolean degraded) {
    }

    /**
     * The pre-steps: looks up every row's features in one call and assembles the model's input.
     *
     * @param requestInputs the request's inputs, validated against {@link #inputs()} and in their order
     * @param rows          rows of the request (every input's first dimension)
     * @return the model's input, a pooled buffer: release it once the run is done
     * @throws ServalException UNAVAILABLE when the feature store fails
     */
    public Prepared prepare(List<Tensor> requestInputs, int rows) {
        Lookup lookup = null;
        if (store != null) {
            byte[][] keys = requestInputs.get(keyIndex).bytesElements();
            ByteBuffer at = requestInputs.get(atIndex).buffer();
            String[] entities = new String[rows];
            long[] times = new long[rows];
            for (int row = 0; row < rows; row++) {
                entities[row] = new String(keys[row], StandardCharsets.UTF_8);
                times[row] = at.getLong(row * Long.BYTES);
            }
            try {
                lookup = store.lookup(Arrays.asList(entities), times);
            } catch (FeatureStoreException e) {
                throw ServalException.unavailable("the feature lookup for model '%s' failed: %s", model,
                        e.getMessage());
            }
            if (lookup.rows() != rows) {
                throw ServalException.internal("the feature store answered " + lookup.rows() + " rows for "
                        + rows + " entities", null);
            }
        }
        Frame frame = new Frame(requestInputs, lookup);
        int width = columns.length;
        ByteBuffer buffer = BufferPool.SHARED.acquire(rows * width * Float.BYTES);
        int offset = 0;
        for (int row = 0; row < rows; row++) {
            for (Column column : columns) {
                buffer.putFloat(offset, (float) column.value(frame, row));
                offset += Float.BYTES;
            }
        }
        Tensor input = new Tensor(assembled, DataType.FP32, new long[] {rows, width},
                new TensorData.FixedWidth(buffer, true));
        return new Prepared(input, lookup != null && lookup.degraded());
    }

    /**
     * The post-steps: the client outputs asked for, from the model's results.
     *
     * @param results      the run's outputs, in the order of {@link #modelOutputs(List)}
     * @param computed     their names ({@code modelOutputs(requested)})
     * @param requested    the client outputs asked for, in the order they are answered
     */
    public List<Tensor> finish(List<Tensor> results, List<String> computed, List<String> requested) {
        List<Tensor> answer = new ArrayList<>(requested.size());
        for (String name : requested) {
            if (threshold != null && name.equals(threshold.output())) {
                answer.add(label(results.get(computed.indexOf(threshold.input()))));
            } else {
                answer.add(results.get(computed.indexOf(name)));
            }
        }
        return answer;
    }

    /** One label per score, in the score's shape. */
    private Tensor label(Tensor score) {
        ByteBuffer scores = score.buffer();
        byte[][] labels = new byte[(int) score.elementCount()][];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = label(scores.getFloat(i * Float.BYTES), review, decline);
        }
        return new Tensor(threshold.output(), DataType.BYTES, score.shape(), new TensorData.Bytes(labels));
    }

    private static byte[] label(float score, float review, float decline) {
        if (Float.isNaN(score)) {
            return REVIEW;
        }
        return score >= decline ? DECLINE : score >= review ? REVIEW : APPROVE;
    }

    private static TensorSpec find(List<TensorSpec> specs, String name) {
        for (TensorSpec spec : specs) {
            if (spec.name().equals(name)) {
                return spec;
            }
        }
        return null;
    }

    private static int indexOf(List<TensorSpec> specs, String name) {
        for (int i = 0; i < specs.size(); i++) {
            if (specs.get(i).name().equals(name)) {
                return i;
            }
        }
        throw new IllegalStateException("no input " + name);
    }

    private static String describe(List<TensorSpec> specs) {
        return specs.stream().map(TensorSpec::toString).toList().toString();
    }
}
