package dev.serval.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.serval.client.ServalClientException.Status;
import dev.serval.server.ServalServer;
import org.junit.jupiter.api.Test;

/**
 * The client over gRPC against a real Serval: health, metadata, the reference outputs, the same
 * bytes as over JSON, and the same errors.
 */
class GrpcServerTest extends ServerWireTest {
    @Override
    ServalClient connect(ServalServer server) {
        return ServalClient.grpc("127.0.0.1", server.grpcPort());
    }

    @Test
    void healthAndMetadata_matchRest() {
        assertThat(wire.live()).isTrue();
        assertThat(wire.ready()).isTrue();
        assertThat(wire.modelReady("iris")).isTrue();
        assertThat(wire.modelReady("iris", "1")).isTrue();
        assertThat(wire.serverMetadata()).isEqualTo(json.serverMetadata());
        assertThat(wire.modelMetadata("iris")).isEqualTo(json.modelMetadata("iris"));
        assertThat(testWire.modelMetadata("datatypes", "1")).isEqualTo(testJson.modelMetadata("datatypes", "1"));
    }

    @Test
    void infer_idClassificationAndSelectedOutputsMatchJson() {
        InferRequest request = InferRequest.builder("iris").id("g1")
                .input(InferInput.fp32("input", new long[] {2, 4}, new float[] {6.7f, 3.0f, 5.2f, 2.3f, 5.1f, 3.5f, 1.4f, 0.2f}))
                .output("probabilities", 2)
                .output("logits")
                .priority(1)
                .build();
        InferResult result = wire.infer(request);
        assertThat(result.id()).contains("g1");
        References.assertIdentical(result, json.infer(request));
    }

    @Test
    void errors_haveTheSameStatusAndMessageAsOverRest() {
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
        ServalClientException metadata = catchThrowableOfType(ServalClientException.class, () -> wire.modelMetadata("no_such_model"));
        assertThat(metadata.status()).isEqualTo(Status.NOT_FOUND);
    }
}
