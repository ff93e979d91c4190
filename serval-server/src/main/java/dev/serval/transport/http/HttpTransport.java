package dev.serval.transport.http;

import dev.serval.api.ServalException;
import dev.serval.api.ServerMetadata;
import dev.serval.metrics.ServalMetrics;
import dev.serval.model.ModelRegistry;
import dev.serval.transport.BodyArrays;
import dev.serval.transport.BodyBudget;
import dev.serval.transport.EventIngest;
import dev.serval.transport.RequestGate;
import io.helidon.common.tls.Tls;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.http.Headers;
import io.helidon.http.Method;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.http1.Http1Config;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.BooleanSupplier;

/**
 * The REST transport: Helidon's WebServer (a virtual thread per request, HTTP/1.1 and HTTP/2)
 * serving {@link RestApi}.
 *
 * <p>Inference and repository changes pass through the server's {@link RequestGate}: once it
 * closes they are answered 503 (with {@code Retry-After}), and the listener stops only after the
 * admitted ones were answered.
 *
 * <p>A request waiting for a model whose client closes its connection is given up and dropped
 * from the model's queue ({@link ClientDepartures}).
 *
 * <p>Thread-safe; {@link #start()} once, {@link #close()} once.
 */
public final class HttpTransport implements AutoCloseable {
    /** The gate's pass of the request this thread handles, for the error handler. */
    private static final ThreadLocal<RequestGate.Pass> PASS = new ThreadLocal<>();
    /**
     * Unread body bytes up to which a failed request's connection is kept (Helidon drains them):
     * reading a quarter of a megabyte costs well under a millisecond, while closing risks the client
     * missing the answer (below), so only bodies larger than this are cut off.
     */
    static final long DRAIN_LIMIT = 256 * 1024;

    private final WebServer server;
    private final ClientDepartures departures;
    private final String host;
    private final int requestedPort;

    /**
     * @param host            the address to bind, e.g. {@code 127.0.0.1}
     * @param port            the port, or 0 for any free one
     * @param tls             TLS settings, or empty for plain HTTP
     * @param bodies          limits on request bodies (413 and 429 beyond them)
     * @param arrays          reusable arrays for large bodies, shared with the other transports
     * @param gate            admits inference and repository changes until the server shuts down
     * @param events          records the batches of {@code POST /v2/events} ({@link EventsApi})
     */
    public HttpTransport(ModelRegistry registry, ServalMetrics metrics, ServerMetadata metadata, BooleanSupplier ready,
                         AccessControl access, String host, int port, Optional<Tls> tls, BodyBudget bodies,
                         BodyArrays arrays, RequestGate gate, EventIngest events) {
        this.departures = new ClientDepartures();
        RestApi api = new RestApi(registry, metrics, metadata, ready, access, bodies, arrays, departures);
        this.host = host;
        this.requestedPort = port;
        WebServerConfig.Builder builder = WebServer.builder()
                .host(host)
                .port(port)
                .shutdownHook(false)
                // Nagle's algorithm holds back the tail of a response until the client ACKs, and
                // clients delay ACKs: measured at 44 ms per request for a 12 KB answer (BENCHMARKS.md).
                .connectionOptions(socket -> socket.tcpNoDelay(true))
                // Helidon checks every answer's header names and values before writing them; ours are
                // constants (content type, lengths, Connection), and the check was 2-3% of the Java
                // samples of iris over JSON. Requests' headers are still validated.
                .addProtocol(Http1Config.builder().validateResponseHeaders(false).build())
                .routing(routing -> {
                    routing.addFilter((chain, req, res) -> gated(gate, chain, req, res));
                    api.inferenceRoutes(routing);
                    routing.register(new EventsApi(events, access, bodies, arrays)) // before api's catch-all 404
                            .register(api)
                            .error(ServalException.class, (req, res, error) -> answer(req, res, abandonedOr(error)))
                            .error(Throwable.class, (req, res, error) -> HttpErrors.sendUnexpected(res, error));
                });
        tls.ifPresent(builder::tls);
        this.server = builder.build();
    }

    /**
     * Inference and repository changes (POST, but for the read-only repository index) hold a pass
     * of the gate until their answer is written, or are refused once it is closed. Any request
     * answered with {@code Connection: close} ({@link #answer}) has its connection closed here.
     */
    private static void gated(RequestGate gate, FilterChain chain, RoutingRequest req, RoutingResponse res) {
        String path = req.prologue().uriPath().path();
        if (!Method.POST.equals(req.prologue().method()) || path.equals("/v2/repository/index")) {
            chain.proceed();
        } else {
            admitted(gate, chain, req, res);
        }
        if (res.isSent() && saysClose(res.headers())) {
            // Helidon 4.5 keeps a connection open after a response that says Connection: close
            // (and would drain the body to read the next request): this ends it.
            throw new CloseConnectionException("answered " + res.status().code() + " with Connection: close");
        }
    }

    /**
     * Whether an answer's headers say {@code Connection: close}. Nearly every answer carries
     * Helidon's own {@code Connection: keep-alive}, recognised here by two lookups: containsToken
     * alone streams and tokenizes the header's values (3% of the Java samples of iris over JSON).
     */
    private static boolean saysClose(Headers headers) {
        return headers.contains(HeaderNames.CONNECTION) && !headers.contains(HeaderValues.CONNECTION_KEEP_ALIVE)
                && headers.containsToken(HeaderValues.CONNECTION_CLOSE);
    }

    private static void admitted(RequestGate gate, FilterChain chain, RoutingRequest req, RoutingResponse res) {
        RequestGate.Pass pass = gate.tryEnter();
        if (pass == null) {
            answer(req, res, RequestGate.refusal());
            return;
        }
        try (pass) {
            PASS.set(pass);
            pass.bind();
            try {
                chain.proceed();
            } finally {
                pass.unbind();
                PASS.remove();
            }
        }
    }

    /**
     * Answers a failed request (the routing's error handler, and refusals by the gate). When more
     * than {@value #DRAIN_LIMIT} bytes of its body (or a chunked body of unknown length) were not
     * read, typically a refusal (429 full queue, 503 shutting down, 413 too large) decided before
     * the body was read, the answer says {@code Connection: close}, and {@link #gated} closes the
     * connection after it.
     *
     * <p>Design note: otherwise Helidon reads the unread body off the connection to reuse it
     * ({@code Http1Connection.consumeEntity}), and under overload the server spends its cores
     * draining megabytes it refused. Closing a socket with unread bytes sends a reset, but on Linux
     * a client still reads the answer that arrived before it: a client that reads while it sends,
     * or after its write failed, gets the 429 with its JSON error (RefusedBodiesTest); only a
     * client that gives up at the failed write without reading misses it. The JDK's HttpClient is
     * sometimes such a client: with a 64 KB limit it once got a reset instead of the 413 for a
     * 65 KB body (BadInputTest, one CI run in five), hence the larger {@link #DRAIN_LIMIT}. HTTP/2 streams are left
     * to Helidon: closing the connection would end the client's other streams.
     */
    private static void answer(ServerRequest req, ServerResponse res, ServalException error) {
        if (!res.isSent() && req.prologue().protocolVersion().startsWith("1") && largeBodyUnread(req)) {
            res.header(HeaderValues.CONNECTION_CLOSE);
        }
        HttpErrors.send(res, error);
    }

    private static boolean largeBodyUnread(ServerRequest req) {
        if (req.content().consumed()) {
            return false;
        }
        OptionalLong length = req.headers().contentLength();
        return length.isPresent() ? length.getAsLong() > DRAIN_LIMIT : req.headers().contains(HeaderNames.TRANSFER_ENCODING);
    }

    /**
     * A request the shutdown gave up on (its thread was interrupted out of its wait for the model)
     * is answered {@link RequestGate#timedOut()}. The interrupt has done its work by then and is
     * cleared: a virtual thread that writes to a socket with its interrupt flag set may close the
     * socket instead of writing the answer.
     */
    private static ServalException abandonedOr(ServalException error) {
        RequestGate.Pass pass = PASS.get();
        if (pass != null && pass.isAbandoned()) {
            pass.unbind();
            Thread.interrupted();
            return RequestGate.timedOut();
        }
        return error;
    }

    /**
     * Starts listening.
     *
     * @throws IllegalStateException if the address cannot be bound (e.g. the port is in use):
     *                               Helidon only logs that and leaves a server without a port
     */
    public HttpTransport start() {
        server.start();
        if (server.port() < 0) {
            server.stop();
            departures.close();
            throw new IllegalStateException("cannot listen on " + host + ":" + requestedPort
                    + " for HTTP: the address is in use or not this machine's (see the log above)");
        }
        return this;
    }

    /** The bound port (useful when 0 was asked for). */
    public int port() {
        return server.port();
    }

    /** Stops listening; requests still being handled get a short grace period (Helidon's, 0.5 s). */
    @Override
    public void close() {
        server.stop();
        departures.close();
    }
}
