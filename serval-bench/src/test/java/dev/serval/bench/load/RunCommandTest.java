package dev.serval.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.bench.result.Result;
import dev.serval.bench.result.ResultFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code bench run} end to end: the command line, a real socket to a fake server, the results file. */
class RunCommandTest {
    @TempDir
    Path dir;

    private int run(StringWriter err, String... args) {
        CommandLine cli = new CommandLine(new RunCommand());
        cli.setErr(new PrintWriter(err));
        return cli.execute(args);
    }

    @Test
    void run_writesAResultWithCountsLatencyAndTheSampledProcessTree() throws Exception {
        Path body = Files.writeString(dir.resolve("body.json"), "{\"inputs\":[]}");
        Path out = dir.resolve("r/serval.json");
        long self = ProcessHandle.current().pid();
        try (FakeHttpServer server = new FakeHttpServer(4, 5, n -> n % 10 == 9 ? FakeHttpServer.response(503, "busy")
                : FakeHttpServer.ok("{\"outputs\":[]}"))) {
            int code = run(new StringWriter(), "--protocol", "rest-json", "--url", "127.0.0.1:" + server.port() + "/v2/models/m/infer",
                    "--body", body.toString(), "--clients", "4", "--requests", "200", "--pid", Long.toString(self),
                    "--sample-ms", "20", "--run-id", "t1", "--scenario", "hello", "--system", "serval",
                    "--meta", "note=test", "--out", out.toString(), "--quiet");
            assertThat(code).isZero();
        }
        Result r = ResultFiles.readResult(out);
        assertThat(r.counts().completed()).isEqualTo(200);
        assertThat(r.counts().ok()).isEqualTo(180);
        assertThat(r.counts().failed()).isEqualTo(20);
        assertThat(r.errors()).containsEntry("status_503", 20L);
        assertThat(r.mode()).isEqualTo("closed");
        assertThat(r.clients()).isEqualTo(4);
        assertThat(r.meta()).containsEntry("note", "test");
        // the server waits 5 ms before every answer: no answer can be faster
        assertThat(r.latencyMs().min()).isGreaterThanOrEqualTo(4.9);
        assertThat(r.latencyMs().p50()).isGreaterThanOrEqualTo(r.latencyMs().min());
        assertThat(r.latencyMs().max()).isGreaterThanOrEqualTo(r.latencyMs().p99());
        // the histogram travels with the result and gives the same percentiles back
        byte[] encoded = Base64.getDecoder().decode(r.latencyHistogram());
        Histogram h = Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(encoded), 0);
        assertThat(h.getTotalCount()).isEqualTo(180);
        // this test's JVM was the sampled "server": a JVM's resident set is tens of MB at least
        assertThat(r.resources()).isNotNull();
        assertThat(r.resources().pid()).isEqualTo(self);
        assertThat(r.resources().rssMbPeak()).isGreaterThan(20);
        assertThat(r.resources().processes()).isGreaterThanOrEqualTo(1);
        assertThat(r.resources().command()).isNotEmpty();
        assertThat(r.resources().cpuSeconds()).isGreaterThanOrEqualTo(0);
        assertThat(r.environment().cores()).isPositive();
    }

    @Test
    void run_openLoopRecordsTheRateAskedForAndAchieved() throws Exception {
        Path out = dir.resolve("open.json");
        try (FakeHttpServer server = new FakeHttpServer(4, 0, n -> FakeHttpServer.ok("ok"))) {
            int code = run(new StringWriter(), "--protocol", "http", "--url", "http://127.0.0.1:" + server.port() + "/predict",
                    "--clients", "2", "--rate", "200", "--requests", "50", "--run-id", "t1", "--scenario", "hello",
                    "--system", "go", "--out", out.toString(), "--quiet");
            assertThat(code).isZero();
            assertThat(server.requests()).isEqualTo(50);
        }
        Result r = ResultFiles.readResult(out);
        assertThat(r.mode()).isEqualTo("open");
        assertThat(r.rate()).isEqualTo(200.0);
        assertThat(r.throughput().intendedRate()).isEqualTo(200.0);
        assertThat(r.throughput().achievedRate()).isPositive();
        assertThat(r.counts().ok()).isEqualTo(50);
        assertThat(r.resources()).isNull();
    }

    @Test
    void run_refusesABinaryProtocolWithoutAHeaderLength() throws Exception {
        Path body = Files.write(dir.resolve("body.bin"), new byte[] {1, 2, 3});
        StringWriter err = new StringWriter();
        int code = run(err, "--protocol", "rest-binary", "--url", "127.0.0.1:9/x", "--body", body.toString(),
                "--requests", "1", "--run-id", "t", "--scenario", "s", "--system", "serval", "--out",
                dir.resolve("x.json").toString());

        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("--header-length", "body.bin.header");
    }

    @Test
    void run_refusesAnUnknownProtocolNamingIt() {
        StringWriter err = new StringWriter();
        int code = run(err, "--protocol", "smtp", "--url", "127.0.0.1:9", "--requests", "1", "--run-id", "t",
                "--scenario", "s", "--system", "x", "--out", dir.resolve("x.json").toString());

        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("--protocol 'smtp' must be rest-json, rest-binary, grpc or http");
    }
}
