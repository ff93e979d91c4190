package dev.serval.transport.grpc;

import static dev.serval.transport.grpc.GrpcInferenceTest.assertStatus;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.serval.protocol.grpc.InferParameter;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferRequest.InferInputTensor;
import dev.serval.testing.Examples;
import dev.serval.testing.TestServer;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every malformed or inconsistent ModelInfer gets INVALID_ARGUMENT whose description names the
 * input, the value and what was expected, over a real channel; and the server keeps serving.
 */
class GrpcBadInputTest {
    private static TestServer server;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() {
        server = TestServer.start(Examples.testRepository());
        channel = GrpcFixtures.channel(server.grpcPort());
    }

    @AfterAll
    static void stop() throws InterruptedException {
        GrpcFixtures.close(channel);
        server.close();
    }

    private static ModelInferRequest.Builder fixed() {
        return ModelInferRequest.newBuilder().setModelName("fixed");
    }

    private static InferInputTensor.Builder x(long... shape) {
        InferInputTensor.Builder input = InferInputTensor.newBuilder().setName("x").setDatatype("FP32");
        for (long dim : shape) {
            input.addShape(dim);
        }
        return input;
    }

    private static InferTensorContents.Builder floats(int count) {
        InferTensorContents.Builder contents = InferTensorContents.newBuilder();
        for (int i = 0; i < count; i++) {
            contents.addFp32Contents(i);
        }
        return contents;
    }

    private static void refused(ModelInferRequest.Builder request, String... descriptionParts) {
        assertThatThrownBy(() -> GrpcFixtures.stub(channel).modelInfer(request.build())).satisfies(e -> {
            for (String part : descriptionParts) {
                assertStatus(e, Status.Code.INVALID_ARGUMENT, part);
            }
        });
    }

    @Test
    void rawContents_ofTheWrongSize() {
        refused(fixed().addInputs(x(2, 3)).addRawInputContents(ByteString.copyFrom(new byte[23])),
                "input 'x' has 23 bytes in raw_input_contents[0] but shape [2,3] of FP32 needs 24 (6 elements x 4 bytes");
    }

    @Test
    void rawAndTypedContents_mixed() {
        refused(fixed().addInputs(x(2, 3).setContents(floats(6))).addRawInputContents(ByteString.copyFrom(new byte[24])),
                "input 'x' has elements in contents.fp32_contents and in raw_input_contents[0]", "not both");
    }

    @Test
    void rawContents_countDiffersFromInputs() {
        refused(fixed().addInputs(x(2, 3)).addRawInputContents(ByteString.copyFrom(new byte[24]))
                        .addRawInputContents(ByteString.copyFrom(new byte[24])),
                "the request has 2 raw_input_contents but 1 inputs");
    }

    @Test
    void typedContents_inTheWrongField() {
        refused(fixed().addInputs(x(2, 3).setContents(InferTensorContents.newBuilder().addIntContents(1))),
                "input 'x' is FP32 but its elements are in contents.int_contents; expected contents.fp32_contents");
    }

    @Test
    void typedContents_inTwoFields() {
        refused(fixed().addInputs(x(2, 3).setContents(floats(6).addFp64Contents(1))),
                "input 'x' has elements in contents.fp32_contents and contents.fp64_contents");
    }

    @Test
    void typedContents_withTheWrongElementCount() {
        refused(fixed().addInputs(x(2, 3).setContents(floats(5))),
                "input 'x' has 5 elements in contents.fp32_contents but shape [2,3] needs 6");
    }

    @Test
    void noContentsAtAll() {
        refused(fixed().addInputs(x(2, 3)), "input 'x' has 0 elements in contents.fp32_contents but shape [2,3] needs 6");
    }

    @Test
    void unknownDatatype_andMissingOne() {
        refused(fixed().addInputs(x(2, 3).setDatatype("FLOAT32").setContents(floats(6))),
                "input 'x' has unknown datatype 'FLOAT32'; expected one of BOOL");
        refused(fixed().addInputs(x(2, 3).clearDatatype().setContents(floats(6))), "input 'x' has no datatype");
    }

    @Test
    void negativeDimension_andMissingName() {
        refused(fixed().addInputs(x(-1, 3).setContents(floats(3))), "input 'x' shape [-1,3] has -1; expected non-negative");
        refused(fixed().addInputs(x(2, 3).clearName().setContents(floats(6))), "inputs[0] has no name");
    }

    @Test
    void valuesOutOfRange_forSmallIntegers() {
        ModelInferRequest.Builder int8 = ModelInferRequest.newBuilder().setModelName("datatypes")
                .addInputs(InferInputTensor.newBuilder().setName("int8").setDatatype("INT8").addShape(1).addShape(2)
                        .setContents(InferTensorContents.newBuilder().addIntContents(5).addIntContents(200)));
        refused(int8, "input 'int8' has 200 at contents index 1, outside INT8's range [-128, 127]");
        ModelInferRequest.Builder uint8 = ModelInferRequest.newBuilder().setModelName("datatypes")
                .addInputs(InferInputTensor.newBuilder().setName("uint8").setDatatype("UINT8").addShape(1)
                        .setContents(InferTensorContents.newBuilder().addUintContents(-1)));
        refused(uint8, "input 'uint8' has 4294967295 at contents index 0, outside UINT8's range [0, 255]");
        ModelInferRequest.Builder int16 = ModelInferRequest.newBuilder().setModelName("datatypes")
                .addInputs(InferInputTensor.newBuilder().setName("int16").setDatatype("INT16").addShape(1)
                        .setContents(InferTensorContents.newBuilder().addIntContents(-40000)));
        refused(int16, "input 'int16' has -40000 at contents index 0, outside INT16's range [-32768, 32767]");
    }

    @Test
    void fp16_mustComeRaw() {
        refused(fixed().addInputs(x(2, 3).setDatatype("FP16").setContents(floats(6))),
                "input 'x' is FP16, which has no typed contents field; send it in raw_input_contents");
        // Raw FP16 decodes, and the model then says what it expects.
        refused(fixed().addInputs(x(2, 3).setDatatype("FP16")).addRawInputContents(ByteString.copyFrom(new byte[12])),
                "input 'x' has datatype FP16 but model 'fixed' expects FP32");
    }

    @Test
    void rawBytes_malformedLengthPrefixes() {
        ModelInferRequest.Builder strings = ModelInferRequest.newBuilder().setModelName("datatypes")
                .addInputs(InferInputTensor.newBuilder().setName("string").setDatatype("BYTES").addShape(1).addShape(2));
        byte[] truncated = ByteBuffer.allocate(4 + 3 + 2).order(ByteOrder.LITTLE_ENDIAN).putInt(3).put(new byte[3])
                .put(new byte[2]).array();
        refused(strings.clone().addRawInputContents(ByteString.copyFrom(truncated)),
                "input 'string' raw_input_contents[0] ends inside the length of element 1");
        byte[] overlong = ByteBuffer.allocate(4 + 3).order(ByteOrder.LITTLE_ENDIAN).putInt(100).put(new byte[3]).array();
        refused(strings.clone().addRawInputContents(ByteString.copyFrom(overlong)),
                "input 'string' raw_input_contents[0] element 0 has length 100 but only 3 bytes follow");
        byte[] one = ByteBuffer.allocate(4 + 1).order(ByteOrder.LITTLE_ENDIAN).putInt(1).put((byte) 'a').array();
        refused(strings.clone().addRawInputContents(ByteString.copyFrom(one)),
                "input 'string' has 1 BYTES elements in raw_input_contents[0] but its shape needs 2");
    }

    @Test
    void parameters_withoutValue_orPastInt64() {
        refused(fixed().addInputs(x(2, 3).setContents(floats(6)))
                        .putParameters("timeout", InferParameter.getDefaultInstance()),
                "parameters 'timeout' has no value; expected one of bool_param");
        refused(fixed().addInputs(x(2, 3).setContents(floats(6)))
                        .putParameters("timeout", InferParameter.newBuilder().setUint64Param(-1).build()),
                "parameters 'timeout' is uint64 18446744073709551615, too large for a 64-bit integer");
        refused(fixed().addInputs(x(2, 3).setContents(floats(6)))
                        .putParameters("timeout", InferParameter.newBuilder().setStringParam("soon").build()),
                "parameter 'timeout' has value \"soon\"; expected an integer");
    }

    @Test
    void wrongShapeAndUnknownOutputs_areTheModelsWords() {
        refused(fixed().addInputs(x(3, 2).setContents(floats(6))), "input 'x' has shape [3,2] but model 'fixed' expects [2,3]");
        refused(fixed().addInputs(x(2, 3).setContents(floats(6)))
                        .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("z")),
                "unknown output 'z'; model 'fixed' has outputs");
    }

    /** A message that is not a ModelInferRequest at all is the client's fault too. */
    @Test
    void malformedProtobuf_isInvalidArgument() {
        MethodDescriptor<byte[], byte[]> bytes = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName("inference.GRPCInferenceService/ModelInfer")
                .setRequestMarshaller(new RawBytes())
                .setResponseMarshaller(new RawBytes())
                .build();
        assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(channel, bytes, CallOptions.DEFAULT,
                new byte[] {0x0A, (byte) 0xFF, 0x01, 0x02}))
                .satisfies(e -> assertStatus(e, Status.Code.INVALID_ARGUMENT, "not a valid inference.ModelInferRequest"));
    }

    private static final class RawBytes implements MethodDescriptor.Marshaller<byte[]> {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
