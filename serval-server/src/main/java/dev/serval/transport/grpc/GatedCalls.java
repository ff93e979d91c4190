package dev.serval.transport.grpc;

import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.transport.RequestGate;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Set;

/**
 * Passes the calls that do work (ModelInfer, RepositoryModelLoad and RepositoryModelUnload:
 * anything not read-only) through the server's {@link RequestGate}: refused with UNAVAILABLE once
 * the server shuts down, counted until they end otherwise. Health, metadata and the repository
 * index are never gated: probes must keep working while the server drains.
 *
 * <p>A unary call's handler runs in {@code onHalfClose}; that is where the call's thread is bound to
 * its pass, so that a shutdown out of time can interrupt its wait for the model. The pass closes
 * when grpc-java reports the call over ({@code onComplete} or {@code onCancel}, exactly one of
 * which it always calls). Thread-safe.
 */
final class GatedCalls implements ServerInterceptor {
    private static final Set<String> READ_ONLY = Set.of(
            GRPCInferenceServiceGrpc.getServerLiveMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getServerReadyMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getModelReadyMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getServerMetadataMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getModelMetadataMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getRepositoryIndexMethod().getFullMethodName());

    private final RequestGate gate;

    GatedCalls(RequestGate gate) {
        this.gate = gate;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        if (READ_ONLY.contains(call.getMethodDescriptor().getFullMethodName())) {
            return next.startCall(call, headers);
        }
        RequestGate.Pass pass = gate.tryEnter();
        if (pass == null) {
            call.close(GrpcErrors.toStatus(RequestGate.refusal()).getStatus(), new Metadata());
            return new ServerCall.Listener<>() {
            };
        }
        ServerCall<Q, R> answered = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                // A call the shutdown gave up on says so, rather than "interrupted".
                super.close(!status.isOk() && pass.isAbandoned()
                        ? GrpcErrors.toStatus(RequestGate.timedOut()).getStatus() : status, trailers);
            }
        };
        ServerCall.Listener<Q> listener;
        try {
            listener = next.startCall(answered, headers);
        } catch (RuntimeException | Error e) {
            pass.close();
            throw e;
        }
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onHalfClose() {
                pass.bind();
                try {
                    super.onHalfClose();
                } finally {
                    pass.unbind();
                }
            }

            @Override
            public void onComplete() {
                try {
                    super.onComplete();
                } finally {
                    pass.close();
                }
            }

            @Override
            public void onCancel() {
                try {
                    super.onCancel();
                } finally {
                    pass.close();
                }
            }
        };
    }
}
