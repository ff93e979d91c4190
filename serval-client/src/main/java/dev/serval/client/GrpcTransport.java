package dev.serval.client;

import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.protocol.grpc.ModelMetadataRequest;
import dev.serval.protocol.grpc.ModelReadyRequest;
import dev.serval.protocol.grpc.RepositoryIndexRequest;
import dev.serval.protocol.grpc.RepositoryModelLoadRequest;
import dev.serval.protocol.grpc.RepositoryModelUnloadRequest;
import dev.serval.protocol.grpc.ServerLiveRequest;
import dev.serval.protocol.grpc.ServerMetadataRequest;
import dev.serval.protocol.grpc.ServerReadyRequest;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The gRPC wire: one {@link ManagedChannel} (grpc-java's Netty transport, shaded) shared by every
 * call, each call bounded by its own deadline. The bearer token, when set, travels as
 * {@code authorization} metadata on every call.
 */
final class GrpcTransport implements Transport {
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    /** How long close() lets calls in flight finish before cutting them off. */
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(5);

    private final ManagedChannel channel;
    private final GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub;

    /**
     * @param trustedCertificates PEM certificates to trust, when TLS is on; empty for the JDK's
     *                            default trust store
     */
    GrpcTransport(String host, int port, boolean tls, Optional<byte[]> trustedCertificates, Optional<String> bearerToken,
                  int maxResponseBytes) {
        ChannelCredentials credentials;
        if (!tls) {
            credentials = InsecureChannelCredentials.create();
        } else if (trustedCertificates.isPresent()) {
            try {
                credentials = TlsChannelCredentials.newBuilder()
                        .trustManager(new ByteArrayInputStream(trustedCertificates.get()))
                        .build();
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read the trusted certificate: " + e.getMessage(), e);
            }
        } else {
            credentials = TlsChannelCredentials.create();
        }
        ManagedChannelBuilder<?> builder = Grpc.newChannelBuilderForAddress(host, port, credentials)
                .maxInboundMessageSize(maxResponseBytes);
        if (bearerToken.isPresent()) {
            Metadata headers = new Metadata();
            headers.put(AUTHORIZATION, "Bearer " + bearerToken.get());
            builder.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        this.channel = builder.build();
        this.stub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
    }

    @Override
    public boolean live(Duration timeout) {
        return call(timeout, s -> s.serverLive(ServerLiveRequest.getDefaultInstance()).getLive());
    }

    @Override
    public boolean ready(Duration timeout) {
        return call(timeout, s -> s.serverReady(ServerReadyRequest.getDefaultInstance()).getReady());
    }

    @Override
    public ServerMetadata serverMetadata(Duration timeout) {
        return GrpcCodec.decodeServer(call(timeout, s -> s.serverMetadata(ServerMetadataRequest.getDefaultInstance())));
    }

    @Override
    public ModelMetadata modelMetadata(String model, String version, Duration timeout) {
        ModelMetadataRequest request = ModelMetadataRequest.newBuilder().setName(model)
                .setVersion(version == null ? "" : version).build();
        return GrpcCodec.decodeModel(call(timeout, s -> s.modelMetadata(request)));
    }

    @Override
    public boolean modelReady(String model, String version, Duration timeout) {
        ModelReadyRequest request = ModelReadyRequest.newBuilder().setName(model)
                .setVersion(version == null ? "" : version).build();
        return call(timeout, s -> s.modelReady(request).getReady());
    }

    @Override
    public InferResult infer(InferRequest request, Duration timeout) {
        return GrpcCodec.decodeInfer(call(timeout, s -> s.modelInfer(GrpcCodec.encode(request))));
    }

    @Override
    public List<ModelIndexEntry> repositoryIndex(Duration timeout) {
        return GrpcCodec.decodeIndex(call(timeout, s -> s.repositoryIndex(RepositoryIndexRequest.getDefaultInstance())));
    }

    @Override
    public void loadModel(String model, Duration timeout) {
        RepositoryModelLoadRequest request = RepositoryModelLoadRequest.newBuilder().setModelName(model).build();
        call(timeout, s -> s.repositoryModelLoad(request));
    }

    @Override
    public void unloadModel(String model, Duration timeout) {
        RepositoryModelUnloadRequest request = RepositoryModelUnloadRequest.newBuilder().setModelName(model).build();
        call(timeout, s -> s.repositoryModelUnload(request));
    }

    private <T> T call(Duration timeout, Function<GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub, T> rpc) {
        try {
            return rpc.apply(stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == io.grpc.Status.Code.CANCELLED && Thread.currentThread().isInterrupted()) {
                return throwInterrupted(e);
            }
            throw Errors.fromGrpc(e);
        }
    }

    private static <T> T throwInterrupted(StatusRuntimeException e) {
        // The blocking stub cancels the call and keeps the interrupt flag set when its thread is interrupted.
        throw new ServalClientException(ServalClientException.Status.CANCELLED, "interrupted", null, e);
    }

    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(CLOSE_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
