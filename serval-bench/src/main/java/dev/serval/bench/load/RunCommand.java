package dev.serval.bench.load;

import dev.serval.bench.proc.ResourceSampler;
import dev.serval.bench.result.Counts;
import dev.serval.bench.result.Environment;
import dev.serval.bench.result.Latency;
import dev.serval.bench.result.Resources;
import dev.serval.bench.result.Result;
import dev.serval.bench.result.ResultFiles;
import dev.serval.bench.result.Throughput;
import dev.serval.client.InferRequest;
import dev.serval.client.Protocol;
import dev.serval.client.ServalClient;
import dev.serval.client.ServalClientException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code serval bench run}: one measured load against one system, written as a {@link Result}.
 *
 * <p>Design note, why REST does not go through Serval's Java client: on a 2-core machine the
 * generator shares the hardware with the server, and the JDK HttpClient under the client spends
 * more CPU per request than the servers it measures (BENCHMARKS.md). So REST (JSON, binary, or any
 * HTTP request to a peer) goes through {@link LoadRun}'s raw sockets: one pre-built request per
 * send, responses parsed in place, and the very same bytes to every system, Serval or peer. gRPC
 * has no such shortcut worth its risk, and the client is what users call, so gRPC goes through
 * {@link ServalClient} over {@link CallRun}, with the same schedule and counting rules.
 *
 * <p>With {@code --pid} it samples that process and all its children from {@code /proc} during
 * the run ({@link ResourceSampler}): resident memory and CPU seconds per 1,000 requests.
 */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Runs one load (closed or open loop) and writes a JSON results file.")
public final class RunCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--protocol", required = true, paramLabel = "P",
            description = "rest-json, rest-binary, grpc, or http (any other HTTP request, e.g. a peer's GET /predict).")
    String protocol;

    @Option(names = "--url", required = true, paramLabel = "URL",
            description = "REST/http: http://host:port/path; grpc: host:port.")
    String url;

    @Option(names = "--model", paramLabel = "NAME", description = "grpc: the model to call.")
    String model;

    @Option(names = "--body", paramLabel = "FILE",
            description = "The request body: v2 JSON (rest-json) or a binary tensor body (rest-binary, grpc).")
    Path body;

    @Option(names = "--bodies", paramLabel = "FILE",
            description = "rest-json/http: request bodies, one per line (e.g. many card ids); request i sends line "
                    + "i modulo their count. Instead of --body.")
    Path bodies;

    @Option(names = "--header-length", paramLabel = "BYTES",
            description = "rest-binary/grpc: the body's JSON header length. Default: read from FILE.header.")
    Integer headerLength;

    @Option(names = "--method", paramLabel = "METHOD", description = "http: the method (default GET, POST with --body).")
    String method;

    @Option(names = "--header", paramLabel = "'Name: value'", description = "Extra HTTP header (repeatable).")
    List<String> headers = new ArrayList<>();

    @Option(names = "--clients", paramLabel = "N", defaultValue = "1",
            description = "Closed loop: concurrent clients; open loop: the most requests in flight. Default: ${DEFAULT-VALUE}.")
    int clients;

    @Option(names = "--rate", paramLabel = "R", description = "Open loop at R requests/s (latency from the intended send time).")
    Double rate;

    @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "0", description = "Not recorded. Default: ${DEFAULT-VALUE}.")
    double warmupSeconds;

    @Option(names = "--seconds", paramLabel = "S", description = "Measured time (or --requests).")
    Double seconds;

    @Option(names = "--requests", paramLabel = "N", description = "Measured requests (or --seconds).")
    Long requests;

    @Option(names = "--timeout-seconds", paramLabel = "S", defaultValue = "60", description = "Per request. Default: ${DEFAULT-VALUE}.")
    double timeoutSeconds;

    @Option(names = "--max-seconds", paramLabel = "S", defaultValue = "3600", description = "Bound on the whole run. Default: ${DEFAULT-VALUE}.")
    double maxSeconds;

    @Option(names = "--pid", paramLabel = "PID", description = "Sample this process and its children (RSS, CPU) from /proc.")
    Long pid;

    @Option(names = "--sample-ms", paramLabel = "MS", defaultValue = "250", description = "Sampling interval. Default: ${DEFAULT-VALUE}.")
    int sampleMillis;

    @Option(names = "--run-id", required = true, paramLabel = "ID", description = "The suite invocation (ratios only within one).")
    String runId;

    @Option(names = "--scenario", required = true, paramLabel = "NAME")
    String scenario;

    @Option(names = "--system", required = true, paramLabel = "NAME", description = "e.g. serval, python-fastapi, go, flask-gunicorn.")
    String system;

    @Option(names = "--repetition", paramLabel = "N", defaultValue = "1", description = "Round number. Default: ${DEFAULT-VALUE}.")
    int repetition;

    @Option(names = "--meta", paramLabel = "KEY=VALUE", description = "A fact to record with the result (repeatable).")
    Map<String, String> meta = new LinkedHashMap<>();

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The results file to write.")
    Path out;

    @Option(names = "--quiet", description = "No progress lines on stderr.")
    boolean quiet;

    @Override
    public Integer call() throws IOException, InterruptedException {
        PrintStream progress = quiet ? new PrintStream(PrintStream.nullOutputStream()) : System.err;
        Instant started = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        Result result;
        try (ResourceSampler sampler = startSampler()) {
            result = switch (protocol) {
                case "rest-json", "rest-binary", "http" -> rest(sampler, progress, started);
                case "grpc" -> grpc(sampler, progress, started);
                default -> throw usage("--protocol '" + protocol + "' must be rest-json, rest-binary, grpc or http");
            };
        }
        ResultFiles.write(out, result);
        progress.printf(java.util.Locale.ROOT, "run: %s %s %s: %.1f ok/s, p50 %s ms, p99 %s ms, %d failed -> %s%n",
                scenario, system, protocol, result.throughput().okPerSecond(), result.latencyMs().p50(),
                result.latencyMs().p99(), result.counts().failed(), out);
        return 0;
    }

    private ResourceSampler startSampler() {
        if (pid == null) {
            return null;
        }
        try {
            return ResourceSampler.of(pid, Duration.ofMillis(sampleMillis)).start();
        } catch (IllegalArgumentException e) {
            throw usage("--pid " + pid + ": " + e.getMessage());
        }
    }

    private Result rest(ResourceSampler sampler, PrintStream progress, Instant started)
            throws IOException, InterruptedException {
        Plan plan;
        try {
            Target target = Target.parse(url);
            if (bodies != null && (body != null || protocol.equals("rest-binary"))) {
                throw usage("--bodies goes with --protocol rest-json or http, without --body");
            }
            List<byte[]> lines = bodies == null ? List.of() : readBodies();
            byte[] bytes = body == null ? (lines.isEmpty() ? null : lines.get(0)) : readBody();
            List<String> all = new ArrayList<>(headers);
            String type = null;
            String m = method != null ? method : bytes != null ? "POST" : "GET";
            if (protocol.equals("rest-json")) {
                if (bodies == null) {
                    requireBody();
                }
                type = "application/json";
            } else if (protocol.equals("rest-binary")) {
                requireBody();
                type = "application/octet-stream";
                all.add("Inference-Header-Content-Length: " + headerLength());
            } else if (bytes != null) {
                type = "application/octet-stream";
            }
            byte[][] rotation = new byte[lines.size()][];
            for (int i = 0; i < rotation.length; i++) {
                rotation[i] = RequestTemplate.build(m, target, all, type, lines.get(i));
            }
            byte[] request = rotation.length > 0 ? rotation[0] : RequestTemplate.build(m, target, all, type, bytes);
            plan = new Plan(target, request, m.equals("HEAD"), clients, rate == null ? 0 : rate, warmupSeconds,
                    seconds == null ? 0 : seconds, requests == null ? 0 : requests, timeoutSeconds, 10, maxSeconds, false,
                    rotation);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        LoadReport r = new LoadRun(plan, ResultListener.NONE, progress).run();
        Map<String, Long> errors = new TreeMap<>();
        r.statuses.forEach((status, n) -> {
            if (status < 200 || status >= 300) {
                errors.put("status_" + status, n);
            }
        });
        r.errors.forEach((kind, n) -> {
            if (!kind.equals("connect-at-start")) {
                errors.put(kind, n);
            }
        });
        long failed = r.non2xx() + r.transportErrors();
        long inWindow = Math.round(r.throughput * r.durationSeconds);
        return result(started, "http://" + r.target.authority() + r.target.path(), r.mode,
                new Counts(r.completed, r.ok(), failed, r.unsent, r.unfinished), errors,
                new Throughput(round2(r.okThroughput), round2(r.throughput), plan.openLoop() ? plan.rate() : null,
                        plan.openLoop() ? round2(r.achievedRate) : null),
                r.okLatency, r.durationSeconds,
                resources(sampler, r.measureStartNanos, r.measureEndNanos, inWindow));
    }

    private Result grpc(ResourceSampler sampler, PrintStream progress, Instant started)
            throws IOException, InterruptedException {
        if (model == null) {
            throw usage("--protocol grpc needs --model");
        }
        requireBody();
        int colon = url.lastIndexOf(':');
        if (colon < 0 || url.contains("/")) {
            throw usage("--url '" + url + "' must be host:port for grpc");
        }
        CallRun.Settings settings;
        InferRequest request;
        try {
            settings = new CallRun.Settings(clients, rate == null ? 0 : rate, warmupSeconds,
                    seconds == null ? 0 : seconds, requests == null ? 0 : requests, 10, maxSeconds);
            request = GrpcLoadGenerator.request(readBody(), headerLength(), model);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        CallRun.Outcome o;
        try (ServalClient client = ServalClient.builder().endpoint(URI.create("http://" + url)).protocol(Protocol.GRPC)
                .timeout(Duration.ofMillis((long) (timeoutSeconds * 1000))).build()) {
            try {
                client.infer(request); // opens the channel before the clock starts, as LoadRun connects first
            } catch (ServalClientException e) {
                progress.println("run: the first (untimed) call failed: " + e.getMessage());
            }
            o = new CallRun(settings, () -> {
                try {
                    client.infer(request);
                    return null;
                } catch (ServalClientException e) {
                    return "grpc_" + e.status().name();
                }
            }, progress).run();
        }
        long inWindow = Math.round(o.allPerSecond * o.durationSeconds);
        return result(started, url, o.mode, new Counts(o.completed, o.ok, o.failed(), o.unsent, 0), o.failures,
                new Throughput(round2(o.okPerSecond), round2(o.allPerSecond), settings.openLoop() ? settings.rate() : null,
                        settings.openLoop() ? round2(o.achievedRate) : null),
                o.okLatency, o.durationSeconds, resources(sampler, o.measureStartNanos, o.measureEndNanos, inWindow));
    }

    private Resources resources(ResourceSampler sampler, long from, long to, long requestsInWindow) {
        if (sampler == null) {
            return null;
        }
        sampler.sampleNow();
        try {
            return sampler.summary(from, to, requestsInWindow);
        } catch (IllegalStateException e) { // the process ended before a second sample
            System.err.println("run: no resources recorded: " + e.getMessage());
            return null;
        }
    }

    private Result result(Instant started, String target, String mode, Counts counts, Map<String, Long> errors,
                          Throughput throughput, Histogram latency, double duration, Resources resources) {
        return new Result(Result.SCHEMA, runId, scenario, system, protocol, repetition, target, mode, clients, rate,
                warmupSeconds, Math.round(duration * 1000) / 1000.0, started.toString(), counts, errors, throughput,
                Latency.ofMicros(latency), encode(latency), resources, Environment.current(), meta, Map.of());
    }

    /** HdrHistogram's compressed form, base64: the full distribution in a few hundred bytes. */
    static String encode(Histogram histogram) {
        ByteBuffer buffer = ByteBuffer.allocate(histogram.getNeededByteBufferCapacity());
        int length = histogram.encodeIntoCompressedByteBuffer(buffer);
        return Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(buffer.array(), length));
    }

    private byte[] readBody() throws IOException {
        if (!Files.isRegularFile(body)) {
            throw usage("--body " + body + " is not a file");
        }
        if (Files.size(body) > (1L << 30)) {
            throw usage("--body " + body + " is larger than 1 GiB");
        }
        return Files.readAllBytes(body);
    }

    /** The non-empty lines of --bodies, each one request body. */
    private List<byte[]> readBodies() throws IOException {
        if (!Files.isRegularFile(bodies)) {
            throw usage("--bodies " + bodies + " is not a file");
        }
        if (Files.size(bodies) > (1L << 30)) {
            throw usage("--bodies " + bodies + " is larger than 1 GiB");
        }
        List<byte[]> lines = new ArrayList<>();
        for (String line : Files.readAllLines(bodies)) {
            if (!line.isBlank()) {
                lines.add(line.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        if (lines.isEmpty()) {
            throw usage("--bodies " + bodies + " has no body (one per line)");
        }
        return lines;
    }

    private void requireBody() {
        if (body == null) {
            throw usage("--protocol " + protocol + " needs --body");
        }
    }

    private int headerLength() throws IOException {
        if (headerLength != null) {
            return headerLength;
        }
        Path file = Path.of(body + ".header");
        if (!Files.isRegularFile(file)) {
            throw usage("--protocol " + protocol + " needs --header-length or " + file + " (make-bodies.py writes it)");
        }
        try {
            return Integer.parseInt(Files.readString(file).trim());
        } catch (NumberFormatException e) {
            throw usage(file + " does not hold a header length: " + e.getMessage());
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    private static double round2(double value) {
        return Math.round(value * 100) / 100.0;
    }
}
