package dev.serval.server;

import dev.serval.api.ServerMetadata;
import dev.serval.features.FeatureStore;
import dev.serval.features.TieredFeatureStore;
import dev.serval.metrics.ServalMetrics;
import dev.serval.model.ModelRegistry;
import dev.serval.model.ModelRepository;
import dev.serval.model.ModelStatus;
import dev.serval.model.RegistryOptions;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.transport.grpc.GrpcTransport;
import dev.serval.transport.BodyArrays;
import dev.serval.transport.BodyBudget;
import dev.serval.transport.EventIngest;
import dev.serval.transport.RequestGate;
import dev.serval.transport.http.AccessControl;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running Serval: the model registry and its transports, started together and stopped together.
 * The command line and the tests both start servers through {@link #start}.
 *
 * <p>Stopping is graceful ({@link #shutdown(Duration)}): readiness goes false and new inference is
 * refused with 503 / UNAVAILABLE at once, the requests already admitted run to their answers, then
 * the listeners stop and the models are released, all within the time given. Requests still
 * unanswered when it is up are failed with 503 so the process can exit on time.
 */
public final class ServalServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ServalServer.class);

    /** The protocol extensions this build implements, by Triton's names. */
    static final List<String> EXTENSIONS = List.of("classification", "binary_tensor_data", "model_repository",
            "model_repository(unload_dependents)");

    /** Reusable arrays for large bodies and gRPC messages, shared by the transports. */
    static final long BODY_ARRAYS_BYTES = 64L << 20;

    /** How long a request body waits for room under --max-inflight-bytes before 429. */
    static final Duration BODY_WAIT = Duration.ofSeconds(30);

    /** How long {@link #close()} lets admitted requests finish. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    /**
     * After the shutdown's time is up, how long the abandoned requests get to write their 503, and
     * the listeners and models to stop, before {@link #shutdown} returns regardless.
     */
    static final Duration STOP_GRACE = Duration.ofSeconds(5);

    private final ModelRuntime runtime;
    private final ModelRegistry registry;
    private final HttpTransport http;
    private final GrpcTransport grpc; // null when gRPC is off
    private final ServerOptions options;
    private final RequestGate gate;
    private final AtomicBoolean stopping = new AtomicBoolean();
    /** Completed with whether every admitted request was answered, once the server has stopped. */
    private final CompletableFuture<Boolean> stopped = new CompletableFuture<>();

    private ServalServer(ModelRuntime runtime, ModelRegistry registry, HttpTransport http, GrpcTransport grpc,
                         ServerOptions options, RequestGate gate) {
        this.runtime = runtime;
        this.registry = registry;
        this.http = http;
        this.grpc = grpc;
        this.options = options;
        this.gate = gate;
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
        return launch(options, runtime, Optional.empty());
    }

    /**
     * {@link #start(ServerOptions, ModelRuntime)} with a feature store: model pipelines look features
     * up in it, and events posted to {@code POST /v2/events} and gRPC {@code RecordEvents} are recorded
     * in it. Without one, a model whose pipeline needs features fails to load and both event calls
     * answer 501 / UNIMPLEMENTED.
     *
     * <p>The caller owns the store: the server uses it from here until {@link #shutdown} returns, and
     * never closes it. Close the store after the server: the shutdown lets admitted requests and
     * event batches finish first, so none is cut off by the store closing under it. A
     * {@link TieredFeatureStore}'s (or {@link LazyFeatureStore}'s) counters are published on {@code /metrics} as
     * {@code serval_feature_*} ({@link FeatureStoreMetrics}).
     */
    public static ServalServer start(ServerOptions options, ModelRuntime runtime, FeatureStore features) {
        return launch(options, runtime, Optional.of(features));
    }

    private static ServalServer launch(ServerOptions options, ModelRuntime runtime, Optional<FeatureStore> features) {
        long started = System.nanoTime();
        ModelRepository repository = new ModelRepository(options.modelRepository());
        ServalMetrics metrics = ServalMetrics.create();
        // Only the tiered store keeps counters; another FeatureStore (a test double) has no metrics.
        features.ifPresent(store -> {
            if (store instanceof TieredFeatureStore tiered) {
                FeatureStoreMetrics.register(metrics, tiered::stats);
            } else if (store instanceof LazyFeatureStore lazy) {
                FeatureStoreMetrics.register(metrics, lazy::stats);
            }
        });
        ModelRegistry registry;
        try {
            registry = ModelRegistry.start(repository, runtime,
                    new RegistryOptions(options.cpuBudget(), options.allowSpinning()).withFeatureStore(features.orElse(null)),
                    metrics, options.modelControl());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the model repository " + repository.root(), e);
        }
        HttpTransport http = null;
        try {
            ServerMetadata metadata = new ServerMetadata("serval", version(), EXTENSIONS);
            AccessControl access = new AccessControl(options.inferenceToken(), options.adminToken());
            RequestGate gate = new RequestGate();
            BooleanSupplier modelsReady = options.strictReadiness() ? registry::allReady : () -> true;
            BooleanSupplier ready = () -> gate.isOpen() && modelsReady.getAsBoolean();
            BodyArrays arrays = new BodyArrays(BODY_ARRAYS_BYTES);
            EventIngest events = new EventIngest(features.orElse(null), metrics.events());
            // One budget for both transports: --max-inflight-bytes bounds the bodies held at once.
            BodyBudget bodies = new BodyBudget(options.maxRequestBytes(), options.effectiveMaxInflightBytes(), BODY_WAIT);
            http = new HttpTransport(registry, metrics, metadata, ready,
                    access, options.httpAddress(), options.httpPort(), tls(options), bodies, arrays, gate, events).start();
            GrpcTransport grpc = options.grpcEnabled()
                    ? new GrpcTransport(registry, metrics, metadata, ready, options.inferenceToken(), options.adminToken(),
                            options.httpAddress(), options.grpcPort(), options.tlsCertificate(), options.tlsKey(),
                            options.maxRequestBytes(), arrays, bodies, gate, events).start()
                    : null;
            ServalServer server = new ServalServer(runtime, registry, http, grpc, options, gate);
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

    /** {@link #shutdown(Duration)} with {@link #DEFAULT_SHUTDOWN_TIMEOUT}. */
    @Override
    public void close() {
        shutdown(DEFAULT_SHUTDOWN_TIMEOUT);
    }

    /**
     * Stops gracefully: readiness goes false and new inference is refused with 503 / UNAVAILABLE
     * ("the server is shutting down") at once; the requests already admitted, queued or running,
     * complete and get their answers; then the listeners stop and every model is released. When
     * {@code timeout} passes first, the requests still waiting are answered 503 and the server stops
     * anyway. Returns within about {@code timeout} plus a few seconds ({@link #STOP_GRACE}) in every
     * case: a model run stuck in native code is left behind (the process is exiting), not waited for.
     *
     * <p>Thread-safe and idempotent: a second call waits for the first one's outcome (up to its own
     * timeout and the grace).
     *
     * @return true when every admitted request was answered before the timeout
     */
    public boolean shutdown(Duration timeout) {
        if (!stopping.compareAndSet(false, true)) {
            try {
                return stopped.get(timeout.plus(STOP_GRACE).toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } catch (ExecutionException | TimeoutException e) {
                return false;
            }
        }
        boolean drained = false;
        try {
            drained = drain(timeout);
            stopTransportsAndModels();
        } finally {
            stopped.complete(drained);
        }
        return drained;
    }

    /** Closes the gate and waits for the admitted requests; past the timeout, fails the rest with 503. */
    private boolean drain(Duration timeout) {
        gate.close();
        int inFlight = gate.inFlight();
        log.info("shutting down: readiness is false, new requests get 503; waiting up to {} s for {} request(s) in flight",
                timeout.toSeconds(), inFlight);
        try {
            if (gate.awaitEmpty(timeout)) {
                if (inFlight > 0) {
                    log.info("every request admitted before the shutdown was answered");
                }
                return true;
            }
            int abandoned = gate.abandon();
            log.warn("shutdown timeout ({} s) passed with {} request(s) unanswered: failing them with 503 "
                    + "({} waiting for a model)", timeout.toSeconds(), gate.inFlight(), abandoned);
            if (!gate.awaitEmpty(STOP_GRACE)) {
                log.warn("{} request(s) still unanswered; stopping the listeners under them", gate.inFlight());
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            gate.abandon();
            return false;
        }
    }

    /**
     * Stops the listeners, then releases the models. A model run cannot be stopped from outside
     * while it is in native code, and its session must not be closed under it; so the release runs
     * on its own thread, and when it takes longer than {@link #STOP_GRACE} it is left to finish on
     * its own (the process is usually exiting).
     */
    private void stopTransportsAndModels() {
        if (grpc != null) {
            grpc.close(STOP_GRACE);
        }
        http.close();
        Thread release = Thread.ofPlatform().name("serval-release-models").daemon(true).start(() -> {
            registry.close();
            runtime.close();
        });
        try {
            release.join(STOP_GRACE);
            if (release.isAlive()) {
                log.warn("a model is still running after the shutdown's grace period; not waiting for it");
            } else {
                log.info("Serval stopped");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Requests admitted and not yet answered (inference and repository changes). */
    int requestsInFlight() {
        return gate.inFlight();
    }

    /** True until a shutdown begins: the server's readiness, before the models' own. */
    public boolean isAcceptingRequests() {
        return gate.isOpen();
    }
}
