package dev.serval.server;

import dev.serval.api.ServerMetadata;
import dev.serval.metrics.ServalMetrics;
import dev.serval.model.ModelRegistry;
import dev.serval.model.ModelRepository;
import dev.serval.model.ModelStatus;
import dev.serval.model.RegistryOptions;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.transport.grpc.GrpcTransport;
import dev.serval.transport.BodyArrays;
import dev.serval.transport.http.AccessControl;
import dev.serval.transport.http.BodyBudget;
import dev.serval.transport.http.HttpTransport;
import io.helidon.common.configurable.Resource;
import io.helidon.common.tls.Tls;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.time.Duration;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running Serval: the model registry and its transports, started together and stopped together.
 * The command line and the tests both start servers through {@link #start}.
 */
public final class ServalServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ServalServer.class);

    /** The protocol extensions this build implements, by Triton's names. */
    static final List<String> EXTENSIONS = List.of("classification", "binary_tensor_data");

    /** Reusable arrays for large bodies and gRPC messages, shared by the transports. */
    static final long BODY_ARRAYS_BYTES = 64L << 20;

    /** How long a request body waits for room under --max-inflight-bytes before 429. */
    static final Duration BODY_WAIT = Duration.ofSeconds(30);

    private final ModelRuntime runtime;
    private final ModelRegistry registry;
    private final HttpTransport http;
    private final GrpcTransport grpc; // null when gRPC is off
    private final ServerOptions options;

    private ServalServer(ModelRuntime runtime, ModelRegistry registry, HttpTransport http, GrpcTransport grpc,
                         ServerOptions options) {
        this.runtime = runtime;
        this.registry = registry;
        this.http = http;
        this.grpc = grpc;
        this.options = options;
    }

    /**
     * Loads the repository and starts listening. Models that fail to load are reported in the log
     * and the index; the server starts anyway and serves the others.
     *
     * @throws IllegalArgumentException if the repository folder or TLS files are unusable
     */
    public static ServalServer start(ServerOptions options) {
        return start(options, new OnnxBackend());
    }

    /**
     * {@link #start(ServerOptions)} with a given runtime (tests wrap ONNX Runtime to observe and
     * pace runs). The server closes the runtime when it stops.
     */
    public static ServalServer start(ServerOptions options, ModelRuntime runtime) {
        long started = System.nanoTime();
        ModelRepository repository = new ModelRepository(options.modelRepository());
        ServalMetrics metrics = ServalMetrics.create();
        ModelRegistry registry;
        try {
            registry = ModelRegistry.start(repository, runtime,
                    new RegistryOptions(options.cpuBudget(), options.allowSpinning()), metrics, options.modelControl());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the model repository " + repository.root(), e);
        }
        HttpTransport http = null;
        try {
            ServerMetadata metadata = new ServerMetadata("serval", version(), EXTENSIONS);
            AccessControl access = new AccessControl(options.inferenceToken(), options.adminToken());
            BooleanSupplier ready = options.strictReadiness() ? registry::allReady : () -> true;
            BodyArrays arrays = new BodyArrays(BODY_ARRAYS_BYTES);
            http = new HttpTransport(registry, metrics, metadata, ready,
                    access, options.httpAddress(), options.httpPort(), tls(options),
                    new BodyBudget(options.maxRequestBytes(), options.effectiveMaxInflightBytes(), BODY_WAIT), arrays).start();
            GrpcTransport grpc = options.grpcEnabled()
                    ? new GrpcTransport(registry, metadata, ready, options.inferenceToken(), options.adminToken(),
                            options.httpAddress(), options.grpcPort(), options.tlsCertificate(), options.tlsKey(),
                            options.maxRequestBytes(), arrays).start()
                    : null;
            ServalServer server = new ServalServer(runtime, registry, http, grpc, options);
            warnIfExposed(options, access);
            long readyMs = (System.nanoTime() - started) / 1_000_000;
            long readyModels = registry.index().stream().filter(ModelStatus::isReady).count();
            log.info("Serval {} serving {} model version(s) from {} on {}://{}:{}{} (started in {} ms{})",
                    metadata.version(), readyModels, repository.root(), options.tlsKey().isPresent() ? "https" : "http",
                    options.httpAddress(), http.port(), grpc == null ? ", gRPC off" : " and gRPC port " + grpc.port(), readyMs,
                    registry.allReady() ? "" : "; some models failed to load, see above");
            return server;
        } catch (RuntimeException e) {
            if (http != null) {
                http.close();
            }
            registry.close();
            throw e;
        }
    }

    private static Optional<Tls> tls(ServerOptions options) {
        if (options.tlsCertificate().isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Tls.builder()
                .privateKey(keys -> keys.pem(pem -> pem.key(Resource.create(options.tlsKey().get()))))
                .privateKeyCertChain(keys -> keys.pem(pem -> pem.certChain(Resource.create(options.tlsCertificate().get()))))
                .build());
    }

    private static void warnIfExposed(ServerOptions options, AccessControl access) {
        try {
            InetAddress address = InetAddress.getByName(options.httpAddress());
            if (!address.isLoopbackAddress() && access.isOpen()) {
                log.warn("listening on {} without tokens: anyone who can reach it can run models "
                        + "(set SERVAL_INFERENCE_TOKEN and SERVAL_ADMIN_TOKEN)", options.httpAddress());
            }
        } catch (UnknownHostException e) {
            log.warn("cannot resolve --http-address {}", options.httpAddress());
        }
    }

    /** The version of this build, from the jar's resources. */
    public static String version() {
        try (InputStream in = ServalServer.class.getResourceAsStream("version.properties")) {
            Properties properties = new Properties();
            if (in != null) {
                properties.load(in);
            }
            return properties.getProperty("version", "dev");
        } catch (IOException e) {
            return "dev";
        }
    }

    public int httpPort() {
        return http.port();
    }

    /** The bound gRPC port, or {@link ServerOptions#GRPC_OFF} when gRPC is off. */
    public int grpcPort() {
        return grpc == null ? ServerOptions.GRPC_OFF : grpc.port();
    }

    public ModelRegistry registry() {
        return registry;
    }

    public ServerOptions options() {
        return options;
    }

    /** Stops listening, lets queued inference finish, and releases every model. */
    @Override
    public void close() {
        if (grpc != null) {
            grpc.close();
        }
        http.close();
        registry.close();
        runtime.close();
    }
}
