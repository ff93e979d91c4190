package dev.serval.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The limit on the bundled iris example: back to back, and in the open loop of {@code --rate}. */
class InProcessLimitTest {
    private static final Path IRIS = Path.of("../examples/repository/iris/1/model.onnx");

    @Test
    void openLoop_runsTheCountAskedAndSaysItsRate() throws Exception {
        JsonNode report = run("--model", IRIS.toString(), "--rate", "2000", "--warmup-seconds", "0", "--iterations", "50");

        assertThat(report.get("rate").asDouble()).isEqualTo(2000.0);
        assertThat(report.get("runs").asLong()).isEqualTo(50);
        assertThat(report.get("p50_ms").asDouble()).isPositive();
        assertThat(report.get("p99_ms").asDouble()).isGreaterThanOrEqualTo(report.get("p50_ms").asDouble());
    }

    @Test
    void backToBack_hasNoRate() throws Exception {
        JsonNode report = run("--model", IRIS.toString(), "--warmup-seconds", "0", "--iterations", "20");

        assertThat(report.get("rate").isNull()).isTrue();
        assertThat(report.get("runs").asLong()).isEqualTo(20);
    }

    @Test
    void refusesARateThatIsNotPositive() {
        StringWriter err = new StringWriter();
        int status = new CommandLine(new InProcessLimit()).setErr(new PrintWriter(err))
                .execute("--model", IRIS.toString(), "--rate", "0", "--iterations", "1");

        assertThat(status).isNotZero();
        assertThat(err.toString()).contains("--rate must be in (0, 1000000]", "not 0.0");
    }

    private static JsonNode run(String... args) throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertThat(new CommandLine(new InProcessLimit()).execute(args)).isZero();
        } finally {
            System.setOut(stdout);
        }
        String[] lines = out.toString(StandardCharsets.UTF_8).strip().split("\n");
        return new ObjectMapper().readTree(lines[lines.length - 1]);
    }
}
