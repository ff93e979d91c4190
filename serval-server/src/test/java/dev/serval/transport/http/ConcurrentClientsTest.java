package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Many clients at once, each with its own inputs: every answer is exactly its own request's
 * (no outputs mixed between requests), and nothing fails.
 */
class ConcurrentClientsTest {
    private static final int CLIENTS = 48;
    private static final int REQUESTS_PER_CLIENT = 60;

    @Test
    void concurrentClients_getTheirOwnAnswers() throws Exception {
        try (TestServer server = TestServer.start(Examples.testRepository());
             ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Integer>> results = new ArrayList<>();
            for (int client = 0; client < CLIENTS; client++) {
                int id = client;
                results.add(clients.submit(() -> runClient(server, id)));
            }
            int checked = 0;
            for (Future<Integer> result : results) {
                checked += result.get();
            }
            assertThat(checked).isEqualTo(CLIENTS * REQUESTS_PER_CLIENT);
        }
    }

    /** Sends requests whose every value encodes (client, request, element); checks the exact sums and products. */
    private static int runClient(TestServer server, int client) {
        for (int request = 0; request < REQUESTS_PER_CLIENT; request++) {
            int batch = 1 + (client + request) % 4;
            float[] a = new float[batch * 3];
            float[] b = new float[batch * 3];
            for (int i = 0; i < a.length; i++) {
                // Quarters keep float32 sums and products exact.
                a[i] = client * 1000 + request + i * 0.25f;
                b[i] = (i % 3) + 0.5f;
            }
            String id = client + "-" + request;
            Reply reply = server.post("/v2/models/scalar_add/infer", """
                    {"id": "%s", "inputs": [
                      {"name": "a", "shape": [%d, 3], "datatype": "FP32", "data": %s},
                      {"name": "b", "shape": [%d, 3], "datatype": "FP32", "data": %s}]}"""
                    .formatted(id, batch, json(a), batch, json(b)));
            assertThat(reply.status()).as(reply.body()).isEqualTo(200);
            JsonNode body = reply.json();
            assertThat(body.get("id").asText()).isEqualTo(id);
            JsonNode sum = body.get("outputs").get(0);
            JsonNode product = body.get("outputs").get(1);
            assertThat(sum.get("name").asText()).isEqualTo("sum");
            assertThat(sum.get("shape").toString()).isEqualTo("[" + batch + ",3]");
            for (int i = 0; i < a.length; i++) {
                assertThat((float) sum.get("data").get(i).asDouble()).as("%s sum[%d]", id, i).isEqualTo(a[i] + b[i]);
                assertThat((float) product.get("data").get(i).asDouble()).as("%s product[%d]", id, i).isEqualTo(a[i] * b[i]);
            }
        }
        return REQUESTS_PER_CLIENT;
    }

    private static String json(float[] values) {
        StringBuilder text = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            text.append(i == 0 ? "" : ", ").append(values[i]);
        }
        return text.append(']').toString();
    }
}
