package dev.serval.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.serval.api.DataType;
import dev.serval.model.InvalidConfigException;
import dev.serval.model.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PipelineConfigTest {
    private static final String INPUTS = """
            inputs:
              - {name: card_id, datatype: BYTES}
              - {name: amount, datatype: FP32, shape: [-1, 1]}
              - {name: timestamp, datatype: INT64}
            """;
    private static final String VALID = INPUTS + """
            features: {key: card_id, at: timestamp}
            assemble:
              input: features
              columns: [amount, log1p(amount), count_1m, 'ratio(amount, ratio(sum_total, count_total))']
            threshold: {input: score, output: decision, review: 0.5, decline: 0.9}
            """;

    static JsonNode yaml(String text) throws IOException {
        return new YAMLMapper().readTree(text);
    }

    static PipelineConfig parse(String text) throws IOException {
        return PipelineConfig.parse(yaml(text));
    }

    @Test
    void parse_readsEverySetting() throws IOException {
        PipelineConfig config = parse(VALID);

        assertThat(config.inputs()).extracting(spec -> spec.toString())
                .containsExactly("card_id BYTES [-1]", "amount FP32 [-1,1]", "timestamp INT64 [-1]");
        assertThat(config.features()).contains(new PipelineConfig.FeatureLookup("card_id", "timestamp"));
        assertThat(config.assemble().input()).isEqualTo("features");
        assertThat(config.assemble().columns()).containsExactly("amount", "log1p(amount)", "count_1m",
                "ratio(amount, ratio(sum_total, count_total))");
        assertThat(config.threshold()).contains(new PipelineConfig.Threshold("score", "decision", 0.5, 0.9));
    }

    @Test
    void parse_withoutFeaturesOrThreshold_needsOnlyInputsAndAssemble() throws IOException {
        PipelineConfig config = parse(INPUTS + "assemble: {input: x, columns: [amount, 'hour_of_day(timestamp)']}");

        assertThat(config.features()).isEmpty();
        assertThat(config.threshold()).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            unknown column        | features: {key: card_id, at: timestamp}\\nassemble: {input: f, columns: [amount, count_2m]}\\n | setting 'pipeline.assemble.columns[1]' is "count_2m"; expected a number input, a feature [count_1m
            unknown function      | features: {key: card_id, at: timestamp}\\nassemble: {input: f, columns: ['log2(amount)']}\\n | unknown function 'log2'
            wrong argument count  | assemble: {input: f, columns: ['ratio(amount)']}\\n | ratio takes 2 argument(s), not 1
            BYTES input as column | assemble: {input: f, columns: [card_id]}\\n | setting 'pipeline.assemble.columns[0]' is "card_id"
            feature without store | assemble: {input: f, columns: [amount, count_1h]}\\n | setting 'pipeline.assemble.columns[1]' is "count_1h"; expected no feature, since setting 'pipeline.features' is missing
            missing assemble      | features: {key: card_id, at: timestamp}\\n | setting 'pipeline.assemble' is missing
            no columns            | assemble: {input: f, columns: []}\\n | setting 'pipeline.assemble.columns' is []
            key not BYTES         | features: {key: amount, at: timestamp}\\nassemble: {input: f, columns: [amount]}\\n | setting 'pipeline.features.key' is "amount"; expected the name of a [BYTES] input in pipeline.inputs [card_id, amount, timestamp]
            at missing input      | features: {key: card_id, at: time}\\nassemble: {input: f, columns: [amount]}\\n | setting 'pipeline.features.at' is "time"; expected the name of a [INT64] input
            thresholds reversed   | assemble: {input: f, columns: [amount]}\\nthreshold: {input: s, output: d, review: 0.9, decline: 0.5}\\n | setting 'pipeline.threshold.decline' is 0.5; expected a score at least pipeline.threshold.review (0.9)
            threshold above 1     | assemble: {input: f, columns: [amount]}\\nthreshold: {input: s, output: d, review: 0.5, decline: 1.5}\\n | setting 'pipeline.threshold.decline' is 1.5; expected a score from 0 to 1
            threshold no output   | assemble: {input: f, columns: [amount]}\\nthreshold: {input: s, review: 0.5, decline: 0.9}\\n | setting 'pipeline.threshold.output' is missing
            unknown setting       | assemble: {input: f, columns: [amount]}\\nrecord: true\\n | unknown setting 'pipeline.record'
            """)
    void parse_rejectsBadSettings_namingThem(String what, String rest, String message) {
        assertThatThrownBy(() -> parse(INPUTS + rest.replace("\\n", "\n")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(message);
    }

    @Test
    void parse_rejectsBadInputs_namingThem() {
        assertThatThrownBy(() -> parse("inputs: []\nassemble: {input: f, columns: [a]}"))
                .hasMessageContaining("setting 'pipeline.inputs' is []");
        assertThatThrownBy(() -> parse("inputs: [{name: a, datatype: FP16}]\nassemble: {input: f, columns: [a]}"))
                .hasMessageContaining("setting 'pipeline.inputs[0].datatype' is \"FP16\"; expected one of BYTES, FP32");
        assertThatThrownBy(() -> parse("inputs: [{name: a, datatype: FP32, shape: [-1, 3]}]\nassemble: {input: f, columns: [a]}"))
                .hasMessageContaining("setting 'pipeline.inputs[0].shape' is [-1,3]; expected [-1] or [-1, 1]");
        assertThatThrownBy(() -> parse("inputs: [{name: a, datatype: FP32}, {name: a, datatype: INT64}]\n"
                + "assemble: {input: f, columns: [a]}"))
                .hasMessageContaining("setting 'pipeline.inputs[1].name' is \"a\"; expected a name no other input has");
        assertThatThrownBy(() -> parse("inputs: [{datatype: FP32}]\nassemble: {input: f, columns: [a]}"))
                .hasMessageContaining("setting 'pipeline.inputs[0].name' is missing");
    }

    @Test
    void modelConfig_readsThePipeline_andNamesTheFileInErrors(@TempDir Path folder) throws Exception {
        Path file = folder.resolve("config.yaml");
        Files.writeString(file, "max_batch_size: 8\npipeline:\n" + VALID.indent(2));
        ModelConfig config = ModelConfig.read(file);
        assertThat(config.pipeline()).isPresent();
        assertThat(config.pipeline().get().inputs().get(1).type()).isEqualTo(DataType.FP32);

        Files.writeString(file, "pipeline:\n" + (INPUTS + "assemble: {input: f, columns: [nope]}").indent(2));
        assertThatThrownBy(() -> ModelConfig.read(file)).isInstanceOf(InvalidConfigException.class)
                .hasMessageStartingWith("config.yaml: setting 'pipeline.assemble.columns[0]' is \"nope\"");

        Files.writeString(file, "max_batch_size: 8\n");
        assertThat(ModelConfig.read(file).pipeline()).isEmpty();
    }
}
