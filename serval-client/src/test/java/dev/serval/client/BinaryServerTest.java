package dev.serval.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.serval.client.ServalClientException.Status;
import dev.serval.server.ServalServer;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The client over REST with the binary tensor data extension against a real Serval: the reference
 * outputs, and the same bytes as over JSON.
 */
class BinaryServerTest {
    private static ServalServer bundled;
    private static ServalServer testModels;
    private static ServalClient json;
    private static ServalClient binary;
    private static ServalClient testJson;
    private static ServalClient testBinary;

    @BeforeAll
    static void start() {
        bundled = TestServers.bundled();
        testModels = TestServers.testModels();
        json = ServalClient.rest(TestServers.http(bundled));
        binary = ServalClient.restBinary(TestServers.http(bundled));
        testJson = ServalClient.rest(TestServers.http(testModels));
        testBinary = ServalClient.restBinary(TestServers.http(testModels));
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable closeable : new AutoCloseable[] {json, binary, testJson, testBinary, bundled, testModels}) {
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
    void serverMetadata_advertisesTheExtension() {
        assertThat(binary.serverMetadata().extensions()).contains("binary_tensor_data");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("iris")
    void infer_irisMatchesReferencesAndJsonBitForBit(References.Case reference) {
        InferResult result = binary.infer(reference.inferRequest());
        References.assertMatches(reference, result);
        References.assertIdentical(result, json.infer(reference.inferRequest()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("datatypes")
    void infer_everyDatatypeMatchesReferencesAndJsonBitForBit(References.Case reference) {
        InferResult result = testBinary.infer(reference.inferRequest());
        References.assertMatches(reference, result);
        References.assertIdentical(result, testJson.infer(reference.inferRequest()));
    }

    @Test
    void infer_classificationAndSelectedOutputsMatchJson() {
        InferRequest request = InferRequest.builder("iris").id("b1")
                .input(InferInput.fp32("input", new long[] {2, 4}, new float[] {6.7f, 3.0f, 5.2f, 2.3f, 5.1f, 3.5f, 1.4f, 0.2f}))
                .output("probabilities", 2)
                .output("logits")
                .build();
        InferResult result = binary.infer(request);
        assertThat(result.id()).contains("b1");
        References.assertIdentical(result, json.infer(request));
    }

    @Test
    void errors_areTheSameAsOverJson() {
        InferRequest wrongShape = InferRequest.builder("iris")
                .input(InferInput.fp32("input", new long[] {1, 3}, new float[] {1, 2, 3})).build();
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> binary.infer(wrongShape));
        assertThat(e.status()).isEqualTo(Status.INVALID_ARGUMENT);
        assertThat(e.getMessage()).isEqualTo("input 'input' has shape [1,3] but model 'iris' expects [-1,4]");

        InferRequest unknown = InferRequest.builder("no_such_model")
                .input(InferInput.fp32("input", new long[] {1}, new float[] {1})).build();
        ServalClientException missing = catchThrowableOfType(ServalClientException.class, () -> binary.infer(unknown));
        assertThat(missing.status()).isEqualTo(Status.NOT_FOUND);
        assertThat(missing.getMessage()).isEqualTo(
                catchThrowableOfType(ServalClientException.class, () -> json.infer(unknown)).getMessage());
    }
}
