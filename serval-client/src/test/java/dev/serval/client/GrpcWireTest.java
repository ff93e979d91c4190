package dev.serval.client;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import dev.serval.client.ServalClientException.Status;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.protocol.grpc.InferParameter;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.protocol.grpc.ModelMetadataRequest;
import dev.serval.protocol.grpc.ModelMetadataResponse;
import dev.serval.protocol.grpc.ModelReadyRequest;
import dev.serval.protocol.grpc.ModelReadyResponse;
import dev.serval.protocol.grpc.ServerLiveRequest;
import dev.serval.protocol.grpc.ServerLiveResponse;
import dev.serval.protocol.grpc.ServerMetadataRequest;
import dev.serval.protocol.grpc.ServerMetadataResponse;
import dev.serval.protocol.grpc.ServerReadyRequest;
import dev.serval.protocol.grpc.ServerReadyResponse;
import dev.serval.testing.Certificates;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The gRPC wire against a fake GRPCInferenceService served by grpc-java's Netty transport on a
 * loopback port: the request's messages and raw_input_contents byte for byte, raw and typed outputs,
 * status mapping, deadlines, the bearer token and TLS.
 */
class GrpcWireTest {
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    /** Records each inference request and answers with {@link #answer}. */
    static final class FakeService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
        volatile ModelInferRequest received;
        volatile Function<ModelInferRequest, ModelInferResponse> answer;
        volatile boolean hang;

        @Override
        public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> response) {
            received = request;
            if (hang) {
                return;
            }
            try {
                response.onNext(answer.apply(request));
                response.onCompleted();
            } catch (StatusRuntimeException e) {
                response.onError(e);
            }
        }

        @Override
        public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> response) {
            response.onNext(ServerLiveResponse.newBuilder().setLive(true).build());
            response.onCompleted();
        }

        @Override
        public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> response) {
            response.onNext(ServerReadyResponse.newBuilder().setReady(false).build());
            response.onCompleted();
        }

        @Override
        public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> response) {
            if (!request.getName().equals("m")) {
                response.onError(io.grpc.Status.NOT_FOUND.withDescription("unknown model '" + request.getName() + "'")
                        .asRuntimeException());
                return;
            }
            response.onNext(ModelReadyResponse.newBuilder().setReady(request.getVersion().equals("2")).build());
            response.onCompleted();
        }

        @Override
        public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> response) {
            response.onNext(ServerMetadataResponse.newBuilder().setName("fake").setVersion("9")
                    .addExtensions("binary_tensor_data").build());
            response.onCompleted();
        }

        @Override
        public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> response) {
            response.onNext(ModelMetadataResponse.newBuilder().setName(request.getName()).addVersions("1").addVersions("2")
                    .setPlatform("onnxruntime_onnx")
                    .addInputs(ModelMetadataResponse.TensorMetadata.newBuilder().setName("x").setDatatype("FP16")
                            .addShape(-1).addShape(3))
                    .addOutputs(ModelMetadataResponse.TensorMetadata.newBuilder().setName("y").setDatatype("INT8").addShape(-1))
                    .build());
            response.onCompleted();
        }
    }

    private final FakeService service = new FakeService();
    private volatile String authorization;
    private Server server;
    private ServalClient client;

    @BeforeEach
    void start() throws IOException {
        server = serve(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)));
        client = ServalClient.builder().endpoint(URI.create("http://127.0.0.1:" + server.getPort()))
                .protocol(Protocol.GRPC).bearerToken("t0k").build();
    }

    private Server serve(NettyServerBuilder builder) throws IOException {
        return builder.addService(ServerInterceptors.intercept(service, new io.grpc.ServerInterceptor() {
            @Override
            public <Q, A> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, A> call, Metadata headers,
                                                                       io.grpc.ServerCallHandler<Q, A> next) {
                authorization = headers.get(AUTHORIZATION);
                return next.startCall(call, headers);
            }
        })).build().start();
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }

    private static ByteString le(ByteBuffer buffer) {
        return ByteString.copyFrom(buffer.flip());
    }

    private static ByteBuffer allocate(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void infer_sendsRawInputContentsAndReadsRawOutputContents() {
        ByteBuffer fp16 = allocate(4).putShort(Float.floatToFloat16(0.5f)).putShort(Float.floatToFloat16(-8f)).flip();
        byte[] pixels = {0, 127, (byte) 128, (byte) 255};
        InferRequest request = InferRequest.builder("m").version("2").id("r9")
                .input(InferInput.fp32("x", new long[] {1, 3}, new float[] {1.5f, -0.0f, Float.NaN}))
                .input(InferInput.uint8("img", new long[] {2, 2}, pixels))
                .input(InferInput.bytes("s", new long[] {2}, new String[] {"", "世界"}))
                .input(InferInput.int16("i16", new long[] {2}, new short[] {Short.MIN_VALUE, 7}))
                .input(InferInput.fp64("d", new long[] {1}, new double[] {Math.PI}))
                .input(InferInput.of("h", DataType.FP16, new long[] {2}, fp16))
                .output("y")
                .output("top", 3)
                .priority(2)
                .scheduleTimeout(Duration.ofMillis(20))
                .parameter("flag", true)
                .parameter("ratio", 0.5f)
                .parameter("tag", "blue")
                .build();
        service.answer = received -> ModelInferResponse.newBuilder().setModelName("m").setModelVersion("2").setId(received.getId())
                .putParameters("degraded", InferParameter.newBuilder().setBoolParam(true).build())
                .putParameters("fallback_model", InferParameter.newBuilder().setStringParam("m_small").build())
                .addOutputs(output("y", "FP32", 2, 2).putParameters("note", InferParameter.newBuilder().setInt64Param(7).build()))
                .addRawOutputContents(le(allocate(16).putFloat(1f).putFloat(-2f).putFloat(Float.MIN_VALUE).putFloat(-0.0f)))
                .addOutputs(output("ids", "INT64", 2))
                .addRawOutputContents(le(allocate(16).putLong(Long.MAX_VALUE).putLong(-1)))
                .addOutputs(output("top", "BYTES", 1, 1))
                .addRawOutputContents(le(allocate(4 + 3).putInt(3).put("a:b".getBytes(UTF_8))))
                .addOutputs(output("half", "FP16", 1))
                .addRawOutputContents(le(allocate(2).putShort(Float.floatToFloat16(0.25f))))
                .addOutputs(output("mask", "BOOL", 2))
                .addRawOutputContents(ByteString.copyFrom(new byte[] {1, 0}))
                .build();

        InferResult result = client.infer(request);

        ModelInferRequest sent = service.received;
        assertThat(authorization).isEqualTo("Bearer t0k");
        assertThat(sent.getModelName()).isEqualTo("m");
        assertThat(sent.getModelVersion()).isEqualTo("2");
        assertThat(sent.getId()).isEqualTo("r9");
        assertThat(sent.getParametersMap().get("priority").getInt64Param()).isEqualTo(2);
        assertThat(sent.getParametersMap().get("timeout").getInt64Param()).isEqualTo(20_000);
        assertThat(sent.getParametersMap().get("flag").getBoolParam()).isTrue();
        assertThat(sent.getParametersMap().get("ratio").getDoubleParam()).isEqualTo(0.5);
        assertThat(sent.getParametersMap().get("tag").getStringParam()).isEqualTo("blue");
        assertThat(sent.getInputsList()).extracting(ModelInferRequest.InferInputTensor::getName)
                .containsExactly("x", "img", "s", "i16", "d", "h");
        assertThat(sent.getInputs(0).getDatatype()).isEqualTo("FP32");
        assertThat(sent.getInputs(0).getShapeList()).containsExactly(1L, 3L);
        assertThat(sent.getInputs(0).hasContents()).isFalse();
        assertThat(sent.getInputs(5).getDatatype()).isEqualTo("FP16");
        assertThat(sent.getRawInputContentsCount()).isEqualTo(6);
        assertThat(sent.getRawInputContents(0)).isEqualTo(le(allocate(12).putFloat(1.5f).putFloat(-0.0f).putFloat(Float.NaN)));
        assertThat(sent.getRawInputContents(1).toByteArray()).isEqualTo(pixels);
        assertThat(sent.getRawInputContents(2)).isEqualTo(le(allocate(4 + 4 + 6).putInt(0).putInt(6).put("世界".getBytes(UTF_8))));
        assertThat(sent.getRawInputContents(3)).isEqualTo(le(allocate(4).putShort(Short.MIN_VALUE).putShort((short) 7)));
        assertThat(sent.getRawInputContents(4)).isEqualTo(le(allocate(8).putDouble(Math.PI)));
        assertThat(sent.getRawInputContents(5)).isEqualTo(ByteString.copyFrom(fp16.duplicate()));
        assertThat(sent.getOutputsList()).extracting(ModelInferRequest.InferRequestedOutputTensor::getName).containsExactly("y", "top");
        assertThat(sent.getOutputs(0).getParametersMap()).isEmpty();
        assertThat(sent.getOutputs(1).getParametersMap().get("classification").getInt64Param()).isEqualTo(3);

        assertThat(result.modelName()).isEqualTo("m");
        assertThat(result.modelVersion()).isEqualTo("2");
        assertThat(result.id()).contains("r9");
        assertThat(result.degraded()).isTrue();
        assertThat(result.parameters()).containsEntry("fallback_model", "m_small");
        InferOutput y = result.output("y");
        assertThat(y.shape()).containsExactly(2, 2);
        assertThat(y.parameters()).containsEntry("note", 7L);
        assertThat(y.toFloatArray()).containsExactly(1f, -2f, Float.MIN_VALUE, -0.0f);
        assertThat(y.buffer().isReadOnly()).isTrue();
        assertThat(result.output("ids").toLongArray()).containsExactly(Long.MAX_VALUE, -1L);
        assertThat(result.output("top").toStringArray()).containsExactly("a:b");
        assertThat(result.output("half").toFloatArray()).containsExactly(0.25f);
        assertThat(result.output("mask").toBooleanArray()).containsExactly(true, false);
    }

    private static ModelInferResponse.InferOutputTensor.Builder output(String name, String datatype, long... shape) {
        ModelInferResponse.InferOutputTensor.Builder tensor = ModelInferResponse.InferOutputTensor.newBuilder()
                .setName(name).setDatatype(datatype);
        for (long dim : shape) {
            tensor.addShape(dim);
        }
        return tensor;
    }

    private static InferRequest oneInput() {
        return InferRequest.builder("m").input(InferInput.fp32("x", new long[] {1}, new float[] {1})).build();
    }

    @Test
    void infer_readsTypedContentsFromServersThatSendThem() {
        service.answer = received -> ModelInferResponse.newBuilder().setModelName("m")
                .addOutputs(output("f", "FP32", 2).setContents(InferTensorContents.newBuilder().addFp32Contents(1.25f).addFp32Contents(-3f)))
                .addOutputs(output("i8", "INT8", 3).setContents(InferTensorContents.newBuilder()
                        .addIntContents(-128).addIntContents(0).addIntContents(127)))
                .addOutputs(output("u16", "UINT16", 1).setContents(InferTensorContents.newBuilder().addUintContents(65535)))
                .addOutputs(output("s", "BYTES", 2).setContents(InferTensorContents.newBuilder()
                        .addBytesContents(ByteString.copyFromUtf8("héllo")).addBytesContents(ByteString.EMPTY)))
                .build();
        InferResult result = client.infer(oneInput());
        assertThat(result.output("f").toFloatArray()).containsExactly(1.25f, -3f);
        assertThat(result.output("i8").toIntArray()).containsExactly(-128, 0, 127);
        assertThat(result.output("u16").toIntArray()).containsExactly(65535);
        assertThat(result.output("s").toStringArray()).containsExactly("héllo", "");
        assertThat(result.id()).isEmpty();
    }

    @Test
    void infer_refusesMalformedAnswers() {
        assertMalformed(ModelInferResponse.newBuilder().setModelName("m")
                .addOutputs(output("y", "FP32", 2)).addOutputs(output("z", "FP32", 1))
                .addRawOutputContents(ByteString.copyFrom(new byte[8])).build(), "2 outputs but 1 raw_output_contents");
        assertMalformed(ModelInferResponse.newBuilder().setModelName("m").addOutputs(output("y", "FP32", 2))
                .addRawOutputContents(ByteString.copyFrom(new byte[7])).build(), "output 'y' has 7 bytes but FP32 shape [2] needs 8");
        assertMalformed(ModelInferResponse.newBuilder().setModelName("m").addOutputs(output("y", "FP8", 1))
                .addRawOutputContents(ByteString.copyFrom(new byte[1])).build(), "unknown datatype 'FP8'");
        assertMalformed(ModelInferResponse.newBuilder().setModelName("m").addOutputs(output("y", "INT8", 1)
                .setContents(InferTensorContents.newBuilder().addIntContents(300))).build(), "element 0 is 300");
        assertMalformed(ModelInferResponse.newBuilder().setModelName("m").addOutputs(output("y", "INT64", 2)
                .setContents(InferTensorContents.newBuilder().addInt64Contents(1))).build(), "has 1 INT64 contents but its shape needs 2");
        assertMalformed(ModelInferResponse.newBuilder().setModelName("m").addOutputs(output("y", "BYTES", 1))
                .addRawOutputContents(le(allocate(5).putInt(2).put((byte) 1))).build(), "claims 2 bytes but only 1 remain");
    }

    private void assertMalformed(ModelInferResponse response, String message) {
        service.answer = received -> response;
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> client.infer(oneInput()));
        assertThat(e.status()).isEqualTo(Status.INVALID_RESPONSE);
        assertThat(e.getMessage()).contains(message);
    }

    @Test
    void errors_mapGrpcStatusTheServersMessageAndRetryAfter() {
        Metadata trailers = new Metadata();
        trailers.put(Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER), "2");
        service.answer = received -> {
            throw io.grpc.Status.RESOURCE_EXHAUSTED.withDescription("model 'm' has 1024 requests waiting").asRuntimeException(trailers);
        };
        ServalClientException busy = catchThrowableOfType(ServalClientException.class, () -> client.infer(oneInput()));
        assertThat(busy.status()).isEqualTo(Status.RESOURCE_EXHAUSTED);
        assertThat(busy.getMessage()).isEqualTo("model 'm' has 1024 requests waiting");
        assertThat(busy.retryAfter()).contains(Duration.ofSeconds(2));

        io.grpc.Status[] statuses = {io.grpc.Status.INVALID_ARGUMENT, io.grpc.Status.NOT_FOUND, io.grpc.Status.UNAVAILABLE,
                io.grpc.Status.DEADLINE_EXCEEDED, io.grpc.Status.UNAUTHENTICATED, io.grpc.Status.PERMISSION_DENIED,
                io.grpc.Status.INTERNAL, io.grpc.Status.UNIMPLEMENTED};
        Status[] expected = {Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED,
                Status.UNAUTHENTICATED, Status.PERMISSION_DENIED, Status.INTERNAL, Status.UNIMPLEMENTED};
        for (int i = 0; i < statuses.length; i++) {
            io.grpc.Status status = statuses[i].withDescription("because " + statuses[i].getCode());
            service.answer = received -> {
                throw status.asRuntimeException();
            };
            ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> client.infer(oneInput()));
            assertThat(e.status()).as(status.getCode().name()).isEqualTo(expected[i]);
            assertThat(e.getMessage()).isEqualTo("because " + statuses[i].getCode());
            assertThat(e.retryAfter()).isEmpty();
        }
    }

    @Test
    void infer_unansweredCallEndsAtItsDeadline() {
        service.hang = true;
        ServalClientException e = catchThrowableOfType(ServalClientException.class,
                () -> client.infer(oneInput(), Duration.ofMillis(100)));
        assertThat(e.status()).isEqualTo(Status.DEADLINE_EXCEEDED);
    }

    @Test
    void healthAndMetadata() {
        assertThat(client.live()).isTrue();
        assertThat(client.ready()).isFalse();
        assertThat(client.modelReady("m", "2")).isTrue();
        assertThat(client.modelReady("m")).isFalse();
        ServalClientException unknown = catchThrowableOfType(ServalClientException.class, () -> client.modelReady("nope"));
        assertThat(unknown.status()).isEqualTo(Status.NOT_FOUND);
        assertThat(unknown.getMessage()).isEqualTo("unknown model 'nope'");
        assertThat(client.serverMetadata()).isEqualTo(new ServerMetadata("fake", "9", java.util.List.of("binary_tensor_data")));
        ModelMetadata metadata = client.modelMetadata("m");
        assertThat(metadata.versions()).containsExactly("1", "2");
        assertThat(metadata.inputs()).containsExactly(new ModelMetadata.Tensor("x", DataType.FP16, new long[] {-1, 3}));
        assertThat(metadata.outputs()).containsExactly(new ModelMetadata.Tensor("y", DataType.INT8, new long[] {-1}));
    }

    @Test
    void tls_trustsTheGivenCertificate() throws Exception {
        Certificates.Pair pair = Certificates.selfSigned();
        Server secure = serve(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .useTransportSecurity(pair.certificate().toFile(), pair.key().toFile()));
        try (ServalClient trusting = ServalClient.builder().endpoint(URI.create("https://127.0.0.1:" + secure.getPort()))
                .protocol(Protocol.GRPC).trustCertificate(pair.certificate()).build();
             ServalClient untrusting = ServalClient.builder().endpoint(URI.create("https://127.0.0.1:" + secure.getPort()))
                     .protocol(Protocol.GRPC).build()) {
            assertThat(trusting.live()).isTrue();
            ServalClientException e = catchThrowableOfType(ServalClientException.class, untrusting::live);
            assertThat(e.status()).isEqualTo(Status.UNAVAILABLE);
        } finally {
            secure.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
    }
}
