package dev.serval.runtime.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ONNX Runtime on the CPU execution provider.
 *
 * <p>Design note: every session gets its own intra-op pool sized by {@link SessionSettings}
 * rather than sharing the environment's global pool, because the global pool must be configured
 * before anything touches the environment and cannot be resized per model. The scheduler keeps
 * instances x threads within the cores. Spinning is off unless asked for: on two cores a
 * spinning pool steals the CPU that request threads need.
 *
 * <p>Sessions are created from the model's path, never from its bytes: ONNX Runtime then resolves
 * external data files (the format of models over 2 GB) against the model's folder, and no copy of
 * the model passes through the Java heap. Those files are checked before ONNX Runtime sees them
 * ({@link OnnxModelFile#verifyExternalData}).
 *
 * <p>With a {@link ModelCacheSettings model cache}, a big model whose weights are inside its file
 * is first rewritten into the external data layout in the cache ({@link ExternalDataRewriter},
 * once per version of the file) and the session is created from that copy: ONNX Runtime then maps
 * the weights from the data file instead of copying them into anonymous memory, so weights it
 * prepacks are released and weights it reads in place (embedding tables) are resident only where
 * touched. Measured on the 201 MB encoder (BENCHMARKS.md, issue 5). The cache never fails a load:
 * if it cannot be used, or ONNX Runtime refuses the copy, the model file itself is loaded.
 */
public final class OnnxBackend implements ModelRuntime {
    private static final Logger log = LoggerFactory.getLogger(OnnxBackend.class);

    /** The platform string the protocol reports for ONNX models (Triton's name). */
    public static final String PLATFORM = "onnxruntime_onnx";

    /**
     * System properties {@code serval.onnx.<key>=<value>} become ONNX Runtime session config
     * entries {@code <key>=<value>} of every session (e.g. {@code -Dserval.onnx.session.disable_prepacking=1}),
     * for operators who measured a reason; {@code serval.onnx.cpu_arena=false} turns the CPU
     * memory arena off.
     */
    static final String PROPERTY_PREFIX = "serval.onnx.";
    private static final String CPU_ARENA = "cpu_arena";

    private final OrtEnvironment environment;
    private final Map<String, String> sessionConfig;
    private final boolean cpuArena;
    private final ModelCache modelCache; // null: models load as they are

    /** ONNX Runtime with the session config of the {@code serval.onnx.*} system properties, no model cache. */
    public OnnxBackend() {
        this(fromSystemProperties());
    }

    /**
     * ONNX Runtime with the session config of the {@code serval.onnx.*} system properties and, if
     * given, a model cache.
     */
    public OnnxBackend(Optional<ModelCacheSettings> modelCache) {
        this(fromSystemProperties(), modelCache);
    }

    /**
     * @param sessionConfig ONNX Runtime session config entries for every session; the key
     *                      {@code cpu_arena} ({@code true}/{@code false}) turns the CPU arena on or off
     */
    public OnnxBackend(Map<String, String> sessionConfig) {
        this(sessionConfig, Optional.empty());
    }

    /**
     * @param sessionConfig ONNX Runtime session config entries for every session (see above)
     * @param modelCache    where big models with inline weights are rewritten to be mapped; empty
     *                      to load every model file as it is
     * @throws IllegalArgumentException if a config entry is invalid
     */
    public OnnxBackend(Map<String, String> sessionConfig, Optional<ModelCacheSettings> modelCache) {
        this.environment = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "serval");
        Map<String, String> config = new TreeMap<>(sessionConfig);
        String arena = config.remove(CPU_ARENA);
        if (arena != null && !arena.equals("true") && !arena.equals("false")) {
            throw new IllegalArgumentException(PROPERTY_PREFIX + CPU_ARENA + " is '" + arena + "'; expected true or false");
        }
        this.cpuArena = arena == null || Boolean.parseBoolean(arena);
        this.sessionConfig = Map.copyOf(config);
        if (!sessionConfig.isEmpty()) {
            log.info("ONNX Runtime session options for every model: {}", new TreeMap<>(sessionConfig));
        }
        this.modelCache = modelCache.map(ModelCache::new).orElse(null);
    }

    /** The model cache's settings; empty when models load as they are. */
    public Optional<ModelCacheSettings> modelCache() {
        return Optional.ofNullable(modelCache).map(ModelCache::settings);
    }

    private static Map<String, String> fromSystemProperties() {
        Map<String, String> config = new TreeMap<>();
        for (String name : System.getProperties().stringPropertyNames()) {
            if (name.startsWith(PROPERTY_PREFIX) && name.length() > PROPERTY_PREFIX.length()) {
                config.put(name.substring(PROPERTY_PREFIX.length()), System.getProperty(name));
            }
        }
        return config;
    }

    @Override
    public String platform() {
        return PLATFORM;
    }

    /** The ONNX Runtime version, e.g. {@code 1.23.2}. */
    public String version() {
        return environment.getVersion();
    }

    @Override
    public ModelSession open(Path modelFile, SessionSettings settings) throws ModelLoadException {
        if (!Files.isRegularFile(modelFile)) {
            throw new ModelLoadException("model file " + modelFile + " does not exist or is not a file");
        }
        OnnxModelFile header = verifyExternalData(modelFile);
        // A model that already keeps data outside (beside the original) loads as it is.
        Path load = modelCache == null || header == null || !header.externalData().isEmpty()
                ? modelFile : modelCache.prepare(modelFile);
        SessionOptions options = new SessionOptions();
        try {
            options.setIntraOpNumThreads(settings.intraOpThreads());
            options.setInterOpNumThreads(1);
            options.setExecutionMode(SessionOptions.ExecutionMode.SEQUENTIAL);
            options.setOptimizationLevel(SessionOptions.OptLevel.ALL_OPT);
            options.addConfigEntry("session.intra_op.allow_spinning", settings.allowSpinning() ? "1" : "0");
            options.addConfigEntry("session.inter_op.allow_spinning", "0");
            if (!cpuArena) {
                options.setCPUArenaAllocator(false);
            }
            for (Map.Entry<String, String> entry : sessionConfig.entrySet()) {
                options.addConfigEntry(entry.getKey(), entry.getValue());
            }
            OrtSession session;
            try {
                session = environment.createSession(load.toString(), options);
            } catch (OrtException e) {
                if (load.equals(modelFile)) {
                    throw e;
                }
                log.warn("ONNX Runtime cannot load the model cache's copy {} of {} ({}); trying the file itself",
                        load, modelFile, OnnxErrors.describe(e));
                session = environment.createSession(modelFile.toString(), options);
            }
            try {
                return new OnnxSession(environment, session, options);
            } catch (ModelLoadException | RuntimeException e) {
                session.close();
                throw e;
            }
        } catch (OrtException e) {
            options.close();
            throw new ModelLoadException("ONNX Runtime cannot load " + modelFile.getFileName() + ": "
                    + OnnxErrors.describe(e), e);
        } catch (ModelLoadException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    /**
     * Fails the load, with the reason, when the model's external data files are missing, outside
     * its folder or too short; returns the model's header, or null if the file is not ONNX. ONNX
     * Runtime 1.23 reads files named {@code ../x} or linked out of the folder without a word
     * (measured), and reports the others in terms of its own source files. A file that is not
     * ONNX at all is left to ONNX Runtime, whose message says so.
     */
    private static OnnxModelFile verifyExternalData(Path modelFile) throws ModelLoadException {
        OnnxModelFile header;
        try {
            header = OnnxModelFile.read(modelFile);
        } catch (IOException e) {
            return null;
        }
        try {
            header.verifyExternalData(modelFile);
        } catch (IOException e) {
            throw new ModelLoadException("cannot load " + modelFile.getFileName() + ": " + e.getMessage(), e);
        }
        return header;
    }

    /** The environment is process-wide and outlives backends: nothing to release here. */
    @Override
    public void close() {
    }
}
