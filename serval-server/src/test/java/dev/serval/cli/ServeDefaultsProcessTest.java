package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.testing.Examples;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./serval serve} with no flags but the ports, as a process: the bundled repository,
 * {@code fraud} included, loads, so the strict readiness check passes; the default feature store
 * (L1 + RocksDB under the Serval home) records events and scores with them; its metrics are on
 * {@code /metrics}; on SIGTERM the server stops first and the store closes after it.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ServeDefaultsProcessTest {
    @TempDir
    Path home;

    private ServeProcess serve;

    @AfterEach
    void kill() throws InterruptedException {
        if (serve != null) {
            serve.close();
        }
    }

    @Test
    void defaultServe_isReadyWithEveryBundledModel_fraudScoresRecordedEvents_andStopsServerThenStore() throws Exception {
        // A Serval home as ./serval sets it: the bundled examples beside the data directory.
        Files.createSymbolicLink(home.resolve("examples"), Examples.repository().getParent().toAbsolutePath());
        serve = ServeProcess.start(List.of("serval.home=" + home),
                List.of("--http-port", "0", "--grpc-port", "-1", "--threads", "1"), Duration.ofSeconds(120));
        Process process = serve.process();
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        String base = "http://127.0.0.1:" + serve.port();

        // The server logs its start once every model has loaded or failed: ready now, with strict readiness.
        assertThat(get(client, base + "/v2/health/ready").statusCode()).as(serve.output()).isEqualTo(200);
        assertThat(get(client, base + "/v2/models/fraud/ready").statusCode()).isEqualTo(200);
        assertThat(serve.output()).contains("feature store: L1 memory (50000 entities) + L2 RocksDB "
                + home.resolve("serval-data/features")).doesNotContain("some models failed to load");

        long now = System.currentTimeMillis();
        HttpResponse<String> recorded = post(client, base + "/v2/events",
                "[{\"card_id\":\"c1\",\"amount\":12.5,\"merchant\":\"m7\",\"timestamp\":" + now + "}]");
        assertThat(recorded.body()).isEqualTo("{\"recorded\":1}");
        HttpResponse<String> scored = post(client, base + "/v2/models/fraud/infer", """
                {"inputs": [{"name": "card_id", "shape": [1], "datatype": "BYTES", "data": ["c1"]},
                            {"name": "amount", "shape": [1], "datatype": "FP32", "data": [30.0]},
                            {"name": "merchant", "shape": [1], "datatype": "BYTES", "data": ["m7"]},
                            {"name": "timestamp", "shape": [1], "datatype": "INT64", "data": [%d]}]}""".formatted(now));
        assertThat(scored.statusCode()).as(scored.body()).isEqualTo(200);
        assertThat(scored.body()).contains("\"name\":\"score\"").containsPattern("\"(approve|review|decline)\"");
        assertThat(get(client, base + "/metrics").body())
                .contains("serval_feature_events_applied_total 1.0")
                .contains("serval_feature_lookup_rows_total{outcome=\"l1_hit\"} 1.0")
                .doesNotContain("serval_feature_breaker_state"); // no L3

        assertThat(process.toHandle().destroy()).isTrue(); // SIGTERM
        assertThat(serve.awaitExit(Duration.ofSeconds(90))).as("the process exits by itself: %s", serve.output()).isTrue();
        assertThat(process.exitValue()).isEqualTo(143);
        String log = serve.output();
        assertThat(log).contains("Serval stopped").contains("feature store closed");
        assertThat(log.indexOf("feature store closed")).as("the store closes after the server").isGreaterThan(log.indexOf("Serval stopped"));
        assertThat(home.resolve("serval-data/features/CURRENT")).as("RocksDB's files").exists();
    }

    private static HttpResponse<String> get(HttpClient client, String uri) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(HttpClient client, String uri, String body) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
