package dev.serval.transport.grpc;

import static dev.serval.transport.grpc.GrpcInferenceTest.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelMetadataRequest;
import dev.serval.protocol.grpc.ModelReadyRequest;
import dev.serval.protocol.grpc.ServerLiveRequest;
import dev.serval.protocol.grpc.ServerMetadataRequest;
import dev.serval.protocol.grpc.ServerReadyRequest;
import dev.serval.server.ServerOptions;
import dev.serval.testing.Certificates;
import dev.serval.testing.Examples;
import dev.serval.testing.TestServer;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bearer tokens, TLS, the message size limit and turning gRPC off, each on a server of its own. */
class GrpcAccessTest {
    private static final ModelInferRequest IRIS = GrpcFixtures.request("iris", GrpcFixtures.parse("""
            {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]}"""), true);

    private static GRPCInferenceServiceBlockingStub withToken(GRPCInferenceServiceBlockingStub stub, String authorization) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), authorization);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    @Test
    void inferenceToken_isRequiredForInferenceAndMetadata_notForHealth() throws Exception {
        ServerOptions options = ServerOptions.defaults(Examples.repository())
                .withTokens(Optional.of("infer-secret"), Optional.of("admin-secret"));
        try (TestServer server = TestServer.start(options)) {
            ManagedChannel channel = GrpcFixtures.channel(server.grpcPort());
            try {
                GRPCInferenceServiceBlockingStub anonymous = GrpcFixtures.stub(channel);
                assertThatThrownBy(() -> anonymous.modelInfer(IRIS)).satisfies(e -> assertStatus(e,
                        Status.Code.UNAUTHENTICATED, "needs the metadata 'authorization: Bearer <token>'"));
                assertThatThrownBy(() -> anonymous.modelMetadata(ModelMetadataRequest.newBuilder().setName("iris").build()))
                        .satisfies(e -> assertStatus(e, Status.Code.UNAUTHENTICATED, "Bearer"));
                assertThatThrownBy(() -> anonymous.serverMetadata(ServerMetadataRequest.getDefaultInstance()))
                        .satisfies(e -> assertStatus(e, Status.Code.UNAUTHENTICATED, "Bearer"));
                assertThatThrownBy(() -> anonymous.modelReady(ModelReadyRequest.newBuilder().setName("iris").build()))
                        .satisfies(e -> assertStatus(e, Status.Code.UNAUTHENTICATED, "Bearer"));
                assertThatThrownBy(() -> withToken(anonymous, "Bearer wrong").modelInfer(IRIS))
                        .satisfies(e -> assertStatus(e, Status.Code.UNAUTHENTICATED, "Bearer"));
                assertThatThrownBy(() -> withToken(anonymous, "infer-secret").modelInfer(IRIS))
                        .as("the scheme is required").satisfies(e -> assertStatus(e, Status.Code.UNAUTHENTICATED, "Bearer"));

                assertThat(withToken(anonymous, "Bearer infer-secret").modelInfer(IRIS).getOutputsCount()).isEqualTo(2);
                assertThat(withToken(anonymous, "bearer admin-secret").modelInfer(IRIS).getOutputsCount())
                        .as("the admin token also grants inference").isEqualTo(2);
                assertThat(withToken(anonymous, "Bearer infer-secret")
                        .modelMetadata(ModelMetadataRequest.newBuilder().setName("iris").build()).getName()).isEqualTo("iris");

                assertThat(anonymous.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
                assertThat(anonymous.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
            } finally {
                GrpcFixtures.close(channel);
            }
        }
    }

    @Test
    void tls_servesWithTheRestCertificateAndKey(@TempDir Path dir) throws Exception {
        Certificates.Pair pair = Certificates.selfSigned(dir);
        Path certificate = pair.certificate();
        Path key = pair.key();

        ServerOptions options = ServerOptions.defaults(Examples.repository()).withTls(certificate, key);
        try (TestServer server = TestServer.start(options, java.net.http.HttpClient.newHttpClient())) {
            ChannelCredentials trusting = TlsChannelCredentials.newBuilder().trustManager(certificate.toFile()).build();
            ManagedChannel secure = Grpc.newChannelBuilderForAddress("127.0.0.1", server.grpcPort(), trusting).build();
            ManagedChannel plain = GrpcFixtures.channel(server.grpcPort());
            try {
                assertThat(GrpcFixtures.stub(secure).modelInfer(IRIS).getModelName()).isEqualTo("iris");
                assertThatThrownBy(() -> GrpcFixtures.stub(plain).serverLive(ServerLiveRequest.getDefaultInstance()))
                        .as("plaintext is refused")
                        .satisfies(e -> assertThat(((io.grpc.StatusRuntimeException) e).getStatus().getCode())
                                .isEqualTo(Status.Code.UNAVAILABLE));
            } finally {
                GrpcFixtures.close(secure);
                GrpcFixtures.close(plain);
            }
        }
    }

    @Test
    void messagesOverMaxRequestSize_areResourceExhausted() throws Exception {
        try (TestServer server = TestServer.start(ServerOptions.defaults(Examples.repository()).withMaxRequestBytes(4096))) {
            ManagedChannel channel = GrpcFixtures.channel(server.grpcPort());
            try {
                ModelInferRequest large = IRIS.toBuilder().setInputs(0, IRIS.getInputs(0).toBuilder().setShape(0, 300))
                        .setRawInputContents(0, ByteString.copyFrom(new byte[300 * 4 * 4])).build();
                assertThatThrownBy(() -> GrpcFixtures.stub(channel).modelInfer(large))
                        .satisfies(e -> assertStatus(e, Status.Code.RESOURCE_EXHAUSTED, "exceeds maximum size 4096"));
                assertThat(GrpcFixtures.stub(channel).modelInfer(IRIS).getOutputsCount())
                        .as("the connection and the server carry on").isEqualTo(2);
            } finally {
                GrpcFixtures.close(channel);
            }
        }
    }

    @Test
    void grpcPortMinusOne_turnsGrpcOff() {
        try (TestServer server = TestServer.start(ServerOptions.defaults(Examples.repository())
                .withGrpcPort(ServerOptions.GRPC_OFF))) {
            assertThat(server.grpcPort()).isEqualTo(-1);
            assertThat(server.get("/v2/health/live").status()).isEqualTo(200);
        }
        assertThatThrownBy(() -> ServerOptions.defaults(Examples.repository()).withGrpcPort(-2))
                .hasMessageContaining("--grpc-port must be 0 to 65535, or -1 for no gRPC, was -2");
        assertThatThrownBy(() -> ServerOptions.defaults(Examples.repository()).withGrpcPort(8000))
                .hasMessageContaining("--grpc-port and --http-port are both 8000");
    }
}
