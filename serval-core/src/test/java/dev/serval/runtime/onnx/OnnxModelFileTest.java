package dev.serval.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.testing.Examples;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelFileTest {
    @TempDir
    Path dir;

    @Test
    void read_describesIrisExportedByPyTorch() throws IOException {
        Path file = Examples.model("iris");
        OnnxModelFile header = OnnxModelFile.read(file);
        assertThat(header.irVersion()).isGreaterThanOrEqualTo(8);
        assertThat(header.producerName()).isEqualTo("pytorch");
        assertThat(header.producerVersion()).isNotBlank();
        assertThat(header.opsets()).contains(new OnnxModelFile.Opset("ai.onnx", 17));
        assertThat(header.sizeBytes()).isEqualTo(Files.size(file));
    }

    @Test
    void read_describesHelperBuiltModel() throws IOException {
        OnnxModelFile header = OnnxModelFile.read(Examples.testModel("datatypes"));
        assertThat(header.irVersion()).isEqualTo(8);
        assertThat(header.producerName()).isEqualTo("serval-examples");
        assertThat(header.opsets()).containsExactly(new OnnxModelFile.Opset("ai.onnx", 17));
    }

    @Test
    void read_describesEveryExampleModel() throws IOException {
        for (String name : new String[] {"iris", "cnn", "text"}) {
            OnnxModelFile header = OnnxModelFile.read(Examples.model(name));
            assertThat(header.opsets()).as(name).extracting(OnnxModelFile.Opset::version).contains(17L);
        }
    }

    @Test
    void opset_printsDomainAndVersion() {
        assertThat(new OnnxModelFile.Opset("ai.onnx", 17)).hasToString("ai.onnx 17");
    }

    @Test
    void read_rejectsTextFileAsNotAnOnnxModel() throws IOException {
        Path garbage = Files.writeString(dir.resolve("model.onnx"), "hello, I am definitely not protobuf\n");
        assertThatThrownBy(() -> OnnxModelFile.read(garbage))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("model.onnx")
                .hasMessageContaining("not an ONNX model");
    }

    @Test
    void read_rejectsRandomBytesAsNotAnOnnxModel() throws IOException {
        byte[] bytes = new byte[4096];
        new java.util.Random(3).nextBytes(bytes);
        Path garbage = Files.write(dir.resolve("model.onnx"), bytes);
        assertThatThrownBy(() -> OnnxModelFile.read(garbage))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not an ONNX model");
    }

    @Test
    void read_rejectsEmptyFile() throws IOException {
        Path empty = Files.write(dir.resolve("model.onnx"), new byte[0]);
        assertThatThrownBy(() -> OnnxModelFile.read(empty))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not an ONNX model");
    }

    @Test
    void read_rejectsTruncatedModel() throws IOException {
        byte[] iris = Files.readAllBytes(Examples.model("iris"));
        Path truncated = Files.write(dir.resolve("model.onnx"), Arrays.copyOf(iris, iris.length / 2));
        assertThatThrownBy(() -> OnnxModelFile.read(truncated))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not an ONNX model");
    }

    @Test
    void read_reportsMissingFile() {
        assertThatThrownBy(() -> OnnxModelFile.read(dir.resolve("missing.onnx"))).isInstanceOf(IOException.class);
    }
}
