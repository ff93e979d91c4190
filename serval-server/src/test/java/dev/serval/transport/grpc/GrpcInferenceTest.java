package dev.serval.transport.grpc;

import static dev.serval.transport.grpc.GrpcFixtures.canonical;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub;
import dev.serval.protocol.grpc.InferParameter;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.protocol.grpc.ModelMetadataRequest;
import dev.serval.protocol.grpc.ModelMetadataResponse;
import dev.serval.protocol.grpc.ModelReadyRequest;
import dev.serval.protocol.grpc.ServerLiveRequest;
import dev.serval.protocol.grpc.ServerMetadataRequest;
import dev.serval.protocol.grpc.ServerMetadataResponse;
import dev.serval.protocol.grpc.ServerReadyRequest;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every RPC of inference.GRPCInferenceService over a real channel against the example models:
 * health and metadata, the reference outputs through typed and raw contents, answers bit-identical
 * to the REST JSON path's, and parameters, ids and requested outputs passed through.
 */
class GrpcInferenceTest {
    private static TestServer bundled;
    private static TestServer testModels;
    private static ManagedChannel bundledChannel;
    private static ManagedChannel testChannel;

    @BeforeAll
    static void start() {
        bundled = TestServer.start(Examples.repository());
        testModels = TestServer.start(Examples.testRepository());
        bundledChannel = GrpcFixtures.channel(bundled.grpcPort());
        testChannel = GrpcFixtures.channel(testModels.grpcPort());
    }

    @AfterAll
    static void stop() throws InterruptedException {
        GrpcFixtures.close(bundledChannel);
        GrpcFixtures.close(testChannel);
        bundled.close();
        testModels.close();
    }

    private static GRPCInferenceServiceBlockingStub stub() {
        return GrpcFixtures.stub(bundledChannel);
    }

    private static ModelInferRequest iris(boolean raw, float... flower) {
        StringBuilder data = new StringBuilder();
        for (float value : flower) {
            data.append(data.isEmpty() ? "" : ",").append(value);
        }
        return GrpcFixtures.request("iris", GrpcFixtures.parse("""
                {"inputs": [{"name": "input", "datatype": "FP32", "shape": [%d, 4], "data": [%s]}]}"""
                .formatted(flower.length / 4, data)), raw);
    }

    @Test
    void health_andServerMetadata() {
        assertThat(stub().serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
        assertThat(stub().serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
        ServerMetadataResponse metadata = stub().serverMetadata(ServerMetadataRequest.getDefaultInstance());
        assertThat(metadata.getName()).isEqualTo("serval");
        assertThat(metadata.getVersion()).isNotEmpty();
        assertThat(metadata.getExtensionsList()).contains("classification");
    }

    @Test
    void modelReady_trueForLoadedModels_notFoundForUnknownOnes() {
        assertThat(stub().modelReady(ModelReadyRequest.newBuilder().setName("iris").build()).getReady()).isTrue();
        assertThat(stub().modelReady(ModelReadyRequest.newBuilder().setName("iris_small").setVersion("2").build())
                .getReady()).isTrue();
        assertThatThrownBy(() -> stub().modelReady(ModelReadyRequest.newBuilder().setName("nope").build()))
                .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "unknown model 'nope'"));
        assertThatThrownBy(() -> stub().modelReady(ModelReadyRequest.newBuilder().setName("iris").setVersion("7").build()))
                .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "unknown version '7' of model 'iris'"));
    }

    @Test
    void modelMetadata_matchesTheRestAnswer() {
        ModelMetadataResponse metadata = stub().modelMetadata(ModelMetadataRequest.newBuilder().setName("iris").build());
        JsonNode rest = GrpcFixtures.parse(bundled.get("/v2/models/iris").body());
        assertThat(metadata.getName()).isEqualTo("iris");
        assertThat(metadata.getPlatform()).isEqualTo(rest.get("platform").asText());
        assertThat(metadata.getVersionsList()).containsExactly("1");
        assertThat(metadata.getInputsCount()).isEqualTo(1);
        assertThat(metadata.getInputs(0).getName()).isEqualTo("input");
        assertThat(metadata.getInputs(0).getDatatype()).isEqualTo("FP32");
        assertThat(metadata.getInputs(0).getShapeList()).containsExactly(-1L, 4L);
        assertThat(metadata.getOutputsList()).extracting(o -> o.getName()).containsExactly("logits", "probabilities");
        assertThatThrownBy(() -> stub().modelMetadata(ModelMetadataRequest.newBuilder().setName("nope").build()))
                .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "unknown model 'nope'"));
    }

    @Test
    void infer_typedContents_answersTyped_andEchoesTheId() {
        ModelInferResponse response = stub().modelInfer(iris(false, 5.1f, 3.5f, 1.4f, 0.2f).toBuilder().setId("a1").build());
        assertThat(response.getModelName()).isEqualTo("iris");
        assertThat(response.getModelVersion()).isEqualTo("1");
        assertThat(response.getId()).isEqualTo("a1");
        assertThat(response.getRawOutputContentsCount()).isZero();
        assertThat(response.getOutputsList()).extracting(o -> o.getName()).containsExactly("logits", "probabilities");
        assertThat(response.getOutputs(1).getShapeList()).containsExactly(1L, 3L);
        assertThat(response.getOutputs(1).getContents().getFp32Contents(0)).isEqualTo(0.9999993f);
    }

    @Test
    void infer_rawContents_answersRaw() {
        ModelInferResponse raw = stub().modelInfer(iris(true, 5.1f, 3.5f, 1.4f, 0.2f));
        ModelInferResponse typed = stub().modelInfer(iris(false, 5.1f, 3.5f, 1.4f, 0.2f));
        assertThat(raw.getRawOutputContentsCount()).isEqualTo(2);
        assertThat(raw.getOutputs(0).hasContents()).isFalse();
        assertThat(raw.getRawOutputContents(1).size()).isEqualTo(3 * 4);
        assertThat(canonical(raw, 0)).isEqualTo(canonical(typed, 0));
        assertThat(canonical(raw, 1)).isEqualTo(canonical(typed, 1));
    }

    @Test
    void infer_requestedOutputsAndClassification_passThroughLikeRest() {
        ModelInferRequest request = iris(false, 6.7f, 3.0f, 5.2f, 2.3f).toBuilder()
                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("probabilities")
                        .putParameters("classification", InferParameter.newBuilder().setInt64Param(2).build()))
                .build();
        ModelInferResponse response = stub().modelInfer(request);
        assertThat(response.getOutputsCount()).isEqualTo(1);
        assertThat(response.getOutputs(0).getDatatype()).isEqualTo("BYTES");
        assertThat(response.getOutputs(0).getShapeList()).containsExactly(1L, 2L);
        Reply rest = bundled.post("/v2/models/iris/infer", """
                {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [6.7, 3.0, 5.2, 2.3]}],
                 "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]}""");
        assertThat(canonical(response, 0)).isEqualTo(canonical(rest.json().get("outputs").get(0)))
                .first().asString().endsWith(":2:virginica");

        // The same through raw contents: BYTES come back length-prefixed.
        ModelInferResponse raw = stub().modelInfer(request.toBuilder().clearInputs()
                .mergeFrom(iris(true, 6.7f, 3.0f, 5.2f, 2.3f)).build());
        assertThat(raw.getRawOutputContentsCount()).isEqualTo(1);
        assertThat(canonical(raw, 0)).isEqualTo(canonical(response, 0));
    }

    @Test
    void infer_requestParameters_reachTheModel() {
        // priority is checked by the model against its levels, exactly as over REST.
        ModelInferRequest request = iris(false, 5.1f, 3.5f, 1.4f, 0.2f).toBuilder()
                .putParameters("priority", InferParameter.newBuilder().setUint64Param(5).build())
                .build();
        assertThatThrownBy(() -> stub().modelInfer(request))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "parameter 'priority' is 5"));
        Reply rest = bundled.post("/v2/models/iris/infer", """
                {"parameters": {"priority": 5},
                 "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}""");
        assertThat(rest.status()).isEqualTo(400);
        assertThat(((StatusRuntimeException) catchCall(() -> stub().modelInfer(request))).getStatus().getDescription())
                .isEqualTo(rest.error());
        ModelInferRequest timed = iris(false, 5.1f, 3.5f, 1.4f, 0.2f).toBuilder()
                .putParameters("timeout", InferParameter.newBuilder().setInt64Param(60_000_000).build())
                .putParameters("priority", InferParameter.newBuilder().setInt64Param(0).build())
                .putParameters("note", InferParameter.newBuilder().setStringParam("anything").build())
                .build();
        assertThat(stub().modelInfer(timed).getOutputsCount()).isEqualTo(2);
    }

    @Test
    void infer_unknownModelOrVersion_isNotFound() {
        assertThatThrownBy(() -> stub().modelInfer(iris(false, 1, 2, 3, 4).toBuilder().setModelName("nope").build()))
                .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "unknown model 'nope'"));
        assertThatThrownBy(() -> stub().modelInfer(iris(false, 1, 2, 3, 4).toBuilder().setModelVersion("9").build()))
                .satisfies(e -> assertStatus(e, Status.Code.NOT_FOUND, "unknown version '9' of model 'iris'"));
    }

    @Test
    void infer_versionedModel_answersTheVersionAskedFor() {
        ModelInferRequest request = GrpcFixtures.request("iris_small", GrpcFixtures.parse("""
                {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}]}"""),
                false);
        assertThat(stub().modelInfer(request.toBuilder().setModelVersion("1").build()).getModelVersion()).isEqualTo("1");
        assertThat(stub().modelInfer(request).getModelVersion()).isEqualTo("2");
    }

    static Stream<Arguments> references() {
        List<Arguments> cases = new ArrayList<>();
        for (String model : List.of("iris", "datatypes")) {
            JsonNode reference = GrpcFixtures.read(Examples.references().resolve(model + ".json"));
            for (JsonNode testCase : reference.get("cases")) {
                for (boolean raw : new boolean[] {false, true}) {
                    cases.add(Arguments.of(model + ": " + testCase.get("name").asText() + (raw ? " (raw)" : " (typed)"),
                            reference, testCase, raw));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("references")
    void infer_matchesReferenceOutputs_andTheRestAnswerBitForBit(String name, JsonNode reference, JsonNode testCase,
                                                                   boolean raw) {
        String model = reference.get("model").asText();
        boolean test = "test-repository".equals(reference.path("repository").asText());
        ModelInferResponse response = GrpcFixtures.stub(test ? testChannel : bundledChannel)
                .modelInfer(GrpcFixtures.request(model, testCase.get("request"), raw));
        assertThat(response.getRawOutputContentsCount()).isEqualTo(raw ? response.getOutputsCount() : 0);
        Reply rest = (test ? testModels : bundled).post("/v2/models/" + model + "/infer", testCase.get("request").toString());
        assertThat(rest.status()).as(rest.body()).isEqualTo(200);
        JsonNode restOutputs = GrpcFixtures.parse(rest.body()).get("outputs");

        double absolute = reference.get("tolerance").get("absolute").asDouble();
        double relative = reference.get("tolerance").get("relative").asDouble();
        JsonNode expected = testCase.get("response").get("outputs");
        assertThat(response.getOutputsCount()).isEqualTo(expected.size());
        for (int i = 0; i < response.getOutputsCount(); i++) {
            String output = response.getOutputs(i).getName();
            JsonNode want = find(expected, output);
            assertThat(response.getOutputs(i).getDatatype()).isEqualTo(want.get("datatype").asText());
            assertThat(response.getOutputs(i).getShapeList())
                    .containsExactlyElementsOf(GrpcFixtures.flatten(want.get("shape")).stream().map(JsonNode::asLong).toList());
            List<String> got = canonical(response, i);
            assertThat(got).as("%s: gRPC and REST answers", output).isEqualTo(canonical(find(restOutputs, output)));
            List<String> wanted = canonical(want);
            assertThat(got).hasSameSizeAs(wanted);
            String type = response.getOutputs(i).getDatatype();
            for (int k = 0; k < got.size(); k++) {
                if (type.equals("FP32") || type.equals("FP64")) {
                    double g = GrpcFixtures.value(got.get(k));
                    double w = GrpcFixtures.value(wanted.get(k));
                    assertThat(Math.abs(g - w)).as("%s[%d]", output, k).isLessThanOrEqualTo(absolute + relative * Math.abs(w));
                } else {
                    assertThat(got.get(k)).as("%s[%d]", output, k).isEqualTo(wanted.get(k));
                }
            }
        }
    }

    @Test
    void infer_everyTypedFieldOfTheDatatypesModel_roundTrips() {
        ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName("datatypes");
        addInput(request, "fp32", "FP32", InferTensorContents.newBuilder().addFp32Contents(Float.NaN).addFp32Contents(-0.0f));
        addInput(request, "fp64", "FP64", InferTensorContents.newBuilder().addFp64Contents(Double.NEGATIVE_INFINITY).addFp64Contents(Double.MIN_VALUE));
        addInput(request, "int8", "INT8", InferTensorContents.newBuilder().addIntContents(-128).addIntContents(127));
        addInput(request, "int16", "INT16", InferTensorContents.newBuilder().addIntContents(-32768).addIntContents(32767));
        addInput(request, "int32", "INT32", InferTensorContents.newBuilder().addIntContents(Integer.MIN_VALUE).addIntContents(Integer.MAX_VALUE));
        addInput(request, "int64", "INT64", InferTensorContents.newBuilder().addInt64Contents(Long.MIN_VALUE).addInt64Contents(Long.MAX_VALUE));
        addInput(request, "uint8", "UINT8", InferTensorContents.newBuilder().addUintContents(0).addUintContents(255));
        addInput(request, "bool", "BOOL", InferTensorContents.newBuilder().addBoolContents(true).addBoolContents(false));
        addInput(request, "string", "BYTES", InferTensorContents.newBuilder()
                .addBytesContents(com.google.protobuf.ByteString.copyFromUtf8("Grüße"))
                .addBytesContents(com.google.protobuf.ByteString.copyFrom(new byte[] {0, 'a'})));
        ModelInferResponse response = GrpcFixtures.stub(testChannel).modelInfer(request.build());
        InferTensorContents fp32 = output(response, "fp32_out");
        assertThat(Float.floatToRawIntBits(fp32.getFp32Contents(0))).isEqualTo(Float.floatToRawIntBits(Float.NaN));
        assertThat(Float.floatToRawIntBits(fp32.getFp32Contents(1))).isEqualTo(Float.floatToRawIntBits(-0.0f));
        assertThat(output(response, "fp64_out").getFp64ContentsList()).containsExactly(Double.NEGATIVE_INFINITY, Double.MIN_VALUE);
        assertThat(output(response, "int8_out").getIntContentsList()).containsExactly(-128, 127);
        assertThat(output(response, "int16_out").getIntContentsList()).containsExactly(-32768, 32767);
        assertThat(output(response, "int32_out").getIntContentsList()).containsExactly(Integer.MIN_VALUE, Integer.MAX_VALUE);
        assertThat(output(response, "int64_out").getInt64ContentsList()).containsExactly(Long.MIN_VALUE, Long.MAX_VALUE);
        assertThat(output(response, "uint8_out").getUintContentsList()).containsExactly(0, 255);
        assertThat(output(response, "bool_out").getBoolContentsList()).containsExactly(true, false);
        assertThat(output(response, "string_out").getBytesContentsList()).extracting(b -> b.toByteArray())
                .containsExactly("Grüße".getBytes(java.nio.charset.StandardCharsets.UTF_8), new byte[] {0, 'a'});
    }

    private static void addInput(ModelInferRequest.Builder request, String name, String type, InferTensorContents.Builder contents) {
        request.addInputsBuilder().setName(name).setDatatype(type).addShape(1).addShape(2).setContents(contents);
    }

    private static InferTensorContents output(ModelInferResponse response, String name) {
        return response.getOutputsList().stream().filter(o -> o.getName().equals(name)).findFirst().orElseThrow().getContents();
    }

    private static JsonNode find(JsonNode outputs, String name) {
        for (JsonNode output : outputs) {
            if (output.get("name").asText().equals(name)) {
                return output;
            }
        }
        throw new AssertionError("no output '" + name + "' in " + outputs);
    }

    static Throwable catchCall(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            return e;
        }
        throw new AssertionError("the call succeeded");
    }

    static void assertStatus(Throwable error, Status.Code code, String descriptionPart) {
        assertThat(error).isInstanceOf(StatusRuntimeException.class);
        Status status = ((StatusRuntimeException) error).getStatus();
        assertThat(status.getCode()).as(String.valueOf(status)).isEqualTo(code);
        assertThat(status.getDescription()).contains(descriptionPart);
    }
}
