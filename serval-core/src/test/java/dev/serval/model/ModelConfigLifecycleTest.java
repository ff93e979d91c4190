package dev.serval.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.serval.api.DataType;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The lifecycle settings of config.yaml (version_policy, warmup) and of the server (ModelControl). */
class ModelConfigLifecycleTest {

    private static ModelConfig yaml(String content) throws Exception {
        return ModelConfig.parse("config.yaml", new YAMLMapper().readTree(content));
    }

    private static void assertInvalid(String content, String... message) {
        assertThatThrownBy(() -> yaml(content)).isInstanceOf(InvalidConfigException.class)
                .satisfies(e -> assertThat(e.getMessage()).contains(message));
    }

    @Test
    void versionPolicy_defaultsToAll() throws Exception {
        assertThat(yaml("labels: l.txt\n").versionPolicy()).isEqualTo(ModelConfig.VersionPolicy.ALL);
        assertThat(ModelConfig.DEFAULTS.versionPolicy().select(Set.of(3L, 1L, 2L))).containsExactly(1L, 2L, 3L);
    }

    @Test
    void versionPolicy_readsTritonsThreeForms() throws Exception {
        Set<Long> present = Set.of(1L, 2L, 3L, 5L);
        assertThat(yaml("version_policy: {latest: {num_versions: 2}}").versionPolicy().select(present))
                .containsExactly(3L, 5L);
        assertThat(yaml("version_policy: {latest: {}}").versionPolicy().select(present)).containsExactly(5L);
        assertThat(yaml("version_policy: {all: {}}").versionPolicy().select(present)).containsExactly(1L, 2L, 3L, 5L);
        assertThat(yaml("version_policy:\n  all:\n").versionPolicy()).isEqualTo(ModelConfig.VersionPolicy.ALL);
        assertThat(yaml("version_policy: {specific: {versions: [5, 1, 9]}}").versionPolicy().select(present))
                .containsExactly(1L, 5L);
        assertThat(yaml("version_policy: {specific: {versions: [3]}}").versionPolicy())
                .isEqualTo(new ModelConfig.VersionPolicy.Specific(new TreeSet<>(List.of(3L))));
    }

    @Test
    void versionPolicy_rejectsWhatItCannotRead() {
        assertInvalid("version_policy: latest", "setting 'version_policy'", "latest: {num_versions: N}");
        assertInvalid("version_policy: {latest: {num_versions: 1}, all: {}}", "setting 'version_policy'");
        assertInvalid("version_policy: {newest: {}}", "unknown setting 'version_policy.newest'");
        assertInvalid("version_policy: {latest: {num_versions: 0}}", "'version_policy.latest.num_versions' is 0",
                "an integer from 1");
        assertInvalid("version_policy: {latest: {count: 2}}", "unknown setting 'version_policy.latest.count'");
        assertInvalid("version_policy: {all: {x: 1}}", "unknown setting 'version_policy.all.x'");
        assertInvalid("version_policy: {specific: {}}", "'version_policy.specific.versions' is missing");
        assertInvalid("version_policy: {specific: {versions: []}}", "a non-empty list");
        assertInvalid("version_policy: {specific: {versions: [0]}}", "'version_policy.specific.versions' is 0");
        assertInvalid("version_policy: {specific: {versions: [one]}}", "\"one\"");
    }

    @Test
    void warmup_defaultsToNone_andReadsItsSettings() throws Exception {
        assertThat(yaml("labels: l.txt").warmup()).isEqualTo(ModelConfig.Warmup.NONE);
        ModelConfig.Warmup warmup = yaml("warmup: {count: 2, batch_size: 4, data: ones, shapes: {ids: [1, 16]}}").warmup();
        assertThat(warmup.count()).isEqualTo(2);
        assertThat(warmup.batchSize()).isEqualTo(4);
        assertThat(warmup.ones()).isTrue();
        assertThat(warmup.shapes().get("ids")).containsExactly(1, 16);
        assertThat(yaml("warmup: {}").warmup()).isEqualTo(new ModelConfig.Warmup(1, 1, false, java.util.Map.of()));
    }

    @Test
    void warmup_rejectsWhatItCannotRead() {
        assertInvalid("warmup: 3", "setting 'warmup' is 3", "a mapping");
        assertInvalid("warmup: {runs: 3}", "unknown setting 'warmup.runs'");
        assertInvalid("warmup: {count: -1}", "'warmup.count' is -1");
        assertInvalid("warmup: {data: random}", "'warmup.data' is \"random\"", "zeros or ones");
        assertInvalid("max_batch_size: 8\nwarmup: {batch_size: 9}", "'warmup.batch_size' is 9", "max_batch_size 8");
        assertInvalid("warmup: {shapes: {ids: 16}}", "'warmup.shapes.ids' is 16", "whole shape");
        assertInvalid("warmup: {shapes: {ids: [1, 0]}}", "'warmup.shapes.ids' is 0");
    }

    @Test
    void warmupInputs_fillTheModelsShapes() throws Exception {
        List<TensorSpec> specs = List.of(new TensorSpec("ids", DataType.INT64, new long[] {-1, -1}),
                new TensorSpec("scale", DataType.FP32, new long[] {2}),
                new TensorSpec("text", DataType.BYTES, new long[] {-1}));
        List<Tensor> zeros = WarmupInputs.generate(specs, 8, new ModelConfig.Warmup(1, 3, false, java.util.Map.of()));
        assertThat(zeros).extracting(t -> java.util.Arrays.toString(t.shape()))
                .containsExactly("[3, 1]", "[2]", "[3]");
        assertThat(zeros.get(0).buffer().getLong(0)).isZero();
        List<Tensor> ones = WarmupInputs.generate(specs, 0,
                new ModelConfig.Warmup(1, 3, true, java.util.Map.of("ids", new long[] {2, 5})));
        assertThat(ones.get(0).shape()).containsExactly(2, 5);
        assertThat(ones.get(0).buffer().getLong(8 * 9)).isEqualTo(1);
        assertThat(ones.get(1).buffer().getFloat(4)).isEqualTo(1f);
        assertThat(ones.get(2).shape()).containsExactly(1); // no batch dimension: variable dimensions are 1
        assertThat(new String(ones.get(2).bytesElements()[0])).isEqualTo("1");
        assertThatThrownBy(() -> WarmupInputs.generate(specs, 8,
                new ModelConfig.Warmup(1, 1, false, java.util.Map.of("scale", new long[] {3}))))
                .hasMessageContaining("'warmup.shapes.scale' is [3] but the model expects [2]");
    }

    @Test
    void modelControl_validatesItsFlags() {
        assertThat(ModelControl.parseMode("POLL")).isEqualTo(ModelControl.Mode.POLL);
        assertThatThrownBy(() -> ModelControl.parseMode("watch")).hasMessageContaining("'watch'")
                .hasMessageContaining("none, poll or explicit");
        assertThatThrownBy(() -> new ModelControl(ModelControl.Mode.POLL, Duration.ZERO, List.of()))
                .hasMessageContaining("--repository-poll-secs");
        assertThatThrownBy(() -> new ModelControl(ModelControl.Mode.NONE, Duration.ofSeconds(15), List.of("iris")))
                .hasMessageContaining("--load-model needs --model-control-mode explicit");
        assertThatThrownBy(() -> ModelControl.explicit(List.of("../iris"))).hasMessageContaining("'../iris'");
        assertThat(ModelControl.explicit(List.of("iris")).startupModels()).containsExactly("iris");
    }
}
