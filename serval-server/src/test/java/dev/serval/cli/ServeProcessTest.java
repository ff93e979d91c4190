package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.testing.Examples;
import dev.serval.transport.RequestGate;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code serval serve} as a process of its own, stopped with SIGTERM ({@link ProcessHandle#destroy()})
 * while clients load it: every request it accepted gets its answer, requests after the signal are
 * refused with 503 (or find the port closed once it has stopped), and the process exits by itself.
 *
 * <p>Requests are known to be accepted without sleeping: each is sent with {@code Expect:
 * 100-continue} and its body held back; the server answers "100 Continue" only once the inference
 * handler reads the body, that is after the request passed the shutdown gate.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ServeProcessTest {
    private static final Logger log = LoggerFactory.getLogger(ServeProcessTest.class);
    private static final String BODY = """
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}""";

    private ServeProcess serve;

    @TempDir
    Path features;

    @AfterEach
    void kill() throws InterruptedException {
        if (serve != null) {
            serve.close();
        }
    }

    /** A request whose headers were sent and whose body waits until {@link #finish()}. */
    private record HeldRequest(Socket socket, InputStream in) {
        static HeldRequest open(int port) throws IOException {
            Socket socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(60_000);
            byte[] body = BODY.getBytes(StandardCharsets.UTF_8);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n"
                    + "Expect: 100-continue\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String status = readLine(in);
            assertThat(status).as("the server reads the body: the request passed the gate").isEqualTo("HTTP/1.1 100 Continue");
            assertThat(readLine(in)).isEmpty();
            return new HeldRequest(socket, in);
        }

        /** Sends the body and returns the response: status line, headers and body. */
        String finish() throws IOException {
            socket.getOutputStream().write(BODY.getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
            StringBuilder response = new StringBuilder();
            String line;
            int length = 0;
            while (!(line = readLine(in)).isEmpty()) {
                response.append(line).append('\n');
                if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                    length = Integer.parseInt(line.substring(15).trim());
                }
            }
            response.append('\n').append(new String(in.readNBytes(length), StandardCharsets.UTF_8));
            socket.close();
            return response.toString();
        }

        private static String readLine(InputStream in) throws IOException {
            StringBuilder line = new StringBuilder();
            for (int b; (b = in.read()) != '\n'; ) {
                if (b < 0) {
                    throw new IOException("the connection closed after \"" + line + "\"");
                }
                if (b != '\r') {
                    line.append((char) b);
                }
            }
            return line.toString();
        }
    }

    @Test
    void sigterm_underLoad_answersEveryAcceptedRequest_refusesTheRest_andExits() throws Exception {
        serve = ServeProcess.start(List.of(), List.of("--model-repository", Examples.repository().toString(),
                "--http-port", "0", "--grpc-port", "-1", "--threads", "1", "--shutdown-timeout-secs", "60",
                "--features-dir", features.toString()), Duration.ofSeconds(90));
        Process process = serve.process();
        int port = serve.port();
        URI infer = URI.create("http://127.0.0.1:" + port + "/v2/models/iris/infer");
        URI ready = URI.create("http://127.0.0.1:" + port + "/v2/health/ready");
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

        // Load: clients posting back to back until the port closes. Outcomes by kind.
        AtomicBoolean signalled = new AtomicBoolean();
        Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
        List<String> unexpected = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> clients = new ArrayList<>();
        CountDownLatch loaded = new CountDownLatch(4 * 20);
        for (int c = 0; c < 4; c++) {
            clients.add(Thread.ofVirtual().start(() -> {
                while (true) {
                    boolean after = signalled.get();
                    try {
                        HttpResponse<String> response = client.send(HttpRequest.newBuilder(infer)
                                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(BODY)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        if (response.statusCode() == 200 && response.body().contains("\"probabilities\"")) {
                            outcomes.computeIfAbsent("200", k -> new AtomicInteger()).incrementAndGet();
                        } else if (response.statusCode() == 503 && response.body().contains(RequestGate.SHUTTING_DOWN)) {
                            outcomes.computeIfAbsent("503 shutting down", k -> new AtomicInteger()).incrementAndGet();
                        } else {
                            unexpected.add(response.statusCode() + " " + response.body());
                        }
                        loaded.countDown();
                    } catch (IOException e) {
                        // Only once the server stops: a refused connection, or one it closed idle.
                        if (!after) {
                            unexpected.add("before the signal: " + e);
                        }
                        outcomes.computeIfAbsent("connection failed after the signal", k -> new AtomicInteger()).incrementAndGet();
                        return;
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }));
        }
        assertThat(loaded.await(60, TimeUnit.SECONDS)).as("the load is running").isTrue();
        List<HeldRequest> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            held.add(HeldRequest.open(port));
        }

        long signalledAt = System.nanoTime();
        signalled.set(true);
        // SIGTERM. Through the handle: Process.destroy() also closes our end of the process's output.
        assertThat(process.toHandle().destroy()).isTrue();

        // Readiness goes false and new requests are refused while the accepted ones are still open.
        int readyStatus = 0;
        for (int i = 0; i < 3000 && readyStatus != 503; i++) {
            readyStatus = client.send(HttpRequest.newBuilder(ready).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
            if (readyStatus != 503) {
                Thread.sleep(10);
            }
        }
        assertThat(readyStatus).isEqualTo(503);
        HttpResponse<String> refused = client.send(HttpRequest.newBuilder(infer)
                .POST(HttpRequest.BodyPublishers.ofString(BODY)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.body()).contains(RequestGate.SHUTTING_DOWN);
        assertThat(process.isAlive()).as("the server waits for the accepted requests").isTrue();

        for (HeldRequest request : held) {
            String response = request.finish();
            assertThat(response).startsWith("HTTP/1.1 200").contains("\"probabilities\"");
        }
        assertThat(serve.awaitExit(Duration.ofSeconds(90))).as("the process exits by itself: %s", serve.output()).isTrue();
        long exitMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalledAt);
        for (Thread thread : clients) {
            thread.join(Duration.ofSeconds(60));
        }
        log.info("SIGTERM under load: exit status {} {} ms after the signal; client outcomes {}",
                process.exitValue(), exitMillis, outcomes);

        assertThat(process.exitValue()).as("the JVM's status for SIGTERM").isEqualTo(143);
        assertThat(unexpected).isEmpty();
        assertThat(outcomes.get("200").get()).isGreaterThan(0);
        assertThat(serve.output())
                .contains("shutting down: readiness is false")
                .contains("every request admitted before the shutdown was answered")
                .contains("Serval stopped");
    }
}
