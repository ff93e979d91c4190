package dev.serval.transport.grpc;

import dev.serval.api.ServalException;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.transport.BearerTokens;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.Set;

/**
 * The server's bearer tokens ({@link BearerTokens}) over gRPC: the {@code authorization: Bearer <token>}
 * metadata must carry the inference or the admin token for inference and metadata calls, and the
 * admin token (when one is set) for the repository calls, as the REST repository endpoints do;
 * ServerLive and ServerReady stay open for probes. Thread-safe.
 */
final class TokenInterceptor implements ServerInterceptor {
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Set<String> OPEN = Set.of(
            GRPCInferenceServiceGrpc.getServerLiveMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getServerReadyMethod().getFullMethodName());
    private static final Set<String> ADMIN = Set.of(
            GRPCInferenceServiceGrpc.getRepositoryIndexMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getRepositoryModelLoadMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getRepositoryModelUnloadMethod().getFullMethodName());
    private static final String NEEDS = "this call needs the metadata 'authorization: Bearer <token>'";

    private final BearerTokens tokens;

    TokenInterceptor(BearerTokens tokens) {
        this.tokens = tokens;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        if (OPEN.contains(method)) {
            return next.startCall(call, headers);
        }
        try {
            if (ADMIN.contains(method)) {
                tokens.requireAdmin(headers.get(AUTHORIZATION), NEEDS);
            } else {
                tokens.requireInference(headers.get(AUTHORIZATION), NEEDS);
            }
        } catch (ServalException refused) {
            call.close(GrpcErrors.toStatus(refused).getStatus(), new Metadata());
            return new ServerCall.Listener<>() {
            };
        }
        return next.startCall(call, headers);
    }
}
