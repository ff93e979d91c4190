package dev.serval.runtime.onnx;

import java.nio.file.Path;

/**
 * Where and when {@link OnnxBackend} rewrites a model whose weights are inside its {@code .onnx}
 * file into ONNX's external data layout before loading it, so that ONNX Runtime maps the weights
 * from a file instead of copying them into anonymous memory (see {@link OnnxBackend}). Immutable;
 * the defaults live here.
 *
 * @param directory      the cache folder: one entry folder per model file, created when first
 *                       needed; a folder on a RAM file system (tmpfs) is refused when used, as
 *                       mapping a file that is itself in memory saves nothing
 * @param minModelBytes  model files smaller than this are loaded as they are
 * @param minTensorBytes initializers whose bytes are fewer than this stay inside the rewritten
 *                       graph (they are copied either way; only big ones are worth a mapping)
 */
public record ModelCacheSettings(Path directory, long minModelBytes, long minTensorBytes) {
    /** Files under 64 MiB load as they are: their weights cost little, and a rewrite costs a copy. */
    public static final long DEFAULT_MIN_MODEL_BYTES = 64L << 20;
    /** Initializers under 1 MiB (biases, norms, small matrices) stay in the graph file. */
    public static final long DEFAULT_MIN_TENSOR_BYTES = 1L << 20;

    /**
     * @throws IllegalArgumentException if {@code directory} is null or a size is negative
     */
    public ModelCacheSettings {
        if (directory == null) {
            throw new IllegalArgumentException("the model cache directory must not be null");
        }
        if (minModelBytes < 0) {
            throw new IllegalArgumentException("the model cache's minimum model size must not be negative, was "
                    + minModelBytes);
        }
        if (minTensorBytes < 0) {
            throw new IllegalArgumentException("the model cache's minimum tensor size must not be negative, was "
                    + minTensorBytes);
        }
    }

    /** A cache in {@code directory} with the default thresholds. */
    public static ModelCacheSettings in(Path directory) {
        return new ModelCacheSettings(directory, DEFAULT_MIN_MODEL_BYTES, DEFAULT_MIN_TENSOR_BYTES);
    }

    /** The same settings with the cache in {@code folder}. */
    public ModelCacheSettings withDirectory(Path folder) {
        return new ModelCacheSettings(folder, minModelBytes, minTensorBytes);
    }

    /** The same settings, rewriting model files of {@code bytes} or more. */
    public ModelCacheSettings withMinModelBytes(long bytes) {
        return new ModelCacheSettings(directory, bytes, minTensorBytes);
    }

    /** The same settings, moving initializers of {@code bytes} or more out of the graph. */
    public ModelCacheSettings withMinTensorBytes(long bytes) {
        return new ModelCacheSettings(directory, minModelBytes, bytes);
    }
}
