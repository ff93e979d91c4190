package dev.serval.model;

import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.floats;
import static dev.serval.testing.TestTensors.shape;
import static dev.serval.testing.TestTensors.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.ModelMetadata;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.testing.Examples;
import dev.serval.testing.InMemoryFeatureStore;
import dev.serval.testing.TestTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelRegistryTest {
    private static final RegistryOptions OPTIONS = new RegistryOptions(2, false);
    private static final float[] FLOWER = {5.1f, 3.5f, 1.4f, 0.2f};

    private static OnnxBackend backend;
    private static ModelRegistry examples;

    @BeforeAll
    static void loadExamples() throws IOException {
        backend = new OnnxBackend();
        // The fraud example's pipeline needs a feature store.
        examples = ModelRegistry.load(new ModelRepository(Examples.repository()), backend,
                OPTIONS.withFeatureStore(new InMemoryFeatureStore()));
    }

    @AfterAll
    static void closeExamples() {
        examples.close();
        backend.close();
    }

    private static InferenceRequest request(List<Tensor> inputs, List<RequestedOutput> outputs) {
        return new InferenceRequest("iris", null, "req-1", Parameters.empty(), inputs, outputs);
    }

    private static RequestedOutput output(String name) {
        return new RequestedOutput(name, Parameters.empty());
    }

    private static RequestedOutput classified(String name, long k) {
        return new RequestedOutput(name, Parameters.of(Map.of("classification", k)));
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertFails(ErrorCode code, Runnable call) {
        return assertThatThrownBy(call::run).isInstanceOfSatisfying(ServalException.class,
                e -> assertThat(e.code()).isEqualTo(code));
    }

    @Test
    void load_servesEveryExampleModel() {
        assertThat(examples.allReady()).isTrue();
        assertThat(examples.index()).extracting(s -> s.name() + ":" + s.version() + ":" + s.state())
                .containsExactly("cnn:1:READY", "fraud:1:READY", "iris:1:READY", "iris_small:1:READY",
                        "iris_small:2:READY", "text:1:READY");
        assertThat(examples.index()).allSatisfy(s -> {
            assertThat(s.isReady()).isTrue();
            assertThat(s.reason()).isEmpty();
        });
    }

    @Test
    void resolve_picksHighestVersionWhenNoneIsNamed() {
        assertThat(examples.resolve("iris_small", null).version()).isEqualTo("2");
        assertThat(examples.resolve("iris_small", "").version()).isEqualTo("2");
    }

    @Test
    void resolve_picksExplicitVersion() {
        ModelVersion v1 = examples.resolve("iris_small", "1");
        assertThat(v1.version()).isEqualTo("1");
        assertThat(v1.name()).isEqualTo("iris_small");
        assertThat(v1).hasToString("iris_small:1");
        assertThat(examples.resolve("iris_small", "2")).isNotSameAs(v1);
    }

    @Test
    void resolve_rejectsUnknownModelListingServedOnes() {
        assertFails(ErrorCode.NOT_FOUND, () -> examples.resolve("iris_large", null))
                .hasMessageContaining("unknown model 'iris_large'")
                .hasMessageContaining("iris_small");
    }

    @Test
    void resolve_rejectsUnknownVersionListingReadyOnes() {
        assertFails(ErrorCode.NOT_FOUND, () -> examples.resolve("iris_small", "3"))
                .hasMessageContaining("unknown version '3'")
                .hasMessageContaining("'iris_small'")
                .hasMessageContaining("[1, 2]");
    }

    @Test
    void resolve_rejectsNonNumericVersion() {
        assertFails(ErrorCode.NOT_FOUND, () -> examples.resolve("iris", "latest"))
                .hasMessageContaining("'latest'");
        assertFails(ErrorCode.NOT_FOUND, () -> examples.resolve("iris", "-1"));
        assertFails(ErrorCode.NOT_FOUND, () -> examples.resolve("iris", "99999999999999999999999"));
    }

    @Test
    void metadata_describesTheVersion() {
        ModelMetadata metadata = examples.resolve("iris_small", "1").metadata();
        assertThat(metadata.name()).isEqualTo("iris_small");
        assertThat(metadata.versions()).containsExactly("1", "2");
        assertThat(metadata.platform()).isEqualTo("onnxruntime_onnx");
        assertThat(metadata.inputs()).singleElement().satisfies(input -> {
            assertThat(input.name()).isEqualTo("input");
            assertThat(input.shape()).containsExactly(-1, 4);
        });
        assertThat(metadata.outputs()).extracting(TensorSpec::name).containsExactly("logits");
        assertThat(examples.resolve("iris", null).metadata().versions()).containsExactly("1");
    }

    @Test
    void infer_returnsEveryOutputInModelOrderWhenNoneIsAsked() {
        ModelVersion iris = examples.resolve("iris", null);
        InferenceResponse response = iris.infer(request(List.of(fp32("input", shape(1, 4), FLOWER)), List.of()));
        assertThat(response.modelName()).isEqualTo("iris");
        assertThat(response.modelVersion()).isEqualTo("1");
        assertThat(response.id()).isEqualTo("req-1");
        assertThat(response.outputs()).extracting(Tensor::name).containsExactly("logits", "probabilities");
        assertThat(floats(response.outputs().get(0))[0]).isCloseTo(12.476594f, within(1e-4f));
        assertThat(iris.queueDepth()).isZero();
    }

    @Test
    void infer_returnsRequestedOutputsInRequestedOrder() {
        InferenceResponse response = examples.resolve("iris", null).infer(request(
                List.of(fp32("input", shape(1, 4), FLOWER)), List.of(output("probabilities"), output("logits"))));
        assertThat(response.outputs()).extracting(Tensor::name).containsExactly("probabilities", "logits");
    }

    @Test
    void infer_differsBetweenVersions() {
        Tensor input = fp32("input", shape(1, 4), FLOWER);
        float[] v1 = floats(examples.resolve("iris_small", "1").infer(request(List.of(input), List.of())).outputs().get(0));
        float[] v2 = floats(examples.resolve("iris_small", "2").infer(request(List.of(input), List.of())).outputs().get(0));
        assertThat(v1).isNotEqualTo(v2);
    }

    @Test
    void infer_classifiesWithLabels() {
        InferenceResponse response = examples.resolve("iris", null).infer(request(
                List.of(fp32("input", shape(2, 4), 5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3.0f, 5.2f, 2.3f)),
                List.of(classified("probabilities", 2), output("logits"))));
        Tensor top = response.outputs().get(0);
        assertThat(top.type()).isEqualTo(DataType.BYTES);
        assertThat(top.shape()).containsExactly(2, 2);
        String[] classes = texts(top);
        assertThat(classes[0]).endsWith(":0:setosa");
        assertThat(classes[2]).endsWith(":2:virginica");
        assertThat(response.outputs().get(1).type()).isEqualTo(DataType.FP32);
    }

    @Test
    void infer_classifiesWithoutLabelsWhenModelHasNone() {
        InferenceResponse response = examples.resolve("iris_small", "2").infer(request(
                List.of(fp32("input", shape(1, 4), FLOWER)), List.of(classified("logits", 1))));
        assertThat(texts(response.outputs().get(0))).singleElement().satisfies(c -> assertThat(c).endsWith(":0"));
    }

    @Test
    void infer_rejectsBadClassificationCountBeforeRunning() {
        ModelVersion iris = examples.resolve("iris", null);
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(request(
                List.of(fp32("input", shape(1, 4), FLOWER)), List.of(classified("logits", 0)))))
                .hasMessageContaining("'logits'");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(request(
                List.of(fp32("input", shape(1, 4), FLOWER)),
                List.of(new RequestedOutput("logits", Parameters.of(Map.of("classification", "two")))))))
                .hasMessageContaining("'classification'")
                .hasMessageContaining("\"two\"");
    }

    @Test
    void infer_rejectsInputsThatDoNotFit() {
        ModelVersion iris = examples.resolve("iris", null);
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(request(
                List.of(fp32("input", shape(1, 3), 1f, 2f, 3f)), List.of())))
                .hasMessageContaining("shape [1,3]")
                .hasMessageContaining("[-1,4]");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(request(List.of(), List.of())))
                .hasMessageContaining("missing input 'input'");
    }

    @Test
    void infer_rejectsUnknownOutput() {
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> examples.resolve("iris", null).infer(request(
                List.of(fp32("input", shape(1, 4), FLOWER)), List.of(output("scores")))))
                .hasMessageContaining("unknown output 'scores'")
                .hasMessageContaining("logits FP32 [-1,3]");
    }

    @Test
    void infer_rejectsOutputAskedTwice() {
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> examples.resolve("iris", null).infer(request(
                List.of(fp32("input", shape(1, 4), FLOWER)), List.of(output("logits"), output("logits")))))
                .hasMessageContaining("'logits'")
                .hasMessageContaining("more than once");
    }

    @Test
    void infer_checksSharedDimensionsOfTextModel() {
        ModelVersion text = examples.resolve("text", null);
        InferenceRequest mismatched = new InferenceRequest("text", null, null, Parameters.empty(), List.of(
                TestTensors.int64("input_ids", shape(1, 3), 101, 102, 103),
                TestTensors.int64("attention_mask", shape(1, 2), 1, 1)), List.of());
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> text.infer(mismatched))
                .hasMessageContaining("'sequence'");
    }

    @Test
    void close_makesVersionsRefuseWork(@TempDir Path root) throws IOException {
        Path dir = Files.createDirectories(root.resolve("m/1"));
        Files.copy(Examples.repository().resolve("iris_small/1/model.onnx"), dir.resolve("model.onnx"));
        ModelRegistry registry = ModelRegistry.load(new ModelRepository(root), backend, OPTIONS);
        ModelVersion version = registry.resolve("m", null);
        registry.close();
        assertFails(ErrorCode.UNAVAILABLE, () -> version.infer(new InferenceRequest("m", null, null,
                Parameters.empty(), List.of(fp32("input", shape(1, 4), FLOWER)), List.of())))
                .hasMessageContaining("shutting down");
    }

    @Test
    void registryOptions_requireAPositiveCpuBudget() {
        assertThatThrownBy(() -> new RegistryOptions(0, false)).isInstanceOf(IllegalArgumentException.class);
        assertThat(RegistryOptions.defaults().cpuBudget()).isPositive();
        assertThat(RegistryOptions.defaults().allowSpinning()).isFalse();
    }
}
