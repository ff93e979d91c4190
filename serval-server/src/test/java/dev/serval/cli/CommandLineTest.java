package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.testing.Examples;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The {@code serval} command line: inspect's report, errors, and option parsing. */
class CommandLineTest {

    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
            int exit = new CommandLine(new ServalCommand()).execute(args);
            return new Run(exit, stdout.toString(StandardCharsets.UTF_8), stderr.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void inspect_printsInputsOutputsTypesShapesOpsetAndSize() {
        Run run = run("inspect", Examples.repository().resolve("text/1/model.onnx").toString());
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out())
                .contains("KB)")
                .contains("ONNX IR 8, opset ai.onnx 17, produced by pytorch")
                .containsPattern("inputs +input_ids +INT64 \\[-1,-1] +\\(batch, sequence\\)")
                .containsPattern("attention_mask +INT64 \\[-1,-1]")
                .containsPattern("outputs +logits +FP32 +\\[-1,2]");
    }

    @Test
    void inspect_nonOnnxFile_failsWithReason(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("model.onnx"), "not a model");
        Run run = run("inspect", file.toString());
        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err()).contains("model.onnx is not an ONNX model");
    }

    @Test
    void inspect_missingFile_failsWithReason(@TempDir Path dir) {
        Run run = run("inspect", dir.resolve("absent.onnx").toString());
        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err()).contains("absent.onnx");
    }

    @Test
    void serve_rejectsABadSize() {
        Run run = run("serve", "--max-request-size", "lots", "--model-repository", Examples.repository().toString());
        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err()).contains("'lots' is not a size");
    }

    @Test
    void serve_rejectsANegativeShutdownTimeout() {
        Run run = run("serve", "--shutdown-timeout-secs", "-1", "--model-repository", Examples.repository().toString());
        assertThat(run.exit()).isEqualTo(2);
        assertThat(run.err()).contains("--shutdown-timeout-secs must be 0 or more, was -1");
    }

    @Test
    void byteSize_acceptsUnits() {
        ByteSize size = new ByteSize();
        assertThat(size.convert("1048576")).isEqualTo(1L << 20);
        assertThat(size.convert("64m")).isEqualTo(64L << 20);
        assertThat(size.convert("64MB")).isEqualTo(64L << 20);
        assertThat(size.convert("2k")).isEqualTo(2048L);
        assertThat(size.convert("1G")).isEqualTo(1L << 30);
        assertThatThrownBy(() -> size.convert("0")).isInstanceOf(CommandLine.TypeConversionException.class);
        assertThatThrownBy(() -> size.convert("-5m")).isInstanceOf(CommandLine.TypeConversionException.class);
    }

    @Test
    void version_namesServalAndJava() {
        Run run = run("--version");
        assertThat(run.exit()).isZero();
        assertThat(run.out()).startsWith("serval ").contains("java ");
    }
}
