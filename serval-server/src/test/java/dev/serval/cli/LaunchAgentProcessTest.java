package dev.serval.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.testing.Examples;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launch agent in a server process of its own ({@code -javaagent}, the way the jar's
 * {@code Launcher-Agent-Class} starts it under {@code java -jar}): Helidon's connection reader is
 * changed ({@link dev.serval.transport.http.ReaderNodes}), and requests whose bodies span many
 * socket reads, one after another on one keep-alive connection, get their own answers.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class LaunchAgentProcessTest {
    private static final String SETOSA = "[5.1, 3.5, 1.4, 0.2]";
    private static final String VIRGINICA = "[6.7, 3.0, 5.8, 2.2]";

    @TempDir
    Path work;

    private ServeProcess serve;

    @AfterEach
    void kill() throws InterruptedException {
        if (serve != null) {
            serve.close();
        }
    }

    @Test
    void agent_changesTheReader_andLongBodiesOnOneConnectionGetTheirOwnAnswers() throws Exception {
        serve = start(List.of());
        assertThat(serve.output()).contains("connection reader's chunk unlinking: applied");

        try (Socket socket = new Socket("127.0.0.1", serve.port())) {
            socket.setSoTimeout(30_000);
            String setosa = null;
            String virginica = null;
            for (int i = 0; i < 40; i++) {
                boolean even = i % 2 == 0;
                // Padding of up to 60 KB: each body spans several of the reader's 8 KB socket reads.
                String answer = infer(socket, even ? SETOSA : VIRGINICA, 1_000 + 1_500 * i);
                if (i < 2) {
                    if (even) {
                        setosa = answer;
                    } else {
                        virginica = answer;
                    }
                } else {
                    assertThat(answer).as("request %d", i).isEqualTo(even ? setosa : virginica);
                }
            }
            assertThat(setosa).isNotEqualTo(virginica);
        }
    }

    @Test
    void agent_isOffWhenAskedTo() throws Exception {
        serve = start(List.of("serval.reader_patch=false"));

        assertThat(serve.output()).contains("connection reader's chunk unlinking: off (-Dserval.reader_patch=false)");
    }

    private ServeProcess start(List<String> properties) throws Exception {
        return ServeProcess.start(List.of("-javaagent:" + agentJar()), properties,
                List.of("--model-repository", Examples.repository().toString(), "--http-port", "0",
                        "--grpc-port", "-1", "--threads", "1", "--features-dir", work.resolve("features").toString()),
                Duration.ofSeconds(90));
    }

    /** A jar holding only a manifest that names the agent; its class comes from the class path. */
    private Path agentJar() throws IOException {
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().putValue("Premain-Class", LaunchAgent.class.getName());
        Path jar = work.resolve("agent.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), manifest)) {
            out.flush();
        }
        return jar;
    }

    /** One iris request with {@code padding} spaces inside its JSON; returns the response's body. */
    private static String infer(Socket socket, String features, int padding) throws IOException {
        byte[] body = ("{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": "
                + features + "}]" + " ".repeat(padding) + "}").getBytes(StandardCharsets.US_ASCII);
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        InputStream in = socket.getInputStream();
        assertThat(line(in)).isEqualTo("HTTP/1.1 200 OK");
        int length = -1;
        for (String header; !(header = line(in)).isEmpty(); ) {
            if (header.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                length = Integer.parseInt(header.substring(15).trim());
            }
        }
        assertThat(length).as("the response's Content-Length").isPositive();
        return new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b; (b = in.read()) != '\n'; ) {
            assertThat(b).as("the connection stays open").isNotNegative();
            line.write(b);
        }
        return line.toString(StandardCharsets.US_ASCII).stripTrailing();
    }
}
