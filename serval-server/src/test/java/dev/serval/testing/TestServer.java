package dev.serval.testing;

import dev.serval.features.FeatureStore;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.server.ServalServer;
import dev.serval.server.ServerOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A real Serval listening on a free loopback port, with a plain JDK HTTP client pointed at it.
 * Tests talk to it over sockets exactly as users do. gRPC listens on a free port of its own too
 * (unless the options turn it off): {@link #grpcPort()}. Model pipelines look features up in an
 * {@link InMemoryFeatureStore} of its own, so the bundled fraud model loads with the others.
 */
public final class TestServer implements AutoCloseable {
    private final ServalServer server;
    private final HttpClient client;
    private final String base;

    private TestServer(ServalServer server, HttpClient client, String scheme) {
        this.server = server;
        this.client = client;
        this.base = scheme + "://127.0.0.1:" + server.httpPort();
    }

    /** Serves {@code repository} with default options on a free port. */
    public static TestServer start(Path repository) {
        return start(ServerOptions.defaults(repository).withHttpPort(0));
    }

    public static TestServer start(ServerOptions options) {
        return start(options, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build());
    }

    public static TestServer start(ServerOptions options, HttpClient client) {
        ServalServer server = ServalServer.start(freePorts(options), new OnnxBackend(), new InMemoryFeatureStore());
        return new TestServer(server, client, options.tlsKey().isPresent() ? "https" : "http");
    }

    /** Serves {@code repository} on a runtime the test controls. */
    public static TestServer start(Path repository, dev.serval.runtime.ModelRuntime runtime) {
        return start(ServerOptions.defaults(repository), runtime);
    }

    /** Serves with {@code options} on a runtime the test controls. */
    public static TestServer start(ServerOptions options, dev.serval.runtime.ModelRuntime runtime) {
        ServalServer server = ServalServer.start(freePorts(options), runtime, new InMemoryFeatureStore());
        return new TestServer(server, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build(), "http");
    }

    /** Serves with {@code options}, recording events in {@code features}; the caller closes the store. */
    public static TestServer start(ServerOptions options, FeatureStore features) {
        ServalServer server = ServalServer.start(freePorts(options), new OnnxBackend(), features);
        return new TestServer(server, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build(), "http");
    }

    /**
     * Serves with {@code options} and no feature store: pipeline models that look features up stay
     * unavailable, and the event calls answer 501 / UNIMPLEMENTED.
     */
    public static TestServer startWithoutFeatureStore(ServerOptions options) {
        ServalServer server = ServalServer.start(freePorts(options), new OnnxBackend());
        return new TestServer(server, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build(), "http");
    }

    /** Any free port for each transport, so tests can run in parallel; gRPC stays off if it was. */
    private static ServerOptions freePorts(ServerOptions options) {
        return options.withHttpPort(0).withGrpcPort(options.grpcEnabled() ? 0 : ServerOptions.GRPC_OFF);
    }

    /** The port gRPC listens on (on 127.0.0.1). */
    public int grpcPort() {
        return server.grpcPort();
    }

    public ServalServer server() {
        return server;
    }

    public URI uri(String path) {
        return URI.create(base + path);
    }

    public Reply get(String path, String... headers) {
        return send(request(path, headers).GET().build());
    }

    public Reply post(String path, String body, String... headers) {
        return send(request(path, headers)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    public Reply post(String path, byte[] body, String... headers) {
        return send(request(path, headers)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
    }

    private HttpRequest.Builder request(String path, String... headers) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60));
        if (headers.length > 0) {
            builder.headers(headers);
        }
        return builder;
    }

    public Reply send(HttpRequest request) {
        try {
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            return new Reply(response.statusCode(), response.body(), response.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
