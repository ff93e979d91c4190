package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.server.ServerOptions;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests refused before their body was read (429 full queue, 413 too large, 503 shutting down)
 * with more than {@value HttpTransport#DRAIN_LIMIT} bytes of body: the answer says
 * {@code Connection: close} and the server closes the connection instead of reading the body off
 * it; the client, over a raw socket, still reads the status and the JSON error. Smaller bodies are
 * read off and the connection serves on.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class RefusedBodiesTest {
    private static final int BIG = 4 * 1024 * 1024;
    private static final Pattern CONTENT_LENGTH = Pattern.compile("(?im)^content-length: *([0-9]+)");

    @TempDir
    Path repository;
    private final GatedRuntime runtime = new GatedRuntime();
    private TestServer server;

    private void start(ServerOptions options) throws IOException {
        Files.createDirectories(repository.resolve("tiny/1"));
        Files.copy(Examples.repository().resolve("iris/1/model.onnx"), repository.resolve("tiny/1/model.onnx"));
        Files.writeString(repository.resolve("tiny/config.yaml"),
                "max_batch_size: 0\ndynamic_batching:\n  max_queue_size: 1\ninstance_group:\n  count: 1\n");
        server = TestServer.start(options.withMaxRequestBytes(16L * 1024 * 1024), runtime);
    }

    @AfterEach
    void stop() {
        runtime.open("tiny");
        if (server != null) {
            server.close();
        }
    }

    private static String iris(float tag) {
        return String.format(Locale.ROOT, """
                {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [%s, 3.0, 1.5, 1.2]}]}""",
                tag);
    }

    private CompletableFuture<Reply> postAsync(float tag) {
        return CompletableFuture.supplyAsync(() -> server.post("/v2/models/tiny/infer", iris(tag)),
                command -> Thread.ofVirtual().start(command));
    }

    /** Fills the model's queue: one request in a run held at the gate, one queued. */
    private CompletableFuture<?> fillQueue() throws InterruptedException {
        runtime.close("tiny");
        CompletableFuture<Reply> running = postAsync(1.0f);
        runtime.awaitBlocked("tiny");
        CompletableFuture<Reply> queued = postAsync(2.0f);
        var tiny = server.server().registry().resolve("tiny", null);
        for (int i = 0; i < 3000 && tiny.queueDepth() != 1; i++) {
            Thread.sleep(10);
        }
        assertThat(tiny.queueDepth()).isEqualTo(1);
        return CompletableFuture.allOf(running, queued);
    }

    /** One answer read off a raw socket. */
    record Answer(String head, String body) {
        int status() {
            return Integer.parseInt(head.substring(9, 12));
        }

        boolean closes() {
            return head.toLowerCase(Locale.ROOT).contains("\r\nconnection: close\r\n");
        }
    }

    /** Sends a request head, then {@code body} from another thread while this one reads the answer. */
    private static Answer exchange(Socket socket, String path, int bodyLength) throws Exception {
        OutputStream out = socket.getOutputStream();
        out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + bodyLength + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        Thread writer = Thread.ofVirtual().start(() -> {
            byte[] chunk = new byte[64 * 1024];
            Arrays.fill(chunk, (byte) ' ');
            try {
                for (int sent = 0; sent < bodyLength; sent += chunk.length) {
                    out.write(chunk, 0, Math.min(chunk.length, bodyLength - sent));
                }
                out.flush();
            } catch (IOException expected) {
                // the server closed the connection without reading the rest: the answer was read meanwhile
            }
        });
        Answer answer = read(socket.getInputStream());
        writer.join(Duration.ofSeconds(30));
        return answer;
    }

    private static Answer read(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the connection ended within the answer's head: " + head);
            }
            head.write(b);
        }
        String text = head.toString(StandardCharsets.US_ASCII);
        Matcher length = CONTENT_LENGTH.matcher(text);
        assertThat(length.find()).as(text).isTrue();
        byte[] body = in.readNBytes(Integer.parseInt(length.group(1)));
        return new Answer(text, new String(body, StandardCharsets.UTF_8));
    }

    /** True when the server closed the connection: end of stream or a reset. */
    private static boolean closedByServer(Socket socket) throws IOException {
        socket.setSoTimeout(30_000);
        try {
            return socket.getInputStream().read() < 0;
        } catch (SocketException reset) {
            return true;
        }
    }

    @Test
    void fullQueue_bigBody_is429WithItsErrorThenClosed() throws Exception {
        start(ServerOptions.defaults(repository));
        CompletableFuture<?> held = fillQueue();
        try (Socket socket = new Socket("127.0.0.1", server.uri("/").getPort())) {
            Answer answer = exchange(socket, "/v2/models/tiny/infer", BIG);
            assertThat(answer.status()).as(answer.head()).isEqualTo(429);
            assertThat(answer.closes()).as(answer.head()).isTrue();
            assertThat(answer.head().toLowerCase(Locale.ROOT)).contains("retry-after: 1");
            assertThat(answer.body()).contains("\"error\"").contains("max_queue_size");
            assertThat(closedByServer(socket)).isTrue();
        }
        runtime.open("tiny");
        held.get();
        assertThat(server.post("/v2/models/tiny/infer", iris(3.0f)).status()).isEqualTo(200);
    }

    @Test
    void fullQueue_smallBody_is429AndTheConnectionServesOn() throws Exception {
        start(ServerOptions.defaults(repository));
        CompletableFuture<?> held = fillQueue();
        try (Socket socket = new Socket("127.0.0.1", server.uri("/").getPort())) {
            Answer answer = exchange(socket, "/v2/models/tiny/infer", 16 * 1024);
            assertThat(answer.status()).as(answer.head()).isEqualTo(429);
            assertThat(answer.closes()).as(answer.head()).isFalse();

            socket.getOutputStream().write("GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            Answer next = read(socket.getInputStream());
            assertThat(next.status()).isEqualTo(200);
            assertThat(next.body()).contains("\"live\":true");
        }
        runtime.open("tiny");
        held.get();
    }

    @Test
    void tooLarge_inferenceAndEvents_are413WithTheirErrorThenClosed() throws Exception {
        start(ServerOptions.defaults(repository));
        for (String path : new String[] {"/v2/models/tiny/infer", "/v2/events"}) {
            try (Socket socket = new Socket("127.0.0.1", server.uri("/").getPort())) {
                Answer answer = exchange(socket, path, 20 * 1024 * 1024);
                assertThat(answer.status()).as(path + ": " + answer.head()).isEqualTo(413);
                assertThat(answer.closes()).as(answer.head()).isTrue();
                assertThat(answer.body()).contains("--max-request-size");
                assertThat(closedByServer(socket)).isTrue();
            }
        }
        assertThat(server.post("/v2/models/tiny/infer", iris(3.0f)).status()).isEqualTo(200);
    }

    @Test
    void repositoryIndex_bigBody_is400WithItsErrorThenClosed() throws Exception {
        start(ServerOptions.defaults(repository));
        try (Socket socket = new Socket("127.0.0.1", server.uri("/").getPort())) {
            Answer answer = exchange(socket, "/v2/repository/index", BIG);
            assertThat(answer.status()).as(answer.head()).isEqualTo(400);
            assertThat(answer.closes()).as(answer.head()).isTrue();
            assertThat(answer.body()).contains("repository index request body");
            assertThat(closedByServer(socket)).isTrue();
        }
    }

    @Test
    void shuttingDown_bigBody_is503WithItsErrorThenClosed() throws Exception {
        start(ServerOptions.defaults(repository));
        runtime.close("tiny");
        CompletableFuture<Reply> running = postAsync(1.0f);
        runtime.awaitBlocked("tiny");
        CompletableFuture<Boolean> shutdown = CompletableFuture.supplyAsync(
                () -> server.server().shutdown(Duration.ofSeconds(60)), command -> Thread.ofVirtual().start(command));
        for (int i = 0; i < 3000 && server.server().isAcceptingRequests(); i++) {
            Thread.sleep(10);
        }
        assertThat(server.server().isAcceptingRequests()).isFalse();
        try (Socket socket = new Socket("127.0.0.1", server.uri("/").getPort())) {
            Answer answer = exchange(socket, "/v2/models/tiny/infer", BIG);
            assertThat(answer.status()).as(answer.head()).isEqualTo(503);
            assertThat(answer.closes()).as(answer.head()).isTrue();
            assertThat(answer.body()).contains("shutting down");
            assertThat(closedByServer(socket)).isTrue();
        }
        runtime.open("tiny");
        assertThat(running.get().status()).isEqualTo(200);
        assertThat(shutdown.get()).isTrue();
    }
}
