package dev.serval.runtime.onnx;

import static dev.serval.testing.TestTensors.floats;
import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.shape;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.Tensor;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import dev.serval.testing.Examples;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models in ONNX's external data format (weights in files beside model.onnx, the format of
 * models over 2 GB): they load and infer, their header lists the external tensors without reading
 * them, and a data file that is missing, truncated or outside the model's folder fails the load
 * with the reason instead of crashing the process or reading outside the repository.
 */
class ExternalDataTest {
    private static final SessionSettings ONE_THREAD = new SessionSettings(1, false);
    private static OnnxBackend backend;

    @TempDir
    Path dir;
    private Path model;

    @BeforeAll
    static void startBackend() {
        backend = new OnnxBackend();
    }

    @AfterAll
    static void stopBackend() {
        backend.close();
    }

    /** A copy of examples/test-repository/external_data/1 in a folder of the test's own. */
    @BeforeEach
    void copyModel() throws IOException {
        Path version = Files.createDirectories(dir.resolve("external_data/1"));
        Path source = Examples.testModel("external_data").getParent();
        Files.copy(source.resolve("model.onnx"), version.resolve("model.onnx"));
        Files.copy(source.resolve("weights.bin"), version.resolve("weights.bin"));
        model = version.resolve("model.onnx");
    }

    /** y = x @ w + b with w = (0..11 - 5) / 4 as 4x3 and b = [0.5, -1, 2] (export_models.py). */
    private static float[] expected(float[] x) {
        float[] b = {0.5f, -1.0f, 2.0f};
        float[] y = new float[3];
        for (int j = 0; j < 3; j++) {
            float sum = 0;
            for (int i = 0; i < 4; i++) {
                sum += x[i] * ((i * 3 + j) - 5.0f) / 4;
            }
            y[j] = sum + b[j];
        }
        return y;
    }

    @Test
    void header_listsTheExternalTensors_withoutReadingThem() throws IOException {
        OnnxModelFile header = OnnxModelFile.read(model);
        assertThat(header.externalData()).extracting(OnnxModelFile.ExternalTensor::name).containsExactly("w", "b");
        assertThat(header.externalData()).extracting(OnnxModelFile.ExternalTensor::location).containsOnly("weights.bin");
        assertThat(header.externalData()).extracting(OnnxModelFile.ExternalTensor::length).containsExactly(48L, 12L);
        assertThat(header.externalDataBytes(model)).isEqualTo(Files.size(model.resolveSibling("weights.bin")));
        assertThat(header.sizeBytes()).isEqualTo(Files.size(model));
        header.verifyExternalData(model);
    }

    @Test
    void header_ofAModelWithoutExternalData_listsNone() throws IOException {
        assertThat(OnnxModelFile.read(Examples.model("iris")).externalData()).isEmpty();
    }

    @Test
    void byteLength_followsTheElementType() {
        assertThat(OnnxModelFile.byteLength(1, List.of(4L, 3L))).isEqualTo(48);   // FLOAT
        assertThat(OnnxModelFile.byteLength(10, List.of(5L))).isEqualTo(10);      // FLOAT16
        assertThat(OnnxModelFile.byteLength(7, List.of())).isEqualTo(8);         // INT64 scalar
        assertThat(OnnxModelFile.byteLength(22, List.of(3L))).isEqualTo(2);       // INT4, two per byte
        assertThat(OnnxModelFile.byteLength(8, List.of(2L))).isEqualTo(-1);       // STRING
    }

    @Test
    void open_loadsTheWeightsFromBesideTheModel_andInfers() throws ModelLoadException {
        float[] x = {1.0f, 2.0f, 3.0f, 4.0f};
        try (ModelSession session = backend.open(model, ONE_THREAD)) {
            List<Tensor> out = session.run(List.of(fp32("x", shape(1, 4), x)), List.of("y"));
            assertThat(floats(out.get(0))).containsExactly(expected(x));
        }
    }

    @Test
    void sessionConfig_fromTheOperator_isApplied_andAModelStillInfers() throws ModelLoadException {
        // Prepacking off lets ONNX Runtime use the mapped weights in place (bench/model-memory.sh).
        float[] x = {-1.5f, 0.25f, 8.0f, -2.0f};
        try (OnnxBackend tuned = new OnnxBackend(java.util.Map.of("session.disable_prepacking", "1", "cpu_arena", "false"));
             ModelSession session = tuned.open(model, ONE_THREAD)) {
            assertThat(floats(session.run(List.of(fp32("x", shape(1, 4), x)), List.of("y")).get(0)))
                    .containsExactly(expected(x));
        }
        assertThatThrownBy(() -> new OnnxBackend(java.util.Map.of("cpu_arena", "maybe")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("serval.onnx.cpu_arena is 'maybe'; expected true or false");
    }

    @Test
    void open_failsWithTheReason_whenTheDataFileIsTruncated() throws IOException {
        Path weights = model.resolveSibling("weights.bin");
        byte[] bytes = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(bytes, 20));
        assertThatThrownBy(() -> backend.open(model, ONE_THREAD))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("tensor 'w' keeps its data in 'weights.bin'")
                .hasMessageContaining("but the file has only 20 bytes")
                .hasMessageContaining("truncated");
    }

    @Test
    void open_failsWithTheReason_whenTheDataFileIsMissing() throws IOException {
        Files.delete(model.resolveSibling("weights.bin"));
        assertThatThrownBy(() -> backend.open(model, ONE_THREAD))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("'weights.bin', which does not exist");
    }

    @Test
    void open_refusesDataOutsideTheModelsFolder() throws IOException {
        // Same length, so the protobuf around the name stays valid: "weights.bin" -> "../data.bin".
        String text = new String(Files.readAllBytes(model), StandardCharsets.ISO_8859_1);
        assertThat(text).contains("weights.bin");
        Files.write(model, text.replace("weights.bin", "../data.bin").getBytes(StandardCharsets.ISO_8859_1));
        Files.copy(model.resolveSibling("weights.bin"), model.getParent().resolveSibling("data.bin"));
        assertThatThrownBy(() -> backend.open(model, ONE_THREAD))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("'../data.bin'; external data must be a file in the model's folder");
    }

    @Test
    void open_refusesALinkLeadingOutOfTheModelsFolder() throws IOException {
        Path weights = model.resolveSibling("weights.bin");
        Path outside = Files.move(weights, dir.resolve("elsewhere.bin"));
        Files.createSymbolicLink(weights, outside);
        assertThatThrownBy(() -> backend.open(model, ONE_THREAD))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("which is a link leading outside the model's folder");
    }
}
