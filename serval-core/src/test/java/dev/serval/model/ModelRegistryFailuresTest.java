package dev.serval.model;

import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.shape;
import static dev.serval.testing.TestTensors.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.testing.Examples;
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

/** A registry over a repository where some models and versions cannot load: the rest still serve. */
class ModelRegistryFailuresTest {
    private static final RegistryOptions OPTIONS = new RegistryOptions(2, false);
    private static final float[] FLOWER = {5.1f, 3.5f, 1.4f, 0.2f};

    @TempDir
    static Path root;

    @TempDir
    static Path outside;

    private static OnnxBackend backend;
    private static ModelRegistry registry;

    private static void copyModel(String model, String version) throws IOException {
        Path dir = Files.createDirectories(root.resolve(model).resolve(version));
        Files.copy(Examples.repository().resolve("iris_small/1/model.onnx"), dir.resolve("model.onnx"));
    }

    private static void garbageModel(String model, String version) throws IOException {
        Path dir = Files.createDirectories(root.resolve(model).resolve(version));
        Files.writeString(dir.resolve("model.onnx"), "garbage");
    }

    @BeforeAll
    static void build() throws IOException {
        copyModel("good", "1");
        garbageModel("broken", "1");
        garbageModel("mixed", "1");
        copyModel("mixed", "2");
        copyModel("badconfig", "1");
        Files.writeString(root.resolve("badconfig/config.yaml"), "instance_group:\n  count: 1000\n");
        copyModel("nolabels", "1");
        Files.writeString(root.resolve("nolabels/config.yaml"), "labels: labels.txt\n");
        copyModel("escape", "1");
        Files.writeString(outside.resolve("labels.txt"), "secret\n");
        Files.writeString(root.resolve("escape/config.yaml"), "labels: ../../" + outside.getFileName() + "/labels.txt\n");
        copyModel("labelled", "1");
        Files.writeString(root.resolve("labelled/config.json"), "{\"labels\": \"classes.txt\"}");
        Files.writeString(root.resolve("labelled/classes.txt"), "  alpha  \n\nbeta\r\ngamma\n\n");
        Files.createDirectories(root.resolve("linked"));
        Path elsewhere = Files.createDirectories(outside.resolve("v1"));
        Files.copy(Examples.repository().resolve("iris_small/1/model.onnx"), elsewhere.resolve("model.onnx"));
        Files.createSymbolicLink(root.resolve("linked/1"), elsewhere);
        Files.createDirectories(root.resolve("noversions"));
        Files.createDirectories(root.resolve("nofile/1"));
        backend = new OnnxBackend();
        registry = ModelRegistry.load(new ModelRepository(root), backend, OPTIONS);
    }

    @AfterAll
    static void close() {
        registry.close();
        backend.close();
    }

    private ModelStatus status(String name, String version) {
        return registry.index().stream()
                .filter(s -> s.name().equals(name) && s.version().equals(version))
                .findFirst().orElseThrow(() -> new AssertionError("no index row " + name + ":" + version));
    }

    @Test
    void load_keepsServingWhatLoaded() {
        assertThat(registry.allReady()).isFalse();
        assertThat(registry.resolve("good", null).version()).isEqualTo("1");
        assertThat(registry.resolve("mixed", null).version()).isEqualTo("2");
        InferenceResponse response = registry.resolve("good", null).infer(
                new InferenceRequest("good", null, null, Parameters.empty(),
                        List.of(fp32("input", shape(1, 4), FLOWER)), List.of()));
        assertThat(response.outputs()).hasSize(1);
    }

    @Test
    void index_listsEveryModelSortedByNameThenVersion() {
        assertThat(registry.index()).extracting(s -> s.name() + ":" + s.version())
                .containsExactly("badconfig:", "broken:1", "escape:", "good:1", "labelled:1", "linked:1",
                        "mixed:1", "mixed:2", "nofile:1", "nolabels:", "noversions:");
    }

    @Test
    void index_givesReasonsForFailures() {
        assertThat(status("broken", "1").state()).isEqualTo(ModelStatus.UNAVAILABLE);
        assertThat(status("broken", "1").reason()).hasValueSatisfying(r -> assertThat(r).contains("cannot load"));
        assertThat(status("mixed", "1").isReady()).isFalse();
        assertThat(status("mixed", "2").isReady()).isTrue();
        assertThat(status("badconfig", "").reason()).hasValueSatisfying(r ->
                assertThat(r).contains("instance_group.count").contains("1000"));
        assertThat(status("nolabels", "").reason()).hasValueSatisfying(r ->
                assertThat(r).contains("labels").contains("cannot be read"));
        assertThat(status("escape", "").reason()).hasValueSatisfying(r ->
                assertThat(r).contains("setting 'labels'").contains("inside the model's folder"));
        assertThat(status("linked", "1").reason()).hasValueSatisfying(r ->
                assertThat(r).contains("outside the model repository"));
        assertThat(status("noversions", "").reason()).hasValueSatisfying(r ->
                assertThat(r).contains("no version folders"));
        assertThat(status("nofile", "1").reason()).hasValueSatisfying(r ->
                assertThat(r).contains("does not exist"));
    }

    @Test
    void resolve_reportsFailedModelAsUnavailable() {
        assertFails(ErrorCode.UNAVAILABLE, () -> registry.resolve("broken", null))
                .hasMessageContaining("'broken'")
                .hasMessageContaining("not ready")
                .hasMessageContaining("version 1");
        assertFails(ErrorCode.UNAVAILABLE, () -> registry.resolve("badconfig", null))
                .hasMessageContaining("instance_group.count");
    }

    @Test
    void resolve_reportsFailedVersionAsUnavailable() {
        assertFails(ErrorCode.UNAVAILABLE, () -> registry.resolve("mixed", "1"))
                .hasMessageContaining("'mixed' version 1 is not ready");
        assertFails(ErrorCode.UNAVAILABLE, () -> registry.resolve("badconfig", "1"));
    }

    @Test
    void resolve_reportsVersionThatNeverExistedAsNotFound() {
        assertFails(ErrorCode.NOT_FOUND, () -> registry.resolve("mixed", "3"))
                .hasMessageContaining("ready versions are [2]");
    }

    @Test
    void metadata_listsOnlyReadyVersions() {
        assertThat(registry.resolve("mixed", "2").metadata().versions()).containsExactly("2");
    }

    @Test
    void load_readsLabelsStrippedWithoutBlankLines() {
        InferenceResponse response = registry.resolve("labelled", null).infer(
                new InferenceRequest("labelled", null, null, Parameters.empty(),
                        List.of(fp32("input", shape(1, 4), FLOWER)), List.of(classified("logits", 3))));
        assertThat(texts(response.outputs().get(0)))
                .allSatisfy(c -> assertThat(c).matches(".*:(0:alpha|1:beta|2:gamma)"));
    }

    private static RequestedOutput classified(String name, long k) {
        return new RequestedOutput(name, Parameters.of(Map.of("classification", k)));
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertFails(ErrorCode code, Runnable call) {
        return assertThatThrownBy(call::run).isInstanceOfSatisfying(ServalException.class,
                e -> assertThat(e.code()).isEqualTo(code));
    }
}
