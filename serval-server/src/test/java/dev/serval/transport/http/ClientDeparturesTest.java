package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.model.ModelVersion;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests whose HTTP client closed its connection while they waited in the queue are dropped
 * before the model runs them, counted, and the server goes on serving the others. The model is
 * held by {@link GatedRuntime}, so the requests wait as long as the test needs, not a set time.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ClientDeparturesTest {
    private static final int DEPARTING = 8;
    private static final Pattern CANCELLED = Pattern.compile(
            "serval_inference_cancelled_total\\{model=\"slow\",reason=\"client_closed\"} ([0-9.]+)");

    @TempDir
    static Path repository;
    private static final GatedRuntime runtime = new GatedRuntime();
    private static TestServer server;

    @BeforeAll
    static void start() throws IOException {
        Files.createDirectories(repository.resolve("slow/1"));
        Files.copy(Examples.repository().resolve("iris/1/model.onnx"), repository.resolve("slow/1/model.onnx"));
        Files.writeString(repository.resolve("slow/config.yaml"),
                "max_batch_size: 0\ndynamic_batching:\n  max_queue_size: 64\ninstance_group:\n  count: 1\n");
        server = TestServer.start(repository, runtime);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String iris(float tag) {
        return String.format(Locale.ROOT, """
                {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [%s, 3.0, 1.5, 1.2]}]}""",
                tag);
    }

    private static CompletableFuture<Reply> postAsync(float tag) {
        return CompletableFuture.supplyAsync(() -> server.post("/v2/models/slow/infer", iris(tag)),
                command -> Thread.ofVirtual().start(command));
    }

    /** A client that sends its request over its own connection and never reads the answer. */
    private static Socket send(float tag) throws IOException {
        byte[] body = iris(tag).getBytes(StandardCharsets.UTF_8);
        Socket socket = new Socket("127.0.0.1", server.uri("/").getPort());
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v2/models/slow/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return socket;
    }

    private static ModelVersion slow() {
        return server.server().registry().resolve("slow", null);
    }

    private static void awaitQueueDepth(int depth) throws InterruptedException {
        for (int i = 0; i < 3000 && slow().queueDepth() != depth; i++) {
            Thread.sleep(10);
        }
        assertThat(slow().queueDepth()).as("queue depth").isEqualTo(depth);
    }

    private static double cancelled() {
        Matcher matcher = CANCELLED.matcher(server.get("/metrics").body());
        return matcher.find() ? Double.parseDouble(matcher.group(1)) : 0;
    }

    @Test
    void departedClients_requestsAreDroppedUnrun_countedAndOthersServed() throws Exception {
        Assumptions.assumeTrue(TcpTable.available(), "the kernel's TCP table (Linux) is needed");
        runtime.close("slow");
        CompletableFuture<Reply> running = postAsync(1.0f);
        runtime.awaitBlocked("slow");

        List<Socket> departing = new ArrayList<>();
        for (int i = 0; i < DEPARTING; i++) {
            departing.add(send(100.0f + i));
        }
        awaitQueueDepth(DEPARTING);
        CompletableFuture<Reply> staying = postAsync(2.0f);
        awaitQueueDepth(DEPARTING + 1);
        for (Socket socket : departing) {
            socket.close();
        }

        // The watcher notices the closed connections on its own schedule: poll the counter.
        for (int i = 0; i < 3000 && cancelled() < DEPARTING; i++) {
            Thread.sleep(10);
        }
        assertThat(cancelled()).isEqualTo(DEPARTING);
        assertThat(staying).isNotDone();

        runtime.open("slow");
        assertThat(running.get().status()).isEqualTo(200);
        Reply stayed = staying.get();
        assertThat(stayed.status()).as(stayed.body()).isEqualTo(200);
        assertThat(runtime.runs("slow")).extracting(GatedRuntime.Run::firstValue).containsExactly(1.0, 2.0);
        assertThat(server.post("/v2/models/slow/infer", iris(3.0f)).status()).isEqualTo(200);
        assertThat(slow().queueDepth()).isZero();
    }
}
