package dev.serval.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import org.junit.jupiter.api.Test;

/**
 * The generator against {@link FakeHttpServer}. No assertion compares a time with an expected
 * value: they compare runs and requests with each other, with generous margins.
 */
class LoadRunTest {
    private static final PrintStream QUIET = new PrintStream(PrintStream.nullOutputStream());

    /** Per request of a run: (index -> latency from the intended time in ms), measured ones only. */
    private static final class Latencies implements ResultListener {
        final Map<Long, Double> byIndex = new ConcurrentSkipListMap<>();

        @Override
        public void ended(long index, long intendedNanos, long sentNanos, long doneNanos, int status, boolean measured) {
            if (measured && status == 200) {
                byIndex.put(index, (doneNanos - intendedNanos) / 1e6);
            }
        }

        double meanOf(int from, int to) {
            List<Double> values = List.copyOf(byIndex.values()).subList(from, to);
            return values.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        }
    }

    private static Plan plan(FakeHttpServer server, int connections, double rate, long requests, byte[] body) {
        return plan(server, connections, rate, requests, body, false);
    }

    private static Plan plan(FakeHttpServer server, int connections, double rate, long requests, byte[] body,
                             boolean honorRetryAfter) {
        Target target = new Target("127.0.0.1", server.port(), "/v2/models/m/infer");
        byte[] request = RequestTemplate.build("POST", target, List.of("X-Test: 1"), "application/json", body);
        return new Plan(target, request, false, connections, rate, 0, 0, requests, 30, 30, 120, honorRetryAfter);
    }

    private static byte[] body() {
        return "{\"inputs\":[]}".getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void openLoop_latencyFromTheIntendedTimeGrowsWhenTheServerCannotKeepUp() throws Exception {
        // One connection, 20 ms per answer: at most ~50 answers/s. Asked for 100/s, every request
        // is sent later than it was due, and later and later: its latency must include that wait.
        Latencies overloaded = new Latencies();
        Latencies underloaded = new Latencies();
        LoadReport over;
        LoadReport under;
        try (FakeHttpServer server = new FakeHttpServer(1, 20, n -> FakeHttpServer.ok("{}"))) {
            over = new LoadRun(plan(server, 1, 100, 40, body()), overloaded, QUIET).run();
        }
        try (FakeHttpServer server = new FakeHttpServer(1, 20, n -> FakeHttpServer.ok("{}"))) {
            under = new LoadRun(plan(server, 1, 10, 10, body()), underloaded, QUIET).run();
        }

        assertThat(over.completed).isEqualTo(40);
        assertThat(over.statuses).containsExactly(Map.entry(200, 40L));
        assertThat(overloaded.byIndex).hasSize(40);
        // the queue in front of the server grows: the last requests wait far longer than the first
        assertThat(overloaded.meanOf(30, 40)).isGreaterThan(2 * overloaded.meanOf(0, 10));
        // and the generator could not send at the rate asked for
        assertThat(over.achievedRate).isLessThan(0.9 * 100);
        assertThat(over.sendLag.getMaxValue()).isGreaterThan(over.sendLag.getValueAtPercentile(10));
        // at a rate the server can take, latency stays flat and far below the overloaded tail
        assertThat(under.completed).isEqualTo(10);
        assertThat(over.okLatency.getValueAtPercentile(50)).isGreaterThan(3 * under.okLatency.getValueAtPercentile(50));
        assertThat(over.okLatency.getValueAtPercentile(99)).isGreaterThan(over.okLatency.getValueAtPercentile(10));
    }

    @Test
    void closedLoop_hidesTheQueueThatOpenLoopShows() throws Exception {
        // The same slow server measured closed loop: each request waits only for its own answer,
        // so the latency stays near the service time (coordinated omission) while the open loop's grows.
        LoadReport closed;
        LoadReport open;
        try (FakeHttpServer server = new FakeHttpServer(1, 20, n -> FakeHttpServer.ok("{}"))) {
            closed = new LoadRun(plan(server, 1, 0, 30, body()), ResultListener.NONE, QUIET).run();
        }
        try (FakeHttpServer server = new FakeHttpServer(1, 20, n -> FakeHttpServer.ok("{}"))) {
            open = new LoadRun(plan(server, 1, 100, 30, body()), ResultListener.NONE, QUIET).run();
        }

        assertThat(closed.completed).isEqualTo(30);
        assertThat(open.completed).isEqualTo(30);
        // Medians: one request stalled by a busy test machine moves a p99 of 30 samples, not a median.
        // Open loop, request i waits about i x 10 ms behind the slow server (median ~150 ms); closed ~20 ms.
        assertThat(open.okLatency.getValueAtPercentile(50)).isGreaterThan(2 * closed.okLatency.getValueAtPercentile(50));
    }

    @Test
    void closedLoop_sendsExactlyTheRequestsAskedFor_andCountsThemByStatus() throws Exception {
        try (FakeHttpServer server = new FakeHttpServer(8, 0,
                n -> n % 4 == 3 ? FakeHttpServer.response(429, "full") : FakeHttpServer.ok("{\"outputs\":[]}"))) {
            LoadReport report = new LoadRun(plan(server, 4, 0, 200, body()), ResultListener.NONE, QUIET).run();

            assertThat(server.requests()).isEqualTo(200);
            assertThat(report.completed).isEqualTo(200);
            assertThat(report.statuses).containsExactly(Map.entry(200, 150L), Map.entry(429, 50L));
            assertThat(report.okLatency.getTotalCount()).isEqualTo(150);
            assertThat(report.otherLatency.getTotalCount()).isEqualTo(50);
            assertThat(report.latencyByStatus).containsOnlyKeys(429);
            assertThat(report.latencyByStatus.get(429).getTotalCount()).isEqualTo(50);
            assertThat(report.transportErrors()).isZero();
            assertThat(report.reconnects).isZero();
            assertThat(report.throughput).isPositive();
            assertThat(report.toJson()).contains("\"mode\":\"closed\"", "\"completed\":200", "\"status\":{\"200\":150,\"429\":50}",
                    "\"non_2xx\":50", "\"non_2xx_latency_by_status_ms\":{\"429\":{\"count\":50,");
        }
    }

    @Test
    void closedLoop_keepsTheConnectionAcrossChunkedAnswers() throws Exception {
        byte[] chunked = ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
        try (FakeHttpServer server = new FakeHttpServer(1, 0, n -> chunked)) {
            LoadReport report = new LoadRun(plan(server, 1, 0, 50, body()), ResultListener.NONE, QUIET).run();

            assertThat(report.statuses).containsExactly(Map.entry(200, 50L));
            assertThat(report.transportErrors()).isZero();
            assertThat(report.reconnects).isZero(); // one connection served all 50: the framing was right
        }
    }

    @Test
    void closedLoop_reconnectsWhenTheServerClosesAfterAnswering() throws Exception {
        byte[] closing = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
                .getBytes(StandardCharsets.ISO_8859_1);
        try (FakeHttpServer server = new FakeHttpServer(4, 0, n -> closing)) {
            LoadReport report = new LoadRun(plan(server, 2, 0, 20, body()), ResultListener.NONE, QUIET).run();

            assertThat(report.statuses).containsExactly(Map.entry(200, 20L));
            assertThat(report.transportErrors()).isZero();
            assertThat(report.reconnects).isGreaterThanOrEqualTo(18);
        }
    }

    @Test
    void closedLoop_waitsOutRetryAfterWhenAskedTo() throws Exception {
        byte[] busy = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
                .getBytes(StandardCharsets.ISO_8859_1);
        long[] firstDone = new long[1];
        long[] secondSent = new long[1];
        ResultListener times = (index, intended, sent, done, status, measured) -> {
            if (index == 0) {
                firstDone[0] = done;
            } else {
                secondSent[0] = sent;
            }
        };
        try (FakeHttpServer server = new FakeHttpServer(1, 0, n -> n == 0 ? busy : FakeHttpServer.ok("{}"))) {
            LoadReport report = new LoadRun(plan(server, 1, 0, 2, body(), true), times, QUIET).run();

            assertThat(report.statuses).containsExactly(Map.entry(200, 1L), Map.entry(429, 1L));
            assertThat(report.retryAfterWaits).isEqualTo(1);
            assertThat(secondSent[0] - firstDone[0]).isGreaterThanOrEqualTo(900_000_000L); // slept at least ~1 s
        }
    }

    @Test
    void run_countsARefusedConnectionAsATransportError() throws Exception {
        int port;
        try (FakeHttpServer server = new FakeHttpServer(1, 0, n -> FakeHttpServer.ok(""))) {
            port = server.port();
        }
        Target target = new Target("127.0.0.1", port, "/");
        Plan plan = new Plan(target, RequestTemplate.build("GET", target, List.of(), null, null), false, 1, 0, 0, 0, 3,
                5, 1, 30, false);
        LoadReport report = new LoadRun(plan, ResultListener.NONE, QUIET).run();

        assertThat(report.statuses).isEmpty();
        assertThat(report.errors).containsEntry("connect", 3L);
        assertThat(report.transportErrors()).isEqualTo(3);
    }
}
