package dev.serval.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ModelConfigTest {
    @TempDir
    Path dir;

    private Path write(String name, String content) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, content);
        return file;
    }

    private ModelConfig yaml(String content) throws Exception {
        return ModelConfig.read(write("config.yaml", content));
    }

    private static ModelConfig json(String content) throws Exception {
        return ModelConfig.parse("config.json", new ObjectMapper().readTree(content));
    }

    @Test
    void read_parsesEveryYamlSetting() throws Exception {
        ModelConfig config = yaml("""
                labels: labels.txt
                instance_group:
                  count: 2
                parameters:
                  intra_op_threads: 3
                """);
        assertThat(config.labelsFile()).contains("labels.txt");
        assertThat(config.instanceCount()).isEqualTo(2);
        assertThat(config.intraOpThreads()).isEqualTo(3);
        assertThat(config.dynamicBatching()).isEqualTo(ModelConfig.DynamicBatching.DEFAULTS);
    }

    @Test
    void read_parsesJsonFile() throws Exception {
        ModelConfig config = ModelConfig.read(write("config.json", """
                {"labels": "classes.txt", "instance_group": {"count": 4}, "parameters": {"intra_op_threads": 1}}
                """));
        assertThat(config).isEqualTo(new ModelConfig(Optional.of("classes.txt"), OptionalInt.empty(), ModelConfig.DynamicBatching.DEFAULTS, 4, 1, Optional.empty()));
    }

    @Test
    void read_parsesYmlExtensionAsYaml() throws Exception {
        ModelConfig config = ModelConfig.read(write("config.yml", "instance_group: {count: 3}\n"));
        assertThat(config.instanceCount()).isEqualTo(3);
    }

    @Test
    void read_reportsJsonSyntaxErrorsAsJson() throws Exception {
        Path file = write("config.json", "labels: labels.txt\n");
        assertThatThrownBy(() -> ModelConfig.read(file))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("config.json is not valid JSON");
    }

    @Test
    void read_reportsYamlSyntaxErrorsAsYaml() throws Exception {
        Path file = write("config.yaml", "labels: [unclosed\n");
        assertThatThrownBy(() -> ModelConfig.read(file))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("config.yaml is not valid YAML");
    }

    @Test
    void read_reportsMissingFile() {
        assertThatThrownBy(() -> ModelConfig.read(dir.resolve("config.yaml")))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("cannot read config.yaml");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "\n", "# only a comment\n", "---\n", "~\n"})
    void read_returnsDefaultsForEmptyYaml(String content) throws Exception {
        assertThat(yaml(content)).isEqualTo(ModelConfig.DEFAULTS);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "  \n", "null"})
    void read_returnsDefaultsForEmptyJson(String content) throws Exception {
        assertThat(ModelConfig.read(write("config.json", content))).isEqualTo(ModelConfig.DEFAULTS);
    }

    @Test
    void parse_returnsDefaultsForEmptyObject() throws Exception {
        assertThat(json("{}")).isEqualTo(ModelConfig.DEFAULTS);
    }

    @Test
    void parse_usesDefaultsForAbsentOrEmptySections() throws Exception {
        assertThat(json("{\"instance_group\": {}, \"parameters\": {}}")).isEqualTo(ModelConfig.DEFAULTS);
        assertThat(json("{\"instance_group\": {\"count\": null}}")).isEqualTo(ModelConfig.DEFAULTS);
        assertThat(json("{\"labels\": \"l.txt\"}"))
                .isEqualTo(new ModelConfig(Optional.of("l.txt"), OptionalInt.empty(), ModelConfig.DynamicBatching.DEFAULTS, 0, 0, Optional.empty()));
    }

    @Test
    void defaults_deriveCountsFromCoresAndBoundTheQueue() {
        assertThat(ModelConfig.DEFAULTS.labelsFile()).isEmpty();
        assertThat(ModelConfig.DEFAULTS.instanceCount()).isZero();
        assertThat(ModelConfig.DEFAULTS.intraOpThreads()).isZero();
        assertThat(ModelConfig.DEFAULTS.dynamicBatching().maxQueueSize()).isPositive();
    }

    @Test
    void parse_acceptsRangeLimits() throws Exception {
        assertThat(json("{\"instance_group\": {\"count\": 0}}").instanceCount()).isZero();
        assertThat(json("{\"instance_group\": {\"count\": 64}}").instanceCount()).isEqualTo(64);
        assertThat(json("{\"parameters\": {\"intra_op_threads\": 0}}").intraOpThreads()).isZero();
        assertThat(json("{\"parameters\": {\"intra_op_threads\": 256}}").intraOpThreads()).isEqualTo(256);
    }

    @ParameterizedTest(name = "count {0}")
    @CsvSource(delimiter = '|', value = {
            "-1",
            "65",
            "2.5",
            "2.0",
            "\"2\"",
            "true",
            "[1]",
            "{\"n\": 1}",
            "99999999999",
            "1e3"})
    void parse_rejectsBadInstanceCountNamingSettingAndValue(String value) {
        assertThatThrownBy(() -> json("{\"instance_group\": {\"count\": " + value + "}}"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("config.json")
                .hasMessageContaining("'instance_group.count'")
                .hasMessageContaining(" is ")
                .hasMessageContaining("from 0 to 64");
    }

    @Test
    void parse_rejectionNamesTheValueGiven() {
        assertThatThrownBy(() -> json("{\"instance_group\": {\"count\": 65}}"))
                .hasMessageContaining("is 65");
        assertThatThrownBy(() -> json("{\"parameters\": {\"intra_op_threads\": \"four\"}}"))
                .hasMessageContaining("'parameters.intra_op_threads'")
                .hasMessageContaining("\"four\"")
                .hasMessageContaining("from 0 to 256");
    }

    @ParameterizedTest(name = "intra_op_threads {0}")
    @ValueSource(strings = {"-1", "257", "1.5", "\"2\"", "false", "4294967297"})
    void parse_rejectsBadIntraOpThreads(String value) {
        assertThatThrownBy(() -> json("{\"parameters\": {\"intra_op_threads\": " + value + "}}"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'parameters.intra_op_threads'")
                .hasMessageContaining("from 0 to 256");
    }

    @ParameterizedTest(name = "labels {0}")
    @ValueSource(strings = {"1", "true", "[\"a.txt\"]", "{\"file\":\"a.txt\"}", "\"\"", "\"   \""})
    void parse_rejectsLabelsThatAreNotAFileName(String value) {
        assertThatThrownBy(() -> json("{\"labels\": " + value + "}"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'labels'")
                .hasMessageContaining("is " + value)
                .hasMessageContaining("a file name");
    }

    @Test
    void read_rejectsYamlLabelsGivenAsNumber() throws Exception {
        Path file = write("config.yaml", "labels: 42\n");
        assertThatThrownBy(() -> ModelConfig.read(file))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("config.yaml")
                .hasMessageContaining("'labels' is 42");
    }

    @Test
    void parse_rejectsUnknownTopLevelSettingListingKnownOnes() {
        assertThatThrownBy(() -> json("{\"label\": \"labels.txt\"}"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("unknown setting 'label'")
                .hasMessageContaining("[dynamic_batching, fallback, instance_group, labels, max_batch_size, parameters, "
                        + "pipeline, version_policy, warmup]");
    }

    @Test
    void parse_rejectsUnknownInstanceGroupSettingWithItsPrefix() {
        assertThatThrownBy(() -> json("{\"instance_group\": {\"count\": 1, \"kind\": \"KIND_GPU\"}}"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("unknown setting 'instance_group.kind'")
                .hasMessageContaining("[instance_group.count]");
    }

    @Test
    void parse_rejectsUnknownParameterWithItsPrefix() {
        assertThatThrownBy(() -> json("{\"parameters\": {\"inter_op_threads\": 2}}"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("unknown setting 'parameters.inter_op_threads'")
                .hasMessageContaining("[parameters.intra_op_threads]");
    }

    @Test
    void read_rejectsUnknownYamlSettingNamingFile() throws Exception {
        Path file = write("config.yaml", "parameters:\n  intra_op_thread: 2\n");
        assertThatThrownBy(() -> ModelConfig.read(file))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("config.yaml")
                .hasMessageContaining("'parameters.intra_op_thread'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[1, 2]", "\"labels.txt\"", "3"})
    void parse_rejectsTopLevelThatIsNotAMapping(String value) {
        assertThatThrownBy(() -> json(value))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("(top level)")
                .hasMessageContaining("a mapping of settings");
    }

    @ParameterizedTest
    @ValueSource(strings = {"2", "[{\"count\": 2}]", "\"one\""})
    void parse_rejectsInstanceGroupThatIsNotAMapping(String value) {
        assertThatThrownBy(() -> json("{\"instance_group\": " + value + "}"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'instance_group'")
                .hasMessageContaining("a mapping of settings");
    }

    @Test
    void parse_rejectsParametersThatAreNotAMapping() {
        assertThatThrownBy(() -> json("{\"parameters\": [\"intra_op_threads\"]}"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'parameters'")
                .hasMessageContaining("a mapping of settings");
    }

    @Test
    void read_rejectsYamlListAtTopLevel() throws Exception {
        Path file = write("config.yaml", "- labels: labels.txt\n");
        assertThatThrownBy(() -> ModelConfig.read(file))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("(top level)");
    }

    @Test
    void read_rejectsYamlStringInstanceCount() throws Exception {
        Path file = write("config.yaml", "instance_group:\n  count: \"2\"\n");
        assertThatThrownBy(() -> ModelConfig.read(file))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'instance_group.count' is \"2\"");
    }
}
