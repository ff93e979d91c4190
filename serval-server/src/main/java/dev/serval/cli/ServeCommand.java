package dev.serval.cli;

import dev.serval.features.FeatureStore;
import dev.serval.features.TieredFeatureStore;
import dev.serval.model.InvalidConfigException;
import dev.serval.model.ModelConfig;
import dev.serval.model.ModelControl;
import dev.serval.model.ModelRepository;
import dev.serval.runtime.onnx.ModelCacheSettings;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.server.LazyFeatureStore;
import dev.serval.server.ServalServer;
import dev.serval.server.ServerOptions;
import dev.serval.transport.http.ReaderNodes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code serval serve}: loads a model repository and serves it until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve the models of a repository over the Open Inference Protocol.")
final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

    /**
     * How long past {@code --shutdown-timeout-secs} the shutdown hook may take before the process
     * halts regardless: the server's own shutdown is bounded, this only guards against the unforeseen.
     */
    static final Duration HALT_MARGIN = Duration.ofSeconds(20);

    @Spec
    CommandSpec spec;

    @Option(names = "--model-repository", paramLabel = "DIR",
            description = "The model repository: <model>/<version>/model.onnx. Default: the bundled examples.")
    Path modelRepository;

    @Option(names = "--http-address", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "Address to listen on. Default: ${DEFAULT-VALUE} (use 0.0.0.0 in a container, with tokens).")
    String httpAddress;

    @Option(names = "--http-port", paramLabel = "N", defaultValue = "8000",
            description = "REST port. Default: ${DEFAULT-VALUE}.")
    int httpPort;

    @Option(names = "--grpc-port", paramLabel = "N", defaultValue = "8001",
            description = "gRPC port (on --http-address); -1 for no gRPC. Default: ${DEFAULT-VALUE}.")
    int grpcPort;

    @Option(names = "--threads", paramLabel = "N",
            description = "Cores the models may use; each model's threads default to this divided by its "
                    + "instances. Default: all available cores.")
    Integer threads;

    @Option(names = "--max-request-size", paramLabel = "SIZE", defaultValue = "64m", converter = ByteSize.class,
            description = "Largest request body; larger ones get 413. Default: ${DEFAULT-VALUE}.")
    long maxRequestBytes;

    @Option(names = "--max-inflight-bytes", paramLabel = "SIZE", converter = ByteSize.class,
            description = "Request body bytes held at once across all requests, REST bodies and gRPC "
                    + "messages together; one that does not fit waits unread for room (429 or RESOURCE_EXHAUSTED "
                    + "after 30 s). Default: 64m (at least --max-request-size).")
    Long maxInflightBytes;

    @Option(names = "--strict-readiness", paramLabel = "BOOL", defaultValue = "true", arity = "1",
            description = "Report ready only when every model loaded. Default: ${DEFAULT-VALUE}.")
    boolean strictReadiness;

    @Option(names = "--allow-spinning", description = "Let ONNX Runtime's idle threads spin (off: better on few cores).")
    boolean allowSpinning;

    @Option(names = "--tls-certificate", paramLabel = "PEM", description = "Certificate chain; enables TLS with --tls-key.")
    Path tlsCertificate;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "Private key (PKCS#8 PEM) for --tls-certificate.")
    Path tlsKey;

    @Option(names = "--inference-token", paramLabel = "TOKEN", defaultValue = "${env:SERVAL_INFERENCE_TOKEN}",
            description = "Bearer token for inference and metadata. Default: $SERVAL_INFERENCE_TOKEN; none if unset.")
    String inferenceToken;

    @Option(names = "--admin-token", paramLabel = "TOKEN", defaultValue = "${env:SERVAL_ADMIN_TOKEN}",
            description = "Bearer token for administration. Default: $SERVAL_ADMIN_TOKEN; none if unset.")
    String adminToken;

    @Option(names = "--model-control-mode", paramLabel = "MODE", defaultValue = "none",
            description = "none: load every model at start, nothing after; poll: also apply the repository's "
                    + "changes every --repository-poll-secs; explicit: load only --load-model at start, then "
                    + "what POST /v2/repository/models/NAME/load asks. Default: ${DEFAULT-VALUE}.")
    String modelControlMode;

    @Option(names = "--repository-poll-secs", paramLabel = "N", defaultValue = "15",
            description = "Seconds between repository scans in poll mode. Default: ${DEFAULT-VALUE}.")
    long repositoryPollSecs;

    @Option(names = "--load-model", paramLabel = "NAME",
            description = "A model to load at start in explicit mode; repeatable.")
    List<String> loadModels;

    @Option(names = "--shutdown-timeout-secs", paramLabel = "N", defaultValue = "30",
            description = "On SIGTERM or SIGINT, how long requests already accepted may take to finish before they "
                    + "are failed with 503 and the process exits. Default: ${DEFAULT-VALUE}.")
    long shutdownTimeoutSecs;

    /** Where the model cache lives by default, under {@code serval.home} or the working directory. */
    static final Path DEFAULT_MODEL_CACHE = Path.of("serval-data", "model-cache");

    @Option(names = "--model-cache", paramLabel = "DIR|off",
            description = "Where model files of --model-cache-min-size or more whose weights are inside them are "
                    + "rewritten with the weights in a file beside the graph, which ONNX Runtime maps instead of "
                    + "copying (less resident memory); one entry per model file, reused while it is unchanged. "
                    + "off: load model files as they are. Default: serval-data/model-cache under the Serval home "
                    + "(or the working directory).")
    String modelCache;

    @Option(names = "--model-cache-min-size", paramLabel = "SIZE", defaultValue = "64m", converter = ByteSize.class,
            description = "Smallest model file the model cache rewrites. Default: ${DEFAULT-VALUE}.")
    long modelCacheMinBytes;

    @Mixin
    FeatureStoreOptions features;

    @Override
    public Integer call() throws InterruptedException {
        if (shutdownTimeoutSecs < 0) {
            throw new ParameterException(spec.commandLine(),
                    "--shutdown-timeout-secs must be 0 or more, was " + shutdownTimeoutSecs);
        }
        Path repository = modelRepository != null ? modelRepository : bundledRepository();
        ServerOptions options = new ServerOptions(repository, httpAddress, httpPort, grpcPort,
                threads != null ? threads : Runtime.getRuntime().availableProcessors(), maxRequestBytes, maxInflightBytes == null ? 0 : maxInflightBytes,
                blankToEmpty(inferenceToken), blankToEmpty(adminToken),
                Optional.ofNullable(tlsCertificate), Optional.ofNullable(tlsKey), strictReadiness, allowSpinning,
                modelControl());
        Optional<FeatureStore> store = features.opener(home())
                .map(opener -> pipelinesIn(repository) ? opener.get() : new LazyFeatureStore(opener));
        store.ifPresentOrElse(
                s -> log.info("feature store: {}", s instanceof TieredFeatureStore tiered
                        ? features.describe(tiered.config())
                        : "opened on first use (no model in the repository looks features up)"),
                () -> log.info("no feature store (--features-mode none): models whose pipelines look features up "
                        + "will not load, and POST /v2/events answers 501"));
        Optional<ModelCacheSettings> cache = modelCacheSettings(home());
        cache.ifPresentOrElse(
                c -> log.info("model cache: {} (model files of {} MB or more with weights inside them)",
                        c.directory().toAbsolutePath(), c.minModelBytes() >> 20),
                () -> log.info("no model cache (--model-cache off): model files load as they are"));
        log.info("connection reader's chunk unlinking: {}", ReaderNodes.outcome());
        OnnxBackend backend = new OnnxBackend(cache);
        ServalServer server;
        try {
            server = store.isPresent() ? ServalServer.start(options, backend, store.get())
                    : ServalServer.start(options, backend);
        } catch (RuntimeException e) {
            store.ifPresent(FeatureStore::close);
            throw e;
        }
        Optional<HeapTuner> heapTuner = HeapTuner.start();
        Optional<CompilerThreads> compilerThreads = CompilerThreads.start();
        Duration timeout = Duration.ofSeconds(shutdownTimeoutSecs);
        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM and SIGINT run the JVM's shutdown hooks; the JVM exits (status 143 or 130) when they end.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Thread watchdog = Thread.ofPlatform().name("serval-shutdown-watchdog").daemon(true).start(() -> {
                try {
                    Thread.sleep(timeout.plus(HALT_MARGIN));
                    log.error("the shutdown did not end within {} s; halting", timeout.plus(HALT_MARGIN).toSeconds());
                    Runtime.getRuntime().halt(1);
                } catch (InterruptedException e) {
                    // the shutdown ended in time
                }
            });
            heapTuner.ifPresent(HeapTuner::close);
            compilerThreads.ifPresent(CompilerThreads::close);
            try {
                // The server first: it stops taking requests and events and lets those admitted
                // finish; only then does the store close (write-behind marks stay durable in L2).
                try {
                    server.shutdown(timeout);
                } finally {
                    store.ifPresent(s -> {
                        s.close();
                        log.info("feature store closed");
                    });
                }
            } finally {
                watchdog.interrupt();
                stopped.countDown();
            }
        }, "serval-shutdown"));
        stopped.await();
        return 0;
    }

    /**
     * Whether a model in the repository has a pipeline (which looks features up): then the feature
     * store opens at start, so that a store that cannot open stops the start; otherwise it opens on
     * first use ({@link LazyFeatureStore}). A config that cannot be read counts as one.
     */
    static boolean pipelinesIn(Path repository) {
        try {
            return new ModelRepository(repository).scan().stream()
                    .flatMap(source -> source.configFile().stream())
                    .anyMatch(config -> {
                        try {
                            return ModelConfig.read(config).pipeline().isPresent();
                        } catch (InvalidConfigException | RuntimeException e) {
                            return true;
                        }
                    });
        } catch (IOException | RuntimeException e) {
            return true;
        }
    }

    /** The --model-control-mode, --repository-poll-secs and --load-model flags, validated. */
    ModelControl modelControl() {
        if (repositoryPollSecs < 1 || repositoryPollSecs > 86_400) {
            throw new IllegalArgumentException("--repository-poll-secs must be 1 to 86400, was " + repositoryPollSecs);
        }
        return new ModelControl(ModelControl.parseMode(modelControlMode), Duration.ofSeconds(repositoryPollSecs),
                loadModels == null ? List.of() : loadModels);
    }

    /**
     * The --model-cache and --model-cache-min-size flags; empty for {@code off}.
     *
     * <p>The default folder is under the Serval home, beside the feature store's data, rather than
     * in {@code java.io.tmpdir}: {@code /tmp} is a RAM file system (tmpfs) on many systems, where a
     * mapped file is memory anyway and the rewrite would only add a copy; tmp cleaners age files
     * out; and the home is where the operator already keeps (and sizes) Serval's data.
     */
    Optional<ModelCacheSettings> modelCacheSettings(Path home) {
        if (modelCache != null && modelCache.strip().equalsIgnoreCase("off")) {
            return Optional.empty();
        }
        Path folder = modelCache == null || modelCache.isBlank() ? home.resolve(DEFAULT_MODEL_CACHE) : Path.of(modelCache);
        return Optional.of(ModelCacheSettings.in(folder).withMinModelBytes(modelCacheMinBytes));
    }

    /** The Serval home: {@code serval.home} (set by ./serval), else the working folder. */
    static Path home() {
        String home = System.getProperty("serval.home");
        return home != null ? Path.of(home) : Path.of("").toAbsolutePath();
    }

    /** The example repository shipped with the project, found from {@code serval.home} or the working folder. */
    static Path bundledRepository() {
        Path repository = home().resolve("examples").resolve("repository");
        if (!Files.isDirectory(repository)) {
            throw new IllegalArgumentException("no --model-repository given and no bundled examples at " + repository);
        }
        return repository;
    }

    private static Optional<String> blankToEmpty(String value) {
        return value == null || value.isBlank() ? Optional.empty() : Optional.of(value);
    }
}
