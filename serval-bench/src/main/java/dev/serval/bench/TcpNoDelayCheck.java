package dev.serval.bench;

import io.helidon.common.socket.SocketOptions;
import io.helidon.webserver.WebServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Two Helidon WebServers, as Serval builds its own (HttpTransport: defaults but host and port),
 * differing only in TCP_NODELAY: one keeps Helidon's default (off: Nagle's algorithm on), one
 * turns it on. Each reads a POSTed body whole and answers {@code --response-bytes} bytes of JSON.
 * bench/tcp-nodelay-check.sh drives them with hey.
 *
 * <p>Design note: Helidon writes a response larger than its 8 KiB buffer in two writes. With Nagle
 * on, the second, short write waits for the client to acknowledge the first, and a keep-alive
 * client delays that acknowledgement (Linux: up to 40 ms). Serval's MobileNet answer (1,000
 * logits, about 12 KB) is such a response; iris's (about 230 bytes) is not.
 */
@Command(name = "tcp-nodelay-check", mixinStandardHelpOptions = true,
        description = "Serves POST /infer on two ports: Helidon's default socket options, and TCP_NODELAY on.")
public final class TcpNoDelayCheck implements Callable<Integer> {
    @Option(names = "--default-port", defaultValue = "18010", description = "Port with Helidon's defaults (TCP_NODELAY off).")
    int defaultPort;

    @Option(names = "--nodelay-port", defaultValue = "18011", description = "Port with TCP_NODELAY on.")
    int noDelayPort;

    @Option(names = "--response-bytes", defaultValue = "11898",
            description = "Size of the answer. Default: ${DEFAULT-VALUE} (Serval's MobileNetV2 answer).")
    int responseBytes;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TcpNoDelayCheck()).execute(args));
    }

    @Override
    public Integer call() throws InterruptedException {
        byte[] answer = new byte[responseBytes];
        Arrays.fill(answer, (byte) '0');
        answer[0] = '[';
        answer[answer.length - 1] = ']';
        start(defaultPort, null, answer);
        start(noDelayPort, true, answer);
        System.err.printf("tcp-nodelay-check: default on %d, TCP_NODELAY on %d, answers %d bytes%n",
                defaultPort, noDelayPort, responseBytes);
        Thread.currentThread().join();
        return 0;
    }

    private static void start(int port, Boolean noDelay, byte[] answer) {
        var builder = WebServer.builder().host("127.0.0.1").port(port).shutdownHook(false);
        if (noDelay != null) {
            builder.connectionOptions(SocketOptions.builder().tcpNoDelay(noDelay).build());
        }
        builder.routing(routing -> routing.post("/infer", (req, res) -> {
            try (InputStream in = req.content().inputStream()) {
                in.transferTo(OutputStream.nullOutputStream());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            res.header("Content-Type", "application/json");
            res.send(answer);
        })).build().start();
    }
}
