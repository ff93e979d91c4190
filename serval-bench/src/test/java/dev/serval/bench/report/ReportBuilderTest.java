package dev.serval.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.bench.result.Counts;
import dev.serval.bench.result.Environment;
import dev.serval.bench.result.Latency;
import dev.serval.bench.result.Resources;
import dev.serval.bench.result.Result;
import dev.serval.bench.result.ResultFiles;
import dev.serval.bench.result.Skip;
import dev.serval.bench.result.Throughput;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ReportBuilderTest {
    private static final Instant NOW = Instant.parse("2026-11-23T20:00:00Z");

    @TempDir
    Path dir;

    private static Path recorded() throws Exception {
        return Path.of(ReportBuilderTest.class.getResource("/recorded/smoke-1").toURI());
    }

    private static BufferedImage decode(byte[] png) throws Exception {
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
        assertThat(image).as("a PNG ImageIO can read").isNotNull();
        return image;
    }

    @Test
    void report_buildsFromARecordedRun_withChartsRatiosAndTheMachine() throws Exception {
        // recorded by `bench/suite.sh smoke` (Serval and the Go peer, 300 requests each, one round)
        ResultFiles.Loaded loaded = ResultFiles.load(List.of(recorded()));
        assertThat(loaded.results()).hasSize(3);

        ReportBuilder.Report report = new ReportBuilder(loaded, PriceTable.DEFAULT, NOW).build();

        assertThat(report.charts()).containsOnlyKeys("hello-latency.png", "hello-memory.png", "hello-cost.png");
        for (byte[] png : report.charts().values()) {
            BufferedImage image = decode(png);
            assertThat(image.getWidth()).isEqualTo(Charts.WIDTH);
            assertThat(image.getHeight()).isEqualTo(Charts.HEIGHT);
        }
        // every chart is embedded in the page, and each embedded image decodes
        Matcher embedded = Pattern.compile("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(report.html());
        int images = 0;
        while (embedded.find()) {
            decode(Base64.getDecoder().decode(embedded.group(1)));
            images++;
        }
        assertThat(images).isEqualTo(3);

        // the ratio is Serval's answers/s over Go's, from the two recorded files
        Result serval = loaded.results().stream().filter(r -> r.system().equals("serval")).findFirst().orElseThrow();
        Result go = loaded.results().stream().filter(r -> r.system().equals("go-constant")).findFirst().orElseThrow();
        String ratio = Spread.num(serval.throughput().okPerSecond() / go.throughput().okPerSecond()) + "x";
        assertThat(report.markdown()).contains("| smoke-1 | hello | serval rest-json, 10 clients | go-constant http, 10 clients | "
                + ratio + " |");
        assertThat(report.html()).contains("<td>serval rest-json, 10 clients</td><td>go-constant http, 10 clients</td><td>"
                + ratio + "</td>");
        // the machine, the JVM flags and the pinning travel in the results and reach the report
        assertThat(report.html()).contains("Intel(R) Xeon(R) Processor", "-XX:+UseZGC", "--threads 1",
                "load generator CPUs (pinning)", "serval_commit=", "go1.19.8", PriceTable.DEFAULT.source());
        assertThat(report.markdown()).contains("| cores | 2 |", "Google Cloud Compute Engine N2");
    }

    @Test
    void reportCommand_writesThePageTheSummaryAndThePngs() throws Exception {
        Path out = dir.resolve("report");
        Path note = Files.writeString(dir.resolve("machine.txt"), "load average at start: 0.12\n");
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new ReportCommand());
        cli.setErr(new PrintWriter(err));

        int code = cli.execute(recorded().toString(), "--out", out.toString(), "--vcpu-hour", "0.05", "--note", note.toString());

        assertThat(code).as(err.toString()).isZero();
        assertThat(Files.readString(out.resolve("report.html"))).contains("<h1>Serval benchmark report</h1>",
                "vcpu_hour 0.05", "load average at start: 0.12");
        assertThat(Files.readString(out.resolve("summary.md"))).contains("## Serval vs each peer (same run)");
        try (var pngs = Files.list(out.resolve("charts"))) {
            List<Path> files = pngs.toList();
            assertThat(files).hasSize(3);
            for (Path png : files) {
                decode(Files.readAllBytes(png));
            }
        }
    }

    @Test
    void reportCommand_refusesAFolderWithoutResults() throws Exception {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new ReportCommand());
        cli.setErr(new PrintWriter(err));

        int code = cli.execute(Files.createDirectories(dir.resolve("empty")).toString(), "--out", dir.resolve("o").toString());

        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("no results to report on");
    }

    private static Result result(String runId, String scenario, String system, String protocol, int clients, int rep,
                                 double okPerSecond, double p50, Double rssMb) {
        Resources resources = rssMb == null ? null
                : new Resources(1, List.of("server"), "0", 1, 10, 0.25, rssMb, rssMb, rssMb, 1, 0.5);
        return new Result(Result.SCHEMA, runId, scenario, system, protocol, rep, "t", "closed", clients, null, 1, 10,
                "2026-11-23T19:0" + rep + ":00Z", new Counts(100, 100, 0, 0, 0), Map.of(),
                new Throughput(okPerSecond, okPerSecond, null, null), new Latency(100, p50, p50, p50, p50, p50, p50, p50, p50),
                null, resources, new Environment(2, "cpu", 1, "Linux", "jdk", List.of(), "1"), Map.of(), Map.of());
    }

    @Test
    void ratios_arePairedByRepetition_andNeverTakenAcrossRuns() throws Exception {
        List<Result> results = new ArrayList<>();
        double[] serval = {100, 110, 120};
        double[] peer = {50, 50, 60};
        for (int rep = 1; rep <= 3; rep++) {
            results.add(result("A", "mobilenet-10", "serval", "rest-binary", 10, rep, serval[rep - 1], 2, 200.0));
            results.add(result("A", "mobilenet-10", "python-fastapi", "rest-json", 10, rep, peer[rep - 1], 8, 800.0));
            results.add(result("A", "mobilenet-10", "python-fastapi", "rest-json", 64, rep, 55, 80, 800.0)); // other load
            results.add(result("B", "mobilenet-10", "python-fastapi", "rest-json", 10, rep, 1000, 1, 10.0)); // other run
        }
        List<LoadPoint> points = new ArrayList<>();
        results.stream().collect(java.util.stream.Collectors.groupingBy(LoadPoint::key, java.util.LinkedHashMap::new,
                java.util.stream.Collectors.toList())).values().forEach(same -> points.add(LoadPoint.of(same)));

        List<Ratio> ratios = Ratio.all(points, PriceTable.DEFAULT);

        assertThat(ratios).hasSize(1);
        Ratio r = ratios.get(0);
        assertThat(r.peer().runId()).isEqualTo("A");
        assertThat(r.peer().clients()).isEqualTo(10);
        assertThat(r.pairs()).isEqualTo(3);
        // per repetition: 100/50, 110/50, 120/60 = 2.0, 2.2, 2.0
        assertThat(r.throughput()).isEqualTo(new Spread(2.0, 2.0, 2.2, 3));
        assertThat(r.p50().median()).isEqualTo(0.25);
        assertThat(r.rss().median()).isEqualTo(0.25);
        assertThat(r.cost()).isNotNull();
    }

    @Test
    void report_drawsThroughputAgainstClients_andListsSkipsWithTheirReason() throws Exception {
        List<Result> results = new ArrayList<>();
        int[] clients = {1, 4, 16, 64};
        for (int i = 0; i < clients.length; i++) {
            results.add(result("A", "concurrency", "serval", "rest-binary", clients[i], 1, 100 + 50 * i, 2, 300.0));
            results.add(result("A", "concurrency", "python-fastapi", "rest-json", clients[i], 1, 8, 100, 700.0));
        }
        results.add(result("A", "concurrency", "limit", "in-process", 1, 1, 260, 3.8, null));
        Skip skip = new Skip(Skip.SCHEMA, "A", "encoder", "*", "the encoder is missing under examples/bench-models");

        ReportBuilder.Report report = new ReportBuilder(new ResultFiles.Loaded(results, List.of(skip)), PriceTable.DEFAULT, NOW)
                .build();

        assertThat(report.charts()).containsKey("concurrency-throughput.png");
        decode(report.charts().get("concurrency-throughput.png"));
        assertThat(report.markdown()).contains("## Skipped", "| A | encoder | * | the encoder is missing under examples/bench-models |");
        assertThat(report.html()).contains("the encoder is missing under examples/bench-models");
        // the limit is set against every Serval load of its scenario; the peer only against the same load
        assertThat(report.markdown()).contains("| serval rest-binary, 64 clients | limit in-process, in-process |",
                "| serval rest-binary, 64 clients | python-fastapi rest-json, 64 clients |");
        assertThat(report.markdown().lines().filter(l -> l.contains("| serval rest-binary, 64 clients | python-fastapi"))
                .count()).isEqualTo(1);
    }
}
