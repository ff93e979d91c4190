package dev.serval.bench.load;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Serval's HTTP load generator: raw-socket HTTP/1.1 keep-alive connections on virtual threads, in
 * closed loop ({@code --connections N}, each sending back to back) or open loop ({@code --rate R},
 * requests due at start + i / R over up to N connections, latency measured from the time each was
 * due, so a server that falls behind cannot hide it: no coordinated omission).
 *
 * <p>Design note: the JDK's HttpClient spends more CPU per request than the servers it would
 * measure; this client writes one pre-built byte array per request and parses responses in place
 * ({@link ResponseReader}), so on its own pinned core it outpaces a server pinned to another.
 *
 * <p>Prints a progress line to stderr each second and one JSON object to stdout at the end:
 * throughput, latency percentiles of 2xx answers and, apart, of the others (e.g. 429 rejections),
 * counts by status, transport errors and, in open loop, the intended vs achieved send rate.
 */
@Command(name = "load", mixinStandardHelpOptions = true, sortOptions = false,
        description = "HTTP/1.1 load generator: closed loop (--connections) or open loop (--rate); prints JSON.")
public final class LoadGenerator implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--url", required = true, paramLabel = "URL",
            description = "http://host:port/path or host:port/path (plain HTTP only).")
    String url;

    @Option(names = "--method", paramLabel = "METHOD", description = "Default: POST with --body, else GET.")
    String method;

    @Option(names = "--body", paramLabel = "FILE", description = "Request body, sent with every request.")
    Path body;

    @Option(names = "--content-type", paramLabel = "TYPE",
            description = "Content-Type of the body. Default: application/json when --body is given.")
    String contentType;

    @Option(names = "--header", paramLabel = "'Name: value'", description = "Extra request header (repeatable).")
    List<String> headers = new ArrayList<>();

    @Option(names = "--connections", paramLabel = "N", defaultValue = "1",
            description = "Connections (closed loop: requests in flight; open loop: the most in flight). Default: ${DEFAULT-VALUE}.")
    int connections;

    @Option(names = "--rate", paramLabel = "R",
            description = "Open loop: requests per second, due at start + i / R. Without it: closed loop.")
    Double rate;

    @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "0",
            description = "Load before measuring, not recorded. Default: ${DEFAULT-VALUE}.")
    double warmupSeconds;

    @Option(names = "--seconds", paramLabel = "S", description = "Measured time (or --requests).")
    Double seconds;

    @Option(names = "--requests", paramLabel = "N", description = "Measured requests (or --seconds).")
    Long requests;

    @Option(names = "--timeout-seconds", paramLabel = "S", defaultValue = "60",
            description = "A request unanswered this long is cut off and counted as a transport error. Default: ${DEFAULT-VALUE}.")
    double timeoutSeconds;

    @Option(names = "--drain-seconds", paramLabel = "S", defaultValue = "10",
            description = "After the measured time, how long requests already due may still finish; "
                    + "the rest are reported as unsent or unfinished. Default: ${DEFAULT-VALUE}.")
    double drainSeconds;

    @Option(names = "--max-seconds", paramLabel = "S", defaultValue = "3600",
            description = "Hard bound on the whole run. Default: ${DEFAULT-VALUE}.")
    double maxSeconds;

    @Option(names = "--honor-retry-after",
            description = "Closed loop: after a 429 or 503 with Retry-After, wait that long (at most 60 s) before the next request.")
    boolean honorRetryAfter;

    @Option(names = "--quiet", description = "No progress lines on stderr.")
    boolean quiet;

    @Option(names = "--slow-log", paramLabel = "FILE",
            description = "Write the measured requests slower than --slow-ms here, with the wall-clock time each was due.")
    Path slowLog;

    @Option(names = "--slow-ms", paramLabel = "MS", defaultValue = "20",
            description = "Threshold for --slow-log. Default: ${DEFAULT-VALUE}.")
    double slowMillis;

    public static void main(String[] args) {
        System.exit(new CommandLine(new LoadGenerator()).execute(args));
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        Plan plan = plan();
        PrintStream progress = quiet ? new PrintStream(PrintStream.nullOutputStream()) : System.err;
        SlowLog slow = slowLog == null ? null : new SlowLog(slowMillis);
        LoadReport report = new LoadRun(plan, slow == null ? ResultListener.NONE : slow, progress).run();
        if (slow != null) {
            slow.write(slowLog);
        }
        System.out.println(report.toJson());
        return 0;
    }

    private Plan plan() throws IOException {
        try {
            Target target = Target.parse(url);
            byte[] bytes = null;
            if (body != null) {
                if (!Files.isRegularFile(body)) {
                    throw new IllegalArgumentException("--body " + body + " is not a file");
                }
                if (Files.size(body) > (1L << 30)) {
                    throw new IllegalArgumentException("--body " + body + " is larger than 1 GiB");
                }
                bytes = Files.readAllBytes(body);
            }
            String m = method != null ? method : bytes != null ? "POST" : "GET";
            String type = contentType != null ? contentType : bytes != null ? "application/json" : null;
            byte[] request = RequestTemplate.build(m, target, headers, type, bytes);
            return new Plan(target, request, m.equals("HEAD"), connections, rate == null ? 0 : rate, warmupSeconds,
                    seconds == null ? 0 : seconds, requests == null ? 0 : requests, timeoutSeconds, drainSeconds,
                    maxSeconds, honorRetryAfter);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }
}
