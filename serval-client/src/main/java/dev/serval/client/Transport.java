package dev.serval.client;

import java.time.Duration;
import java.util.List;

/**
 * One wire's implementation of the client's operations. Implementations are thread-safe, map every
 * failure through {@link Errors}, and bound each call by the timeout they are given.
 */
sealed interface Transport extends AutoCloseable permits RestTransport, GrpcTransport {

    boolean live(Duration timeout);

    boolean ready(Duration timeout);

    ServerMetadata serverMetadata(Duration timeout);

    /** @param version null for the server's choice */
    ModelMetadata modelMetadata(String model, String version, Duration timeout);

    /** @param version null for the server's choice */
    boolean modelReady(String model, String version, Duration timeout);

    InferResult infer(InferRequest request, Duration timeout);

    /** Triton's repository index: every row, ready or not. */
    List<ModelIndexEntry> repositoryIndex(Duration timeout);

    /** Triton's repository load, without parameters; returns once the model serves or has failed. */
    void loadModel(String model, Duration timeout);

    /** Triton's repository unload, without parameters. */
    void unloadModel(String model, Duration timeout);

    @Override
    void close();
}
