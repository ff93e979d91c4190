package dev.serval.transport.http;

import dev.serval.api.ServalException;
import dev.serval.api.ServerMetadata;
import dev.serval.metrics.ServalMetrics;
import dev.serval.model.ModelRegistry;
import dev.serval.transport.BodyArrays;
import io.helidon.common.tls.Tls;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The REST transport: Helidon's WebServer (a virtual thread per request, HTTP/1.1 and HTTP/2)
 * serving {@link RestApi}.
 *
 * <p>Thread-safe; {@link #start()} once, {@link #close()} once.
 */
public final class HttpTransport implements AutoCloseable {
    private final WebServer server;

    /**
     * @param host            the address to bind, e.g. {@code 127.0.0.1}
     * @param port            the port, or 0 for any free one
     * @param tls             TLS settings, or empty for plain HTTP
     * @param bodies          limits on request bodies (413 and 429 beyond them)
     * @param arrays          reusable arrays for large bodies, shared with the other transports
     */
    public HttpTransport(ModelRegistry registry, ServalMetrics metrics, ServerMetadata metadata, BooleanSupplier ready,
                         AccessControl access, String host, int port, Optional<Tls> tls, BodyBudget bodies,
                         BodyArrays arrays) {
        RestApi api = new RestApi(registry, metrics, metadata, ready, access, bodies, arrays);
        WebServerConfig.Builder builder = WebServer.builder()
                .host(host)
                .port(port)
                .shutdownHook(false)
                // Nagle's algorithm holds back the tail of a response until the client ACKs, and
                // clients delay ACKs: measured at 44 ms per request for a 12 KB answer (BENCHMARKS.md).
                .connectionOptions(socket -> socket.tcpNoDelay(true))
                .routing(routing -> routing
                        .register(api)
                        .error(ServalException.class, (req, res, error) -> HttpErrors.send(res, error))
                        .error(Throwable.class, (req, res, error) -> HttpErrors.sendUnexpected(res, error)));
        tls.ifPresent(builder::tls);
        this.server = builder.build();
    }

    public HttpTransport start() {
        server.start();
        return this;
    }

    /** The bound port (useful when 0 was asked for). */
    public int port() {
        return server.port();
    }

    @Override
    public void close() {
        server.stop();
    }
}
