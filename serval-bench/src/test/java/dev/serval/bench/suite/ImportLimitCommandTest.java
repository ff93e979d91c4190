package dev.serval.bench.suite;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.bench.result.Result;
import dev.serval.bench.result.ResultFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ImportLimitCommandTest {
    @TempDir
    Path dir;

    // the line InProcessLimit prints (progress lines on stderr are not in the file)
    private static final String LIMIT = "{\"model\":\"m.onnx\",\"threads\":1,\"batch\":8,\"runs\":250,\"seconds\":5.000,"
            + "\"runs_per_s\":50.00,\"items_per_s\":400.00,\"min_ms\":18.000,\"mean_ms\":20.100,\"p50_ms\":19.900,"
            + "\"p90_ms\":21.000,\"p99_ms\":25.000,\"max_ms\":30.000,\"p95_ms\":22.000,\"p99_9_ms\":29.000,"
            + "\"ort\":\"1.23.2\",\"jdk\":\"25\"}";

    private int run(StringWriter err, String... args) {
        CommandLine cli = new CommandLine(new ImportLimitCommand());
        cli.setErr(new PrintWriter(err));
        return cli.execute(args);
    }

    @Test
    void importLimit_turnsTheLimitsLineIntoAResult_perServedRequest() throws Exception {
        Path in = Files.writeString(dir.resolve("limit.out"), "warming up\n" + LIMIT + "\n");
        Path out = dir.resolve("limit.json");

        int code = run(new StringWriter(), "--in", in.toString(), "--items-per-request", "8", "--run-id", "r",
                "--scenario", "encoder-b8", "--repetition", "2", "--out", out.toString());

        assertThat(code).isZero();
        Result r = ResultFiles.readResult(out);
        assertThat(r.system()).isEqualTo("limit");
        assertThat(r.protocol()).isEqualTo("in-process");
        assertThat(r.repetition()).isEqualTo(2);
        assertThat(r.throughput().okPerSecond()).isEqualTo(50.0); // 400 items/s, 8 per served request
        assertThat(r.latencyMs().p50()).isEqualTo(19.9);
        assertThat(r.latencyMs().p95()).isEqualTo(22.0);
        assertThat(r.latencyMs().p999()).isEqualTo(29.0);
        assertThat(r.counts().ok()).isEqualTo(250);
        assertThat(r.meta()).containsEntry("limit_batch", "8").containsEntry("onnxruntime", "1.23.2");
    }

    @Test
    void importLimit_refusesALineWithoutItsFigures_namingTheKey() throws Exception {
        Path in = Files.writeString(dir.resolve("limit.out"), LIMIT.replace("\"p99_ms\":25.000,", "") + "\n");
        StringWriter err = new StringWriter();

        int code = run(err, "--in", in.toString(), "--run-id", "r", "--scenario", "s", "--out", dir.resolve("x.json").toString());

        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("'p99_ms' is missing or not a number");
    }
}
