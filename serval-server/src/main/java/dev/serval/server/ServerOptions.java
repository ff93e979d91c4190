package dev.serval.server;

import dev.serval.model.ModelControl;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Everything the server is started with. Immutable; defaults live in {@link #defaults(Path)}.
 *
 * @param modelRepository the model repository folder
 * @param httpAddress     the address the REST endpoint binds (loopback unless told otherwise)
 * @param httpPort        the REST port, 0 for any free port
 * @param grpcPort        the gRPC port, 0 for any free port, {@link #GRPC_OFF} for no gRPC listener;
 *                        gRPC binds {@code httpAddress} too, so the two are exposed (or not) together
 * @param cpuBudget       cores the models may use; per-model thread defaults divide it
 * @param maxRequestBytes the largest request body accepted
 * @param maxInflightBytes the bytes of request bodies held at once; 0 for the default ({@link #effectiveMaxInflightBytes})
 * @param inferenceToken  bearer token required for inference and metadata, if set
 * @param adminToken      bearer token required for administration, if set
 * @param tlsCertificate  PEM certificate chain; TLS is on when this and the key are set
 * @param tlsKey          PEM private key
 * @param strictReadiness ready only when every model in the repository loaded (Triton's default)
 * @param allowSpinning   let ONNX Runtime's pool threads spin while idle
 * @param modelControl    how models load and unload after start ({@code --model-control-mode})
 */
public record ServerOptions(
        Path modelRepository,
        String httpAddress,
        int httpPort,
        int grpcPort,
        int cpuBudget,
        long maxRequestBytes,
        long maxInflightBytes,
        Optional<String> inferenceToken,
        Optional<String> adminToken,
        Optional<Path> tlsCertificate,
        Optional<Path> tlsKey,
        boolean strictReadiness,
        boolean allowSpinning,
        ModelControl modelControl) {

    public static final int DEFAULT_HTTP_PORT = 8000;
    /** Triton's gRPC port. */
    public static final int DEFAULT_GRPC_PORT = 8001;
    /** {@link #grpcPort()} value that turns the gRPC transport off. */
    public static final int GRPC_OFF = -1;
    public static final long DEFAULT_MAX_REQUEST_BYTES = 64L << 20;
    /** The in-flight body budget when none is given. */
    public static final long DEFAULT_MAX_INFLIGHT_BYTES = 64L << 20;

    public ServerOptions {
        if (httpPort < 0 || httpPort > 65535) {
            throw new IllegalArgumentException("--http-port must be 0 to 65535, was " + httpPort);
        }
        if (grpcPort < GRPC_OFF || grpcPort > 65535) {
            throw new IllegalArgumentException("--grpc-port must be 0 to 65535, or -1 for no gRPC, was " + grpcPort);
        }
        if (grpcPort == httpPort && grpcPort > 0) {
            throw new IllegalArgumentException("--grpc-port and --http-port are both " + grpcPort + "; they need a port each");
        }
        if (cpuBudget < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, was " + cpuBudget);
        }
        if (maxRequestBytes < 1) {
            throw new IllegalArgumentException("--max-request-size must be positive, was " + maxRequestBytes);
        }
        if (maxInflightBytes < 0) {
            throw new IllegalArgumentException("--max-inflight-bytes must not be negative, was " + maxInflightBytes);
        }
        if (tlsCertificate.isPresent() != tlsKey.isPresent()) {
            throw new IllegalArgumentException("TLS needs both --tls-certificate and --tls-key");
        }
        if (modelControl == null) {
            throw new IllegalArgumentException("modelControl must not be null; ModelControl.NONE loads everything at start");
        }
    }

    /** The options before model control: everything loads at start ({@link ModelControl#NONE}). */
    public ServerOptions(Path modelRepository, String httpAddress, int httpPort, int grpcPort, int cpuBudget,
                         long maxRequestBytes, long maxInflightBytes, Optional<String> inferenceToken,
                         Optional<String> adminToken, Optional<Path> tlsCertificate, Optional<Path> tlsKey,
                         boolean strictReadiness, boolean allowSpinning) {
        this(modelRepository, httpAddress, httpPort, grpcPort, cpuBudget, maxRequestBytes, maxInflightBytes,
                inferenceToken, adminToken, tlsCertificate, tlsKey, strictReadiness, allowSpinning, ModelControl.NONE);
    }

    /** The options before gRPC had a port: gRPC on {@link #DEFAULT_GRPC_PORT}. */
    public ServerOptions(Path modelRepository, String httpAddress, int httpPort, int cpuBudget, long maxRequestBytes,
                         long maxInflightBytes, Optional<String> inferenceToken, Optional<String> adminToken,
                         Optional<Path> tlsCertificate, Optional<Path> tlsKey, boolean strictReadiness,
                         boolean allowSpinning) {
        this(modelRepository, httpAddress, httpPort, DEFAULT_GRPC_PORT, cpuBudget, maxRequestBytes, maxInflightBytes,
                inferenceToken, adminToken, tlsCertificate, tlsKey, strictReadiness, allowSpinning);
    }

    /** Loopback on port 8000 (gRPC 8001), all cores, 64 MiB bodies, no tokens, no TLS. */
    public static ServerOptions defaults(Path modelRepository) {
        return new ServerOptions(modelRepository, "127.0.0.1", DEFAULT_HTTP_PORT, DEFAULT_GRPC_PORT,
                Runtime.getRuntime().availableProcessors(), DEFAULT_MAX_REQUEST_BYTES, 0,
                Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), true, false, ModelControl.NONE);
    }

    public ServerOptions withHttpPort(int port) {
        return new ServerOptions(modelRepository, httpAddress, port, grpcPort, cpuBudget, maxRequestBytes, maxInflightBytes, inferenceToken,
                adminToken, tlsCertificate, tlsKey, strictReadiness, allowSpinning, modelControl);
    }

    /** The same options with gRPC on {@code port}: 0 for any free port, {@link #GRPC_OFF} for none. */
    public ServerOptions withGrpcPort(int port) {
        return new ServerOptions(modelRepository, httpAddress, httpPort, port, cpuBudget, maxRequestBytes, maxInflightBytes,
                inferenceToken, adminToken, tlsCertificate, tlsKey, strictReadiness, allowSpinning, modelControl);
    }

    /** True unless {@link #grpcPort()} is {@link #GRPC_OFF}. */
    public boolean grpcEnabled() {
        return grpcPort != GRPC_OFF;
    }

    public ServerOptions withTokens(Optional<String> inference, Optional<String> admin) {
        return new ServerOptions(modelRepository, httpAddress, httpPort, grpcPort, cpuBudget, maxRequestBytes, maxInflightBytes, inference,
                admin, tlsCertificate, tlsKey, strictReadiness, allowSpinning, modelControl);
    }

    public ServerOptions withMaxRequestBytes(long bytes) {
        return new ServerOptions(modelRepository, httpAddress, httpPort, grpcPort, cpuBudget, bytes, maxInflightBytes, inferenceToken,
                adminToken, tlsCertificate, tlsKey, strictReadiness, allowSpinning, modelControl);
    }

    /**
     * The in-flight body budget, with 0 resolved to {@link #DEFAULT_MAX_INFLIGHT_BYTES} (at most half
     * the heap, at least one request of the largest size).
     *
     * <p>Design note: bodies beyond the budget wait unread in the kernel, which holds the client
     * back; bodies within it are read and decoded, then wait in memory for the model. Holding more
     * than a few batches' worth only costs memory: at 256 MobileNet clients (binary, one core), a
     * 512 MB budget held 1,050 MB resident against 875 MB with 64 MB, for the same throughput
     * (85-88 against 89-90 answers/s, two alternating rounds each; BENCHMARKS.md).
     */
    public long effectiveMaxInflightBytes() {
        if (maxInflightBytes > 0) {
            return maxInflightBytes;
        }
        return Math.max(maxRequestBytes, Math.min(DEFAULT_MAX_INFLIGHT_BYTES, Runtime.getRuntime().maxMemory() / 2));
    }

    public ServerOptions withMaxInflightBytes(long bytes) {
        return new ServerOptions(modelRepository, httpAddress, httpPort, grpcPort, cpuBudget, maxRequestBytes, bytes,
                inferenceToken, adminToken, tlsCertificate, tlsKey, strictReadiness, allowSpinning, modelControl);
    }

    public ServerOptions withStrictReadiness(boolean strict) {
        return new ServerOptions(modelRepository, httpAddress, httpPort, grpcPort, cpuBudget, maxRequestBytes, maxInflightBytes,
                inferenceToken, adminToken, tlsCertificate, tlsKey, strict, allowSpinning, modelControl);
    }

    /** The same options with another way of loading and unloading models. */
    public ServerOptions withModelControl(ModelControl control) {
        return new ServerOptions(modelRepository, httpAddress, httpPort, grpcPort, cpuBudget, maxRequestBytes, maxInflightBytes,
                inferenceToken, adminToken, tlsCertificate, tlsKey, strictReadiness, allowSpinning, control);
    }

    public ServerOptions withTls(Path certificate, Path key) {
        return new ServerOptions(modelRepository, httpAddress, httpPort, grpcPort, cpuBudget, maxRequestBytes, maxInflightBytes, inferenceToken,
                adminToken, Optional.of(certificate), Optional.of(key), strictReadiness, allowSpinning, modelControl);
    }
}
