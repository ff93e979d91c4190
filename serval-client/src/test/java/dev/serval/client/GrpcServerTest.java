package dev.serval.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.serval.client.ServalClientException.Status;
import dev.serval.server.ServalServer;
import dev.serval.testing.Examples;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The client over gRPC against a real Serval: health, metadata, the reference outputs, the same
 * bytes as over JSON, and the same errors.
 */
class GrpcServerTest {
    private static ServalServer bundled;
    private static ServalServer testModels;
    private static ServalClient json;
    private static ServalClient grpc;
    private static ServalClient testJson;
    private static ServalClient testGrpc;

    @BeforeAll
    static void start() {
        bundled = TestServers.startWithGrpc(Examples.repository());
        testModels = TestServers.startWithGrpc(Examples.testRepository());
        json = ServalClient.rest(TestServers.http(bundled));
        grpc = ServalClient.grpc("127.0.0.1", TestServers.grpcPort(bundled));
        testJson = ServalClient.rest(TestServers.http(testModels));
        testGrpc = ServalClient.grpc("127.0.0.1", TestServers.grpcPort(testModels));
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable closeable : new AutoCloseable[] {json, grpc, testJson, testGrpc, bundled, testModels}) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static List<References.Case> iris() {
        return References.cases("iris");
    }

    static List<References.Case> datatypes() {
        return References.cases("datatypes");
    }

    @Test
    void healthAndMetadata_matchRest() {
        assertThat(grpc.live()).isTrue();
        assertThat(grpc.ready()).isTrue();
        assertThat(grpc.modelReady("iris")).isTrue();
        assertThat(grpc.modelReady("iris", "1")).isTrue();
        assertThat(grpc.serverMetadata()).isEqualTo(json.serverMetadata());
        assertThat(grpc.modelMetadata("iris")).isEqualTo(json.modelMetadata("iris"));
        assertThat(testGrpc.modelMetadata("datatypes", "1")).isEqualTo(testJson.modelMetadata("datatypes", "1"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("iris")
    void infer_irisMatchesReferencesAndJsonBitForBit(References.Case reference) {
        InferResult result = grpc.infer(reference.inferRequest());
        References.assertMatches(reference, result);
        References.assertIdentical(result, json.infer(reference.inferRequest()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("datatypes")
    void infer_everyDatatypeMatchesReferencesAndJsonBitForBit(References.Case reference) {
        InferResult result = testGrpc.infer(reference.inferRequest());
        References.assertMatches(reference, result);
        References.assertIdentical(result, testJson.infer(reference.inferRequest()));
    }

    @Test
    void infer_idClassificationAndSelectedOutputsMatchJson() {
        InferRequest request = InferRequest.builder("iris").id("g1")
                .input(InferInput.fp32("input", new long[] {2, 4}, new float[] {6.7f, 3.0f, 5.2f, 2.3f, 5.1f, 3.5f, 1.4f, 0.2f}))
                .output("probabilities", 2)
                .output("logits")
                .priority(1)
                .build();
        InferResult result = grpc.infer(request);
        assertThat(result.id()).contains("g1");
        References.assertIdentical(result, json.infer(request));
    }

    @Test
    void errors_haveTheSameStatusAndMessageAsOverRest() {
        InferRequest wrongShape = InferRequest.builder("iris")
                .input(InferInput.fp32("input", new long[] {1, 3}, new float[] {1, 2, 3})).build();
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> grpc.infer(wrongShape));
        assertThat(e.status()).isEqualTo(Status.INVALID_ARGUMENT);
        assertThat(e.getMessage()).isEqualTo("input 'input' has shape [1,3] but model 'iris' expects [-1,4]");

        InferRequest unknown = InferRequest.builder("no_such_model")
                .input(InferInput.fp32("input", new long[] {1}, new float[] {1})).build();
        ServalClientException missing = catchThrowableOfType(ServalClientException.class, () -> grpc.infer(unknown));
        assertThat(missing.status()).isEqualTo(Status.NOT_FOUND);
        assertThat(missing.getMessage()).isEqualTo(
                catchThrowableOfType(ServalClientException.class, () -> json.infer(unknown)).getMessage());
        ServalClientException metadata = catchThrowableOfType(ServalClientException.class, () -> grpc.modelMetadata("no_such_model"));
        assertThat(metadata.status()).isEqualTo(Status.NOT_FOUND);
    }
}
