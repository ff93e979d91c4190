package dev.serval.client;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A client for a server that speaks the Open Inference Protocol (Serval, Triton, KServe), over
 * REST with JSON tensors, REST with the binary tensor extension, or gRPC: the same calls, requests
 * and results on every wire.
 *
 * <pre>{@code
 * try (ServalClient client = ServalClient.rest(URI.create("http://127.0.0.1:8000"))) {
 *     InferResult result = client.infer(InferRequest.builder("iris")
 *             .input(InferInput.fp32("input", new long[] {1, 4}, new float[] {5.1f, 3.5f, 1.4f, 0.2f}))
 *             .build());
 *     float[] probabilities = result.output("probabilities").toFloatArray();
 * }
 * }</pre>
 *
 * <p>Thread-safe: one client is meant to be shared by every thread of an application (it holds a
 * connection pool or a gRPC channel). Immutable once built. Every call is bounded by a timeout, the
 * client's default or the one given to the call, and every failure is a
 * {@link ServalClientException} whose {@link ServalClientException#status() status} is the same
 * whatever the wire. {@link #close()} releases the connections; calls after it throw
 * {@link IllegalStateException}.
 */
public final class ServalClient implements AutoCloseable {
    private final Protocol protocol;
    private final Transport transport;
    private final Duration timeout;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ServalClient(Protocol protocol, Transport transport, Duration timeout) {
        this.protocol = protocol;
        this.transport = transport;
        this.timeout = timeout;
    }

    /** REST with JSON tensors at {@code endpoint} (e.g. {@code http://127.0.0.1:8000}), default settings. */
    public static ServalClient rest(URI endpoint) {
        return builder().endpoint(endpoint).protocol(Protocol.REST_JSON).build();
    }

    /** REST with the binary tensor data extension at {@code endpoint}, default settings. */
    public static ServalClient restBinary(URI endpoint) {
        return builder().endpoint(endpoint).protocol(Protocol.REST_BINARY).build();
    }

    /** Plaintext gRPC to {@code host:port}, default settings. */
    public static ServalClient grpc(String host, int port) {
        return builder().endpoint(URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port))
                .protocol(Protocol.GRPC).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public Protocol protocol() {
        return protocol;
    }

    /** Whether the server is live (it answers at all). */
    public boolean live() {
        return transport().live(timeout);
    }

    /** Whether the server is ready to infer; false when it says it is not. */
    public boolean ready() {
        return transport().ready(timeout);
    }

    public ServerMetadata serverMetadata() {
        return transport().serverMetadata(timeout);
    }

    /** The metadata of the version of {@code model} the server would choose. */
    public ModelMetadata modelMetadata(String model) {
        return modelMetadata(model, null);
    }

    /** The metadata of one version of {@code model} ({@code version} null: the server's choice). */
    public ModelMetadata modelMetadata(String model, String version) {
        return transport().modelMetadata(Objects.requireNonNull(model, "model"), version, timeout);
    }

    /** Whether {@code model} (the version the server would choose) is ready; NOT_FOUND if unknown. */
    public boolean modelReady(String model) {
        return modelReady(model, null);
    }

    /** Whether one version of {@code model} is ready ({@code version} null: the server's choice). */
    public boolean modelReady(String model, String version) {
        return transport().modelReady(Objects.requireNonNull(model, "model"), version, timeout);
    }

    /**
     * Runs one inference, bounded by the client's timeout.
     *
     * @throws ServalClientException when the server refuses or fails it, the timeout passes, the
     *                               server cannot be reached, or its answer is malformed
     */
    public InferResult infer(InferRequest request) {
        return infer(request, timeout);
    }

    /** {@link #infer(InferRequest)} bounded by {@code timeout} instead of the client's default. */
    public InferResult infer(InferRequest request, Duration timeout) {
        return transport().infer(Objects.requireNonNull(request, "request"), positive(timeout, "timeout"));
    }

    /**
     * The server's model repository index (Triton's model repository extension): every model it
     * knows, loaded or not, and each version's state with the reason, if any. A server with an
     * admin token wants it here ({@link Builder#bearerToken}).
     *
     * @throws ServalClientException UNAUTHENTICATED or PERMISSION_DENIED without the admin token,
     *                               or any failure of the call
     */
    public List<ModelIndexEntry> repositoryIndex() {
        return List.copyOf(transport().repositoryIndex(timeout));
    }

    /**
     * Loads {@code model} from the server's repository, or reloads it (Triton's model repository
     * extension), and returns once it serves. Serval does this in {@code explicit} model control
     * mode, with the admin token; a failed load leaves what served before serving.
     *
     * @throws IllegalArgumentException if {@code model} is empty
     * @throws ServalClientException    INVALID_ARGUMENT when the server refuses the name or the
     *                                  control mode, or the model failed to load (the message gives
     *                                  the reasons); NOT_FOUND when the repository has no such model;
     *                                  UNAUTHENTICATED / PERMISSION_DENIED without the admin token
     */
    public void loadModel(String model) {
        transport().loadModel(modelName(model), timeout);
    }

    /**
     * Unloads {@code model} (Triton's model repository extension): new requests are refused at
     * once, requests already running finish. Unloading a model that is not loaded does nothing.
     *
     * @throws IllegalArgumentException if {@code model} is empty
     * @throws ServalClientException    as {@link #loadModel}; NOT_FOUND for a model the server does
     *                                  not know
     */
    public void unloadModel(String model) {
        transport().unloadModel(modelName(model), timeout);
    }

    private static String modelName(String model) {
        Objects.requireNonNull(model, "model");
        if (model.isEmpty()) {
            throw new IllegalArgumentException("the model name must not be empty");
        }
        return model;
    }

    private Transport transport() {
        if (closed.get()) {
            throw new IllegalStateException("the client is closed");
        }
        return transport;
    }

    /** Closes the connections, letting calls in flight finish first (a few seconds at most for gRPC). */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            transport.close();
        }
    }

    @Override
    public String toString() {
        return "ServalClient[" + protocol + "]";
    }

    private static Duration positive(Duration duration, String what) {
        Objects.requireNonNull(duration, what);
        if (duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, was " + duration);
        }
        return duration;
    }

    /**
     * Settings for a {@link ServalClient}; only the endpoint is required. Not thread-safe; each
     * {@link #build()} makes a new client.
     */
    public static final class Builder {
        private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
        private static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
        private static final int DEFAULT_MAX_RESPONSE_BYTES = 256 << 20;

        private URI endpoint;
        private Protocol protocol = Protocol.REST_JSON;
        private String bearerToken;
        private Path trustedCertificate;
        private Duration timeout = DEFAULT_TIMEOUT;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private int maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES;

        private Builder() {
        }

        /**
         * Where the server is: {@code http://host:port} or {@code https://host:port} (TLS), for every
         * protocol. REST requests go under the endpoint's path, if it has one.
         */
        public Builder endpoint(URI endpoint) {
            Objects.requireNonNull(endpoint, "endpoint");
            if (!"http".equals(endpoint.getScheme()) && !"https".equals(endpoint.getScheme())) {
                throw new IllegalArgumentException("endpoint " + endpoint + " must start with http:// or https://");
            }
            if (endpoint.getHost() == null) {
                throw new IllegalArgumentException("endpoint " + endpoint + " names no host");
            }
            this.endpoint = endpoint;
            return this;
        }

        /** The wire; REST with JSON tensors unless set. */
        public Builder protocol(Protocol protocol) {
            this.protocol = Objects.requireNonNull(protocol, "protocol");
            return this;
        }

        /** A token sent as {@code Authorization: Bearer <token>} on every call. */
        public Builder bearerToken(String token) {
            Objects.requireNonNull(token, "token");
            if (token.isBlank()) {
                throw new IllegalArgumentException("the bearer token must not be blank");
            }
            this.bearerToken = token;
            return this;
        }

        /**
         * Trust the certificate(s) in this PEM file (e.g. a server's self-signed certificate) instead
         * of the JDK's default trust store, for an {@code https} endpoint.
         */
        public Builder trustCertificate(Path pem) {
            this.trustedCertificate = Objects.requireNonNull(pem, "pem");
            return this;
        }

        /** The default bound on every call (60 seconds unless set); {@code infer} can take its own. */
        public Builder timeout(Duration timeout) {
            this.timeout = positive(timeout, "timeout");
            return this;
        }

        /** The bound on opening a connection (10 seconds unless set); REST only, gRPC uses the call's timeout. */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = positive(timeout, "connectTimeout");
            return this;
        }

        /** The largest gRPC response accepted (256 MiB unless set); larger ones fail RESOURCE_EXHAUSTED. */
        public Builder maxResponseBytes(int bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("maxResponseBytes must be positive, was " + bytes);
            }
            this.maxResponseBytes = bytes;
            return this;
        }

        /**
         * @throws IllegalStateException    if no endpoint was set
         * @throws IllegalArgumentException if the trusted certificate cannot be read or is used
         *                                  without an https endpoint
         */
        public ServalClient build() {
            if (endpoint == null) {
                throw new IllegalStateException("set the endpoint, e.g. http://127.0.0.1:8000");
            }
            boolean tls = "https".equals(endpoint.getScheme());
            if (trustedCertificate != null && !tls) {
                throw new IllegalArgumentException("a trusted certificate needs an https:// endpoint, not " + endpoint);
            }
            Optional<byte[]> pem = Optional.ofNullable(trustedCertificate).map(Builder::read);
            Optional<String> token = Optional.ofNullable(bearerToken);
            Transport transport = switch (protocol) {
                case REST_JSON, REST_BINARY -> new RestTransport(endpoint, protocol == Protocol.REST_BINARY, token,
                        pem.map(Builder::sslContext), connectTimeout);
                case GRPC -> {
                    int port = endpoint.getPort();
                    if (port < 0) {
                        throw new IllegalArgumentException("a gRPC endpoint needs a port: " + endpoint);
                    }
                    yield new GrpcTransport(endpoint.getHost().replaceAll("^\\[|\\]$", ""), port, tls, pem, token,
                            maxResponseBytes);
                }
            };
            return new ServalClient(protocol, transport, timeout);
        }

        private static byte[] read(Path pem) {
            try {
                return Files.readAllBytes(pem);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the trusted certificate " + pem, e);
            }
        }

        /** An SSL context that trusts exactly the certificates in {@code pem}. */
        private static SSLContext sslContext(byte[] pem) {
            try {
                KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
                trust.load(null, null);
                int i = 0;
                for (Certificate certificate : CertificateFactory.getInstance("X.509")
                        .generateCertificates(new ByteArrayInputStream(pem))) {
                    trust.setCertificateEntry("trusted-" + i++, certificate);
                }
                if (i == 0) {
                    throw new IllegalArgumentException("the trusted certificate file holds no certificate");
                }
                TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                trustManagers.init(trust);
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(null, trustManagers.getTrustManagers(), null);
                return context;
            } catch (GeneralSecurityException | IOException e) {
                throw new IllegalArgumentException("cannot use the trusted certificate: " + e.getMessage(), e);
            }
        }
    }
}
