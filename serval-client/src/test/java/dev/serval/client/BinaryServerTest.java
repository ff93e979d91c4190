package dev.serval.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.serval.client.ServalClientException.Status;
import dev.serval.server.ServalServer;
import org.junit.jupiter.api.Test;

/**
 * The client over REST with the binary tensor data extension against a real Serval: the reference
 * outputs, and the same bytes as over JSON.
 */
class BinaryServerTest extends ServerWireTest {
    @Override
    ServalClient connect(ServalServer server) {
        return ServalClient.restBinary(TestServers.http(server));
    }

    @Test
    void serverMetadata_advertisesTheExtension() {
        assertThat(wire.serverMetadata().extensions()).contains("binary_tensor_data");
    }

    @Test
    void infer_classificationAndSelectedOutputsMatchJson() {
        InferRequest request = InferRequest.builder("iris").id("b1")
                .input(InferInput.fp32("input", new long[] {2, 4}, new float[] {6.7f, 3.0f, 5.2f, 2.3f, 5.1f, 3.5f, 1.4f, 0.2f}))
                .output("probabilities", 2)
                .output("logits")
                .build();
        InferResult result = wire.infer(request);
        assertThat(result.id()).contains("b1");
        References.assertIdentical(result, json.infer(request));
    }

    @Test
    void errors_areTheSameAsOverJson() {
        InferRequest wrongShape = InferRequest.builder("iris")
                .input(InferInput.fp32("input", new long[] {1, 3}, new float[] {1, 2, 3})).build();
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> wire.infer(wrongShape));
        assertThat(e.status()).isEqualTo(Status.INVALID_ARGUMENT);
        assertThat(e.getMessage()).isEqualTo("input 'input' has shape [1,3] but model 'iris' expects [-1,4]");

        InferRequest unknown = InferRequest.builder("no_such_model")
                .input(InferInput.fp32("input", new long[] {1}, new float[] {1})).build();
        ServalClientException missing = catchThrowableOfType(ServalClientException.class, () -> wire.infer(unknown));
        assertThat(missing.status()).isEqualTo(Status.NOT_FOUND);
        assertThat(missing.getMessage()).isEqualTo(
                catchThrowableOfType(ServalClientException.class, () -> json.infer(unknown)).getMessage());
    }
}
