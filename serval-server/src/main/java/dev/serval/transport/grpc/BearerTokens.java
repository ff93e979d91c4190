package dev.serval.transport.grpc;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.Set;

/**
 * The REST transport's bearer tokens over gRPC: the {@code authorization: Bearer <token>} metadata
 * must carry the inference or the admin token for inference and metadata calls; ServerLive and
 * ServerReady stay open for probes. Without an inference token everything is open (gRPC has no
 * administration calls). Tokens are compared in constant time. Thread-safe.
 */
final class BearerTokens implements ServerInterceptor {
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Set<String> OPEN = Set.of(
            GRPCInferenceServiceGrpc.getServerLiveMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getServerReadyMethod().getFullMethodName());

    private final byte[] inferenceToken;
    private final byte[] adminToken;

    BearerTokens(Optional<String> inferenceToken, Optional<String> adminToken) {
        this.inferenceToken = inferenceToken.map(t -> t.getBytes(StandardCharsets.UTF_8)).orElse(null);
        this.adminToken = adminToken.map(t -> t.getBytes(StandardCharsets.UTF_8)).orElse(null);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        if (inferenceToken == null || OPEN.contains(call.getMethodDescriptor().getFullMethodName())) {
            return next.startCall(call, headers);
        }
        byte[] presented = bearer(headers.get(AUTHORIZATION));
        if (matches(presented, inferenceToken) || matches(presented, adminToken)) {
            return next.startCall(call, headers);
        }
        StatusRuntimeException refused = GrpcErrors.toStatus(new ServalException(ErrorCode.UNAUTHENTICATED,
                "this call needs the metadata 'authorization: Bearer <token>' with the inference or admin token"));
        call.close(refused.getStatus(), new Metadata());
        return new ServerCall.Listener<>() {
        };
    }

    private static byte[] bearer(String header) {
        if (header == null) {
            return null;
        }
        String value = header.strip();
        if (value.length() < 7 || !value.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return value.substring(7).strip().getBytes(StandardCharsets.UTF_8);
    }

    private static boolean matches(byte[] presented, byte[] expected) {
        return presented != null && expected != null && MessageDigest.isEqual(presented, expected);
    }
}
