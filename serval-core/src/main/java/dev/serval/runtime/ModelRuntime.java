package dev.serval.runtime;

import java.nio.file.Path;

/**
 * A backend that turns a model file into a {@link ModelSession}. The only implementation today is
 * ONNX Runtime; the seam exists so the scheduler and transports never name a runtime.
 *
 * <p>Implementations are thread-safe.
 */
public interface ModelRuntime extends AutoCloseable {

    /** The protocol's platform string for models this runtime serves, e.g. {@code onnxruntime_onnx}. */
    String platform();

    /**
     * Loads a model.
     *
     * @throws ModelLoadException with a reason fit for the repository index when the file is
     *                            missing, unreadable, not a model, or uses what the runtime cannot serve
     */
    ModelSession open(Path modelFile, SessionSettings settings) throws ModelLoadException;

    @Override
    void close();
}
