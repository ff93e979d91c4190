package dev.serval.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.testing.Examples;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The batching, queueing and fallback settings of config.yaml, and the batch size they lead to. */
class ModelConfigBatchingTest {
    @TempDir
    Path dir;

    private ModelConfig yaml(String content) throws Exception {
        Path file = dir.resolve("config.yaml");
        Files.writeString(file, content);
        return ModelConfig.read(file);
    }

    private static TensorSpec spec(String name, long... shape) {
        return new TensorSpec(name, DataType.FP32, shape);
    }

    private static final List<TensorSpec> BATCHED_IN = List.of(spec("input", -1, 4));
    private static final List<TensorSpec> BATCHED_OUT = List.of(spec("logits", -1, 3), spec("probabilities", -1, 3));

    // ---- parsing ----

    @Test
    void read_parsesEveryBatchingSetting() throws Exception {
        ModelConfig config = yaml("""
                max_batch_size: 16
                dynamic_batching:
                  max_queue_delay_microseconds: 250
                  preferred_batch_size: [4, 8]
                  max_queue_size: 64
                  default_timeout_microseconds: 100000
                  priority_levels: 3
                  default_priority_level: 2
                  adaptive_batch_size: false
                fallback:
                  model: iris_small
                  queue_wait_budget_microseconds: 5000
                """);

        assertThat(config.maxBatchSize()).isEqualTo(OptionalInt.of(16));
        assertThat(config.dynamicBatching())
                .isEqualTo(new ModelConfig.DynamicBatching(250, List.of(4, 8), 64, 100_000, 3, 2, false));
        assertThat(config.fallback()).contains(new ModelConfig.Fallback("iris_small", 5000));
    }

    @Test
    void read_withoutBatchingSettingsUsesTheDefaults() throws Exception {
        ModelConfig config = yaml("labels: labels.txt\n");

        assertThat(config.maxBatchSize()).isEmpty();
        assertThat(config.dynamicBatching()).isEqualTo(ModelConfig.DynamicBatching.DEFAULTS);
        assertThat(config.dynamicBatching()).isEqualTo(new ModelConfig.DynamicBatching(500, List.of(), 1024, 0, 1, 1, true));
        assertThat(config.fallback()).isEmpty();
    }

    @Test
    void read_partialDynamicBatchingKeepsOtherDefaults() throws Exception {
        ModelConfig config = yaml("""
                dynamic_batching:
                  max_queue_delay_microseconds: 0
                """);

        assertThat(config.dynamicBatching())
                .isEqualTo(new ModelConfig.DynamicBatching(0, List.of(), 1024, 0, 1, 1, true));
    }

    @Test
    void read_defaultPriorityLevelIsTheLowest() throws Exception {
        ModelConfig config = yaml("""
                dynamic_batching:
                  priority_levels: 4
                """);

        assertThat(config.dynamicBatching().priorityLevels()).isEqualTo(4);
        assertThat(config.dynamicBatching().defaultPriorityLevel()).isEqualTo(4);
    }

    @Test
    void read_acceptsMaxBatchSizeZero() throws Exception {
        assertThat(yaml("max_batch_size: 0\n").maxBatchSize()).isEqualTo(OptionalInt.of(0));
    }

    @Test
    void read_acceptsRangeLimits() throws Exception {
        ModelConfig config = yaml("""
                max_batch_size: 1048576
                dynamic_batching:
                  max_queue_delay_microseconds: 10000000
                  preferred_batch_size: [1, 1048576]
                  max_queue_size: 1
                  default_timeout_microseconds: 3600000000
                  priority_levels: 16
                  default_priority_level: 1
                fallback:
                  model: cheap
                  queue_wait_budget_microseconds: 1
                """);

        assertThat(config.maxBatchSize()).isEqualTo(OptionalInt.of(1 << 20));
        assertThat(config.dynamicBatching())
                .isEqualTo(new ModelConfig.DynamicBatching(10_000_000, List.of(1, 1 << 20), 1, 3_600_000_000L, 16, 1, true));
        assertThat(config.fallback()).contains(new ModelConfig.Fallback("cheap", 1));
    }

    @Test
    void read_jsonCarriesTheSameSettings() throws Exception {
        Path file = dir.resolve("config.json");
        Files.writeString(file, """
                {"max_batch_size": 8, "dynamic_batching": {"preferred_batch_size": [2], "priority_levels": 2},
                 "fallback": {"model": "small", "queue_wait_budget_microseconds": 10}}
                """);

        ModelConfig config = ModelConfig.read(file);

        assertThat(config).isEqualTo(new ModelConfig(Optional.empty(), OptionalInt.of(8),
                new ModelConfig.DynamicBatching(500, List.of(2), 1024, 0, 2, 2, true), 0, 0,
                Optional.of(new ModelConfig.Fallback("small", 10))));
    }

    static Stream<Arguments> badSettings() {
        return Stream.of(
                Arguments.of("max_batch_size: -1", "max_batch_size"),
                Arguments.of("max_batch_size: \"8\"", "max_batch_size"),
                Arguments.of("max_batch_size: 2.5", "max_batch_size"),
                Arguments.of("max_batch_size: 1048577", "max_batch_size"),
                Arguments.of("max_batch_size: [8]", "max_batch_size"),
                Arguments.of("dynamic_batching: 5", "dynamic_batching"),
                Arguments.of("dynamic_batching: [1]", "dynamic_batching"),
                Arguments.of("dynamic_batching:\n  max_queue_delay_microseconds: -1",
                        "dynamic_batching.max_queue_delay_microseconds"),
                Arguments.of("dynamic_batching:\n  max_queue_delay_microseconds: fast",
                        "dynamic_batching.max_queue_delay_microseconds"),
                Arguments.of("dynamic_batching:\n  max_queue_delay_microseconds: 10000001",
                        "dynamic_batching.max_queue_delay_microseconds"),
                Arguments.of("dynamic_batching:\n  max_queue_delay_microseconds: 0.5",
                        "dynamic_batching.max_queue_delay_microseconds"),
                Arguments.of("dynamic_batching:\n  preferred_batch_size: 8", "dynamic_batching.preferred_batch_size"),
                Arguments.of("dynamic_batching:\n  preferred_batch_size: [0]", "dynamic_batching.preferred_batch_size"),
                Arguments.of("dynamic_batching:\n  preferred_batch_size: [-2]", "dynamic_batching.preferred_batch_size"),
                Arguments.of("dynamic_batching:\n  preferred_batch_size: [\"8\"]",
                        "dynamic_batching.preferred_batch_size"),
                Arguments.of("dynamic_batching:\n  preferred_batch_size: [1.5]",
                        "dynamic_batching.preferred_batch_size"),
                Arguments.of("max_batch_size: 4\ndynamic_batching:\n  preferred_batch_size: [2, 8]",
                        "dynamic_batching.preferred_batch_size"),
                Arguments.of("max_batch_size: 0\ndynamic_batching:\n  preferred_batch_size: [1]",
                        "dynamic_batching.preferred_batch_size"),
                Arguments.of("dynamic_batching:\n  max_queue_size: 0", "dynamic_batching.max_queue_size"),
                Arguments.of("dynamic_batching:\n  max_queue_size: -5", "dynamic_batching.max_queue_size"),
                Arguments.of("dynamic_batching:\n  max_queue_size: big", "dynamic_batching.max_queue_size"),
                Arguments.of("dynamic_batching:\n  default_timeout_microseconds: -1",
                        "dynamic_batching.default_timeout_microseconds"),
                Arguments.of("dynamic_batching:\n  default_timeout_microseconds: true",
                        "dynamic_batching.default_timeout_microseconds"),
                Arguments.of("dynamic_batching:\n  priority_levels: 0", "dynamic_batching.priority_levels"),
                Arguments.of("dynamic_batching:\n  adaptive_batch_size: yes please", "dynamic_batching.adaptive_batch_size"),
                Arguments.of("dynamic_batching:\n  adaptive_batch_size: 1", "dynamic_batching.adaptive_batch_size"),
                Arguments.of("dynamic_batching:\n  priority_levels: 17", "dynamic_batching.priority_levels"),
                Arguments.of("dynamic_batching:\n  priority_levels: two", "dynamic_batching.priority_levels"),
                Arguments.of("dynamic_batching:\n  priority_levels: 2\n  default_priority_level: 3",
                        "dynamic_batching.default_priority_level"),
                Arguments.of("dynamic_batching:\n  default_priority_level: 2", "dynamic_batching.default_priority_level"),
                Arguments.of("dynamic_batching:\n  priority_levels: 2\n  default_priority_level: 0",
                        "dynamic_batching.default_priority_level"),
                Arguments.of("dynamic_batching:\n  max_delay: 5", "dynamic_batching.max_delay"),
                Arguments.of("dynamic_batching:\n  preferred_batch_sizes: [4]", "dynamic_batching.preferred_batch_sizes"),
                Arguments.of("fallback: iris_small", "fallback"),
                Arguments.of("fallback:\n  queue_wait_budget_microseconds: 5", "fallback.model"),
                Arguments.of("fallback:\n  model: iris_small", "fallback.queue_wait_budget_microseconds"),
                Arguments.of("fallback:\n  model: 5\n  queue_wait_budget_microseconds: 5", "fallback.model"),
                Arguments.of("fallback:\n  model: \"../etc\"\n  queue_wait_budget_microseconds: 5", "fallback.model"),
                Arguments.of("fallback:\n  model: \"\"\n  queue_wait_budget_microseconds: 5", "fallback.model"),
                Arguments.of("fallback:\n  model: small\n  queue_wait_budget_microseconds: 0",
                        "fallback.queue_wait_budget_microseconds"),
                Arguments.of("fallback:\n  model: small\n  queue_wait_budget_microseconds: -1",
                        "fallback.queue_wait_budget_microseconds"),
                Arguments.of("fallback:\n  model: small\n  queue_wait_budget_microseconds: 5ms",
                        "fallback.queue_wait_budget_microseconds"),
                Arguments.of("fallback:\n  model: small\n  queue_wait_budget_microseconds: 5\n  when: always",
                        "fallback.when"));
    }

    @ParameterizedTest
    @MethodSource("badSettings")
    void read_rejectsBadBatchingSettingNamingIt(String content, String setting) {
        assertThatThrownBy(() -> yaml(content))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("config.yaml")
                .hasMessageContaining("'" + setting + "'");
    }

    @Test
    void read_rejectsAnEmptyPreferredBatchSizeEntry() {
        // "[4, ~]" or "[4, null]": an entry without a value is no batch size.
        assertThatThrownBy(() -> yaml("dynamic_batching:\n  preferred_batch_size: [4, null]"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'dynamic_batching.preferred_batch_size'");
    }

    @Test
    void read_rejectsAFallbackBudgetLeftEmpty() {
        // The key is there but its value is not: the budget is still missing, not zero.
        assertThatThrownBy(() -> yaml("""
                fallback:
                  model: iris_small
                  queue_wait_budget_microseconds:
                """))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'fallback.queue_wait_budget_microseconds'");
    }

    @Test
    void read_rejectionSaysTheValueAndWhatWasExpected() {
        assertThatThrownBy(() -> yaml("dynamic_batching:\n  priority_levels: 2\n  default_priority_level: 3"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("3")
                .hasMessageContaining("from 1 to 2");
        assertThatThrownBy(() -> yaml("max_batch_size: 4\ndynamic_batching:\n  preferred_batch_size: [8]"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("8")
                .hasMessageContaining("max_batch_size 4");
    }

    @Test
    void read_unknownBatchingSettingListsTheKnownOnes() {
        assertThatThrownBy(() -> yaml("dynamic_batching:\n  max_delay: 5"))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("dynamic_batching.max_queue_delay_microseconds")
                .hasMessageContaining("dynamic_batching.priority_levels");
    }

    // ---- effective batch size ----

    @Test
    void effectiveMaxBatchSize_defaultsTo32WhenEveryFirstDimensionIsVariable() throws Exception {
        assertThat(ModelConfig.DEFAULTS.effectiveMaxBatchSize(BATCHED_IN, BATCHED_OUT))
                .isEqualTo(ModelConfig.DEFAULT_MAX_BATCH_SIZE).isEqualTo(32);
    }

    @Test
    void effectiveMaxBatchSize_isZeroWhenAnyInputOrOutputHasAFixedFirstDimension() throws Exception {
        assertThat(ModelConfig.DEFAULTS.effectiveMaxBatchSize(List.of(spec("x", 2, 3)), List.of(spec("y", -1, 3))))
                .isZero();
        assertThat(ModelConfig.DEFAULTS.effectiveMaxBatchSize(BATCHED_IN, List.of(spec("pooled", 3))))
                .isZero();
        assertThat(ModelConfig.DEFAULTS.effectiveMaxBatchSize(List.of(spec("scale")), BATCHED_OUT))
                .as("a scalar input has no batch dimension").isZero();
    }

    @Test
    void effectiveMaxBatchSize_usesTheConfiguredSize() throws Exception {
        assertThat(yaml("max_batch_size: 8").effectiveMaxBatchSize(BATCHED_IN, BATCHED_OUT)).isEqualTo(8);
        assertThat(yaml("max_batch_size: 1").effectiveMaxBatchSize(BATCHED_IN, BATCHED_OUT)).isEqualTo(1);
        assertThat(yaml("max_batch_size: 0").effectiveMaxBatchSize(BATCHED_IN, BATCHED_OUT)).isZero();
        assertThat(yaml("max_batch_size: 64").effectiveMaxBatchSize(BATCHED_IN, BATCHED_OUT)).isEqualTo(64);
    }

    @Test
    void effectiveMaxBatchSize_ofTheRealModels() throws Exception {
        try (OnnxBackend backend = new OnnxBackend()) {
            ModelSession iris = backend.open(Examples.model("iris"), new SessionSettings(1, false));
            ModelSession fixed = backend.open(Examples.testModel("fixed"), new SessionSettings(1, false));
            try {
                assertThat(ModelConfig.DEFAULTS.effectiveMaxBatchSize(iris.inputs(), iris.outputs())).isEqualTo(32);
                assertThat(ModelConfig.DEFAULTS.effectiveMaxBatchSize(fixed.inputs(), fixed.outputs())).isZero();
                assertThat(yaml("max_batch_size: 0").effectiveMaxBatchSize(fixed.inputs(), fixed.outputs())).isZero();
                assertThatThrownBy(() -> yaml("max_batch_size: 4").effectiveMaxBatchSize(fixed.inputs(), fixed.outputs()))
                        .isInstanceOf(InvalidConfigException.class)
                        .hasMessageContaining("'max_batch_size'")
                        .hasMessageContaining("'x'")
                        .hasMessageContaining("max_batch_size: 0");
            } finally {
                iris.close();
                fixed.close();
            }
        }
    }

    @Test
    void effectiveMaxBatchSize_rejectsMaxBatchSizeOnAModelWithoutBatchDimension() throws Exception {
        ModelConfig config = yaml("max_batch_size: 1");

        assertThatThrownBy(() -> config.effectiveMaxBatchSize(List.of(spec("x", 2, 3)), List.of(spec("y", 2, 3))))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'max_batch_size' is 1")
                .hasMessageContaining("'x'");
    }

    @Test
    void effectiveMaxBatchSize_rejectsPreferredSizesLargerThanTheDerivedSize() throws Exception {
        ModelConfig config = yaml("dynamic_batching:\n  preferred_batch_size: [16, 64]");

        assertThatThrownBy(() -> config.effectiveMaxBatchSize(BATCHED_IN, BATCHED_OUT))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'dynamic_batching.preferred_batch_size'")
                .hasMessageContaining("64")
                .hasMessageContaining("32");
        assertThatThrownBy(() -> config.effectiveMaxBatchSize(List.of(spec("x", 2, 3)), List.of(spec("y", 2, 3))))
                .as("a model without batch dimension has no batch to prefer")
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("'dynamic_batching.preferred_batch_size'");
    }

    @Test
    void effectiveMaxBatchSize_acceptsPreferredSizesUpToTheDerivedSize() throws Exception {
        ModelConfig config = yaml("dynamic_batching:\n  preferred_batch_size: [16, 32]");

        assertThat(config.effectiveMaxBatchSize(BATCHED_IN, BATCHED_OUT)).isEqualTo(32);
    }

    @Test
    void registry_reportsMaxBatchSizeOnTheFixedModelAsALoadFailure(@TempDir Path repo) throws IOException {
        Path model = repo.resolve("fixed");
        Files.createDirectories(model.resolve("1"));
        Files.copy(Examples.testModel("fixed"), model.resolve("1").resolve("model.onnx"));
        Files.writeString(model.resolve("config.yaml"), "max_batch_size: 4\n");

        try (OnnxBackend backend = new OnnxBackend();
             ModelRegistry registry = ModelRegistry.load(new ModelRepository(repo), backend,
                     new RegistryOptions(1, false))) {
            assertThat(registry.allReady()).isFalse();
            assertThat(registry.index()).singleElement().satisfies(status -> {
                assertThat(status.isReady()).isFalse();
                assertThat(status.reason()).hasValueSatisfying(reason -> assertThat(reason)
                        .contains("max_batch_size").contains("'x'"));
            });
        }
    }
}
