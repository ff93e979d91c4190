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
 */
public final class OnnxBackend implements ModelRuntime {
    /** The platform string the protocol reports for ONNX models (Triton's name). */
    public static final String PLATFORM = "onnxruntime_onnx";

    private final OrtEnvironment environment;

    public OnnxBackend() {
        this.environment = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "serval");
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
        verifyExternalData(modelFile);
        SessionOptions options = new SessionOptions();
        try {
            options.setIntraOpNumThreads(settings.intraOpThreads());
            options.setInterOpNumThreads(1);
            options.setExecutionMode(SessionOptions.ExecutionMode.SEQUENTIAL);
            options.setOptimizationLevel(SessionOptions.OptLevel.ALL_OPT);
            options.addConfigEntry("session.intra_op.allow_spinning", settings.allowSpinning() ? "1" : "0");
            options.addConfigEntry("session.inter_op.allow_spinning", "0");
            OrtSession session = environment.createSession(modelFile.toString(), options);
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
     * its folder or too short (ONNX Runtime would read outside the repository, or crash on a
     * mapped file shorter than its tensors). A file that is not ONNX at all is left to ONNX
     * Runtime, whose message says so.
     */
    private static void verifyExternalData(Path modelFile) throws ModelLoadException {
        OnnxModelFile header;
        try {
            header = OnnxModelFile.read(modelFile);
        } catch (IOException e) {
            return;
        }
        try {
            header.verifyExternalData(modelFile);
        } catch (IOException e) {
            throw new ModelLoadException("cannot load " + modelFile.getFileName() + ": " + e.getMessage(), e);
        }
    }

    /** The environment is process-wide and outlives backends: nothing to release here. */
    @Override
    public void close() {
    }
}
