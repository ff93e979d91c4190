package dev.serval.pipeline;

import static dev.serval.testing.TestTensors.floats;
import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.int64;
import static dev.serval.testing.TestTensors.strings;
import static dev.serval.testing.TestTensors.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.features.Event;
import dev.serval.testing.InMemoryFeatureStore;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

class PipelineTest {
    /** 2026-01-05T13:20:00Z. */
    private static final long NOW = 1_767_571_200_000L + 13 * 3_600_000L + 20 * 60_000L;
    private static final String CONFIG = """
            inputs:
              - {name: card_id, datatype: BYTES}
              - {name: amount, datatype: FP32}
              - {name: timestamp, datatype: INT64}
            features: {key: card_id, at: timestamp}
            assemble:
              input: features
              columns: [amount, log1p(amount), 'hour_of_day(timestamp)', count_1m, sum_1h,
                        distinct_counterparties_1h, seconds_since_last, 'ratio(sum_total, count_total)',
                        'ratio(amount, ratio(sum_total, count_total))']
            threshold: {input: score, output: decision, review: 0.5, decline: 0.9}
            """;
    private static final List<TensorSpec> MODEL_INPUTS = List.of(
            new TensorSpec("features", DataType.FP32, new long[] {-1, 9}));
    private static final List<TensorSpec> MODEL_OUTPUTS = List.of(
            new TensorSpec("score", DataType.FP32, new long[] {-1, 1}),
            new TensorSpec("logit", DataType.FP32, new long[] {-1, 1}));

    private final InMemoryFeatureStore store = new InMemoryFeatureStore();

    private Pipeline pipeline() throws IOException {
        return Pipeline.create("fraud", PipelineConfigTest.parse(CONFIG), MODEL_INPUTS, MODEL_OUTPUTS, store);
    }

    @Test
    void prepare_looksUpEveryRowAtOnce_andAssemblesTheColumns() throws IOException {
        store.record(List.of(
                new Event("a", "m1", 10.0, NOW - 2 * 3_600_000L),  // only in the totals
                new Event("a", "m1", 20.0, NOW - 30 * 60_000L),    // in the hour
                new Event("a", "m2", 30.0, NOW - 20_000L)));       // in the minute
        Pipeline pipeline = pipeline();
        List<Tensor> request = List.of(strings("card_id", new long[] {2}, "a", "never-seen"),
                fp32("amount", new long[] {2}, 60f, 5f), int64("timestamp", new long[] {2}, NOW, NOW));

        Pipeline.Prepared prepared = pipeline.prepare(request, 2);

        assertThat(store.lookups()).isEqualTo(1);
        assertThat(prepared.degraded()).isFalse();
        Tensor input = prepared.input();
        assertThat(input.name()).isEqualTo("features");
        assertThat(input.shape()).containsExactly(2, 9);
        assertThat(floats(input)).containsExactly(
                60f, (float) Math.log1p(60), 13f, 1f, 50f, 2f, 20f, 20f, 3f,
                5f, (float) Math.log1p(5), 13f, 0f, 0f, 0f, 86_400f, 0f, 0f);
        input.release();
    }

    @Test
    void prepare_passesOnADegradedLookup() throws IOException {
        store.degrade(true);
        Pipeline.Prepared prepared = pipeline().prepare(List.of(strings("card_id", new long[] {1}, "a"),
                fp32("amount", new long[] {1}, 1f), int64("timestamp", new long[] {1}, NOW)), 1);

        assertThat(prepared.degraded()).isTrue();
    }

    @Test
    void finish_labelsScoresAtTheThresholds_andAnswersInTheOrderAsked() throws IOException {
        Pipeline pipeline = pipeline();
        assertThat(pipeline.outputs()).extracting(TensorSpec::toString)
                .containsExactly("score FP32 [-1,1]", "logit FP32 [-1,1]", "decision BYTES [-1,1]");
        List<String> asked = List.of("decision", "score");
        List<String> computed = pipeline.modelOutputs(asked);
        assertThat(computed).containsExactly("score");
        assertThat(pipeline.modelOutputs(List.of("decision"))).containsExactly("score");
        assertThat(pipeline.modelOutputs(List.of("logit"))).containsExactly("logit");

        Tensor score = fp32("score", new long[] {6, 1}, 0f, 0.4999f, 0.5f, 0.8999f, 0.9f, Float.NaN);
        List<Tensor> answer = pipeline.finish(List.of(score), computed, asked);

        assertThat(answer).extracting(Tensor::name).containsExactly("decision", "score");
        assertThat(answer.get(0).shape()).containsExactly(6, 1);
        assertThat(texts(answer.get(0)))
                .containsExactly("approve", "approve", "review", "review", "decline", "review");
        assertThat(answer.get(1)).isSameAs(score);
    }

    @Test
    void create_checksThePipelineAgainstTheModel() throws IOException {
        PipelineConfig config = PipelineConfigTest.parse(CONFIG);

        assertThatThrownBy(() -> Pipeline.create("fraud", config,
                List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 9})), MODEL_OUTPUTS, store))
                .hasMessageContaining("setting 'pipeline.assemble.input' is 'features' but the model's inputs are [x FP32 [-1,9]]");
        assertThatThrownBy(() -> Pipeline.create("fraud", config,
                List.of(new TensorSpec("features", DataType.FP32, new long[] {-1, 8})), MODEL_OUTPUTS, store))
                .hasMessageContaining("the model's input 'features' is FP32 [-1,8] but setting "
                        + "'pipeline.assemble.columns' builds FP32 [-1,9] (9 columns per row)");
        assertThatThrownBy(() -> Pipeline.create("fraud", config, MODEL_INPUTS,
                List.of(new TensorSpec("score", DataType.FP32, new long[] {-1, 2})), store))
                .hasMessageContaining("setting 'pipeline.threshold.input' is 'score'; expected a model output of one FP32 score per row");
        assertThatThrownBy(() -> Pipeline.create("fraud", config, MODEL_INPUTS,
                List.of(MODEL_OUTPUTS.get(0), new TensorSpec("decision", DataType.FP32, new long[] {-1, 1})), store))
                .hasMessageContaining("setting 'pipeline.threshold.output' is 'decision', a name the model or the pipeline already uses");
        assertThatThrownBy(() -> Pipeline.create("fraud", config, MODEL_INPUTS, MODEL_OUTPUTS, null))
                .hasMessageContaining("model 'fraud' looks up features (setting 'pipeline.features') but the server "
                        + "has no feature store configured");
    }
}
