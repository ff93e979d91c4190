package dev.serval.bench.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.serval.client.DataType;
import dev.serval.client.InferInput;
import dev.serval.client.InferRequest;
import dev.serval.client.Protocol;
import dev.serval.client.ServalClient;
import dev.serval.client.ServalClientException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * gRPC load through Serval's own Java client ({@link ServalClient#grpc}): {@code --connections N}
 * threads, each calling ModelInfer back to back (closed loop) over one shared channel, as an
 * application with N request threads would. The request is read from a body in Triton's binary
 * tensor format (the JSON header, then the raw tensors: the same bytes {@link LoadGenerator} posts
 * over REST), and sent as {@code raw_input_contents}, so every protocol gets the same input.
 *
 * <p>Prints a progress line to stderr each second and, at the end, one JSON object with the keys
 * {@link LoadGenerator} uses ({@code ok_throughput}, {@code latency_ms.p50} ...), failures counted
 * by client status under {@code non_2xx}.
 */
@Command(name = "grpc-load", mixinStandardHelpOptions = true, sortOptions = false,
        description = "gRPC closed-loop load through Serval's client; prints JSON.")
public final class GrpcLoadGenerator implements Callable<Integer> {
    @Option(names = "--target", required = true, paramLabel = "HOST:PORT", description = "gRPC endpoint.")
    String target;

    @Option(names = "--model", required = true, paramLabel = "NAME")
    String model;

    @Option(names = "--body", required = true, paramLabel = "FILE",
            description = "A binary tensor body: JSON header, then the raw inputs.")
    Path body;

    @Option(names = "--header-length", required = true, paramLabel = "BYTES",
            description = "Length of the body's JSON header (Inference-Header-Content-Length).")
    int headerLength;

    @Option(names = "--connections", paramLabel = "N", defaultValue = "1", description = "Concurrent callers.")
    int callers;

    @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "0")
    double warmupSeconds;

    @Option(names = "--seconds", paramLabel = "S", required = true, description = "Measured time.")
    double seconds;

    @Option(names = "--timeout-seconds", paramLabel = "S", defaultValue = "60", description = "Per call.")
    double timeoutSeconds;

    public static void main(String[] args) {
        System.exit(new CommandLine(new GrpcLoadGenerator()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        InferRequest request = request(Files.readAllBytes(body), headerLength, model);
        if (target.lastIndexOf(':') < 0) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--target must be HOST:PORT");
        }
        try (ServalClient client = ServalClient.builder()
                .endpoint(URI.create("http://" + target))
                .protocol(Protocol.GRPC)
                .timeout(Duration.ofMillis((long) (timeoutSeconds * 1000)))
                .build()) {
            Run run = new Run(client, request, callers);
            run.phase(warmupSeconds, false, System.err);
            long measured = run.phase(seconds, true, System.err);
            System.out.println(run.json(target, measured));
        }
        return 0;
    }

    /** The inputs a binary tensor body carries, as raw little-endian buffers over the body's bytes. */
    static InferRequest request(byte[] bytes, int headerLength, String model) throws IOException {
        JsonNode header = new ObjectMapper().readTree(bytes, 0, headerLength);
        InferRequest.Builder request = InferRequest.builder(model);
        int offset = headerLength;
        for (JsonNode input : header.path("inputs")) {
            int size = input.path("parameters").path("binary_data_size").asInt(-1);
            if (size < 0 || offset + size > bytes.length) {
                throw new IllegalArgumentException("input " + input.path("name") + " has no binary_data_size that fits the body");
            }
            long[] shape = new long[input.path("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = input.path("shape").get(i).asLong();
            }
            ByteBuffer data = ByteBuffer.wrap(bytes, offset, size).slice().order(ByteOrder.LITTLE_ENDIAN);
            request.input(InferInput.of(input.path("name").asText(), DataType.valueOf(input.path("datatype").asText()),
                    shape, data));
            offset += size;
        }
        return request.build();
    }

    /** The callers and what they saw; histograms of microseconds. */
    private static final class Run {
        private final ServalClient client;
        private final InferRequest request;
        private final int callers;
        private final Histogram latency = new Histogram(3_600_000_000L, 3);
        private final Map<String, AtomicLong> failures = new ConcurrentHashMap<>();
        private final AtomicLong ok = new AtomicLong();

        Run(ServalClient client, InferRequest request, int callers) {
            this.client = client;
            this.request = request;
            this.callers = callers;
        }

        /** Runs the callers for {@code seconds}; returns the nanoseconds measured. */
        long phase(double seconds, boolean record, PrintStream progress) throws InterruptedException {
            if (seconds <= 0) {
                return 0;
            }
            long start = System.nanoTime();
            long end = start + (long) (seconds * 1e9);
            List<Thread> threads = new ArrayList<>();
            List<Histogram> histograms = new ArrayList<>();
            AtomicLong calls = new AtomicLong();
            for (int i = 0; i < callers; i++) {
                Histogram own = new Histogram(3_600_000_000L, 3);
                histograms.add(own);
                threads.add(Thread.ofPlatform().name("grpc-caller-" + i).start(() -> {
                    while (System.nanoTime() < end) {
                        long sent = System.nanoTime();
                        try {
                            client.infer(request);
                            long done = System.nanoTime();
                            if (record && done <= end) {
                                own.recordValue(Math.max(1, (done - sent) / 1000));
                                ok.incrementAndGet();
                            }
                        } catch (ServalClientException e) {
                            if (record) {
                                failures.computeIfAbsent(e.status().name(), k -> new AtomicLong()).incrementAndGet();
                            }
                        }
                        calls.incrementAndGet();
                    }
                }));
            }
            long last = 0;
            while (System.nanoTime() < end) {
                Thread.sleep(1000);
                long now = calls.get();
                progress.printf(Locale.ROOT, "%s %.0f s: %d calls/s%n", record ? "measured" : "warm-up",
                        (System.nanoTime() - start) / 1e9, now - last);
                last = now;
            }
            for (Thread thread : threads) {
                thread.join();
            }
            if (record) {
                histograms.forEach(latency::add);
            }
            return end - start;
        }

        String json(String target, long measuredNanos) {
            double seconds = measuredNanos / 1e9;
            Map<String, Long> failed = new TreeMap<>();
            failures.forEach((status, count) -> failed.put(status, count.get()));
            long failedTotal = failed.values().stream().mapToLong(Long::longValue).sum();
            StringBuilder byStatus = new StringBuilder("{");
            failed.forEach((status, count) -> {
                if (byStatus.length() > 1) {
                    byStatus.append(',');
                }
                byStatus.append('"').append(status).append("\":").append(count);
            });
            byStatus.append('}');
            return String.format(Locale.ROOT, "{\"mode\":\"closed\",\"protocol\":\"grpc\",\"target\":\"%s\","
                            + "\"connections\":%d,\"duration_seconds\":%.3f,\"completed\":%d,\"ok_throughput\":%.2f,"
                            + "\"latency_ms\":%s,\"ok\":%d,\"non_2xx\":%d,\"failures_by_status\":%s,\"transport_errors\":0}",
                    target, callers, seconds, ok.get() + failedTotal, ok.get() / seconds,
                    LoadReport.summary(latency), ok.get(), failedTotal, byStatus);
        }
    }
}
