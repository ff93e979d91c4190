package dev.serval.client;

import java.time.Duration;

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

    @Override
    void close();
}
