package dev.serval.transport.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.serval.api.DataType;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.Parameters;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.protocol.grpc.InferParameter;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferRequest.InferInputTensor;
import dev.serval.protocol.grpc.ModelInferResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The datatypes no example model takes (FP16, BF16, UINT16/32/64) through the decoder and encoder,
 * without a server: typed and raw, the edges of their ranges, empty tensors.
 */
class CodecTest {
    private static InferInputTensor.Builder input(String type, long... shape) {
        InferInputTensor.Builder input = InferInputTensor.newBuilder().setName("t").setDatatype(type);
        for (long dim : shape) {
            input.addShape(dim);
        }
        return input;
    }

    private static Tensor decodeOne(ModelInferRequest.Builder request) {
        InferenceRequest decoded = RequestDecoder.decode(request.setModelName("m").build(), "m", "1");
        return decoded.inputs().get(0);
    }

    @Test
    void unsignedTypedContents_decodeToTheirWidths() {
        Tensor uint16 = decodeOne(ModelInferRequest.newBuilder().addInputs(input("UINT16", 2)
                .setContents(InferTensorContents.newBuilder().addUintContents(0).addUintContents(65535))));
        assertThat(uint16.buffer().getShort(2) & 0xFFFF).isEqualTo(65535);
        assertThat(uint16.buffer().isDirect()).isTrue();
        assertThat(((TensorData.FixedWidth) uint16.data()).pooled()).isTrue();
        Tensor uint32 = decodeOne(ModelInferRequest.newBuilder().addInputs(input("UINT32", 1)
                .setContents(InferTensorContents.newBuilder().addUintContents(-1))));
        assertThat(Integer.toUnsignedString(uint32.buffer().getInt(0))).isEqualTo("4294967295");
        Tensor uint64 = decodeOne(ModelInferRequest.newBuilder().addInputs(input("UINT64", 1)
                .setContents(InferTensorContents.newBuilder().addUint64Contents(-1L))));
        assertThat(Long.toUnsignedString(uint64.buffer().getLong(0))).isEqualTo("18446744073709551615");
        assertThatThrownBy(() -> decodeOne(ModelInferRequest.newBuilder().addInputs(input("UINT16", 1)
                .setContents(InferTensorContents.newBuilder().addUintContents(65536)))))
                .hasMessage("input 't' has 65536 at contents index 0, outside UINT16's range [0, 65535]");
    }

    @Test
    void halfPrecision_comesRaw_andIsKeptBitForBit() {
        ByteBuffer halves = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
                .putShort(Float.floatToFloat16(1.5f)).putShort((short) 0x7C00);
        for (String type : List.of("FP16", "BF16")) {
            Tensor tensor = decodeOne(ModelInferRequest.newBuilder().addInputs(input(type, 2))
                    .addRawInputContents(ByteString.copyFrom(halves.array())));
            assertThat(tensor.type()).isEqualTo(DataType.valueOf(type));
            assertThat(tensor.buffer().getShort(0)).isEqualTo(Float.floatToFloat16(1.5f));
            assertThat(tensor.buffer().getShort(2)).isEqualTo((short) 0x7C00);
        }
    }

    @Test
    void emptyTensors_decode() {
        assertThat(decodeOne(ModelInferRequest.newBuilder().addInputs(input("FP32", 0, 4))).elementCount()).isZero();
        assertThat(decodeOne(ModelInferRequest.newBuilder().addInputs(input("FP16", 0))).elementCount()).isZero();
        assertThat(decodeOne(ModelInferRequest.newBuilder().addInputs(input("BYTES", 0))
                .addRawInputContents(ByteString.EMPTY)).elementCount()).isZero();
    }

    @Test
    void hugeShapes_areRefusedBeforeAllocating() {
        assertThatThrownBy(() -> decodeOne(ModelInferRequest.newBuilder().addInputs(input("FP64", 1L << 62, 4))
                .addRawInputContents(ByteString.copyFrom(new byte[8]))))
                .hasMessageContaining("is too large");
        assertThatThrownBy(() -> decodeOne(ModelInferRequest.newBuilder().addInputs(input("FP64", 1L << 61))
                .addRawInputContents(ByteString.copyFrom(new byte[8]))))
                .hasMessageContaining("has 8 bytes in raw_input_contents[0] but shape [2305843009213693952] of FP64 needs more than 2^63");
    }

    @Test
    void parameters_mapBothWays() {
        InferenceRequest decoded = RequestDecoder.decode(ModelInferRequest.newBuilder().setModelName("m").setId("x")
                .putParameters("b", InferParameter.newBuilder().setBoolParam(true).build())
                .putParameters("i", InferParameter.newBuilder().setInt64Param(-3).build())
                .putParameters("u", InferParameter.newBuilder().setUint64Param(7).build())
                .putParameters("d", InferParameter.newBuilder().setDoubleParam(0.5).build())
                .putParameters("s", InferParameter.newBuilder().setStringParam("text").build())
                .build(), "m", "1");
        assertThat(decoded.parameters().asMap()).isEqualTo(Map.of("b", true, "i", -3L, "u", 7L, "d", 0.5, "s", "text"));
        assertThat(decoded.id()).isEqualTo("x");
        assertThat(ProtoParameters.toProto(decoded.parameters()))
                .containsEntry("u", InferParameter.newBuilder().setInt64Param(7).build())
                .containsEntry("s", InferParameter.newBuilder().setStringParam("text").build());
    }

    @Test
    void halfPrecisionOutputs_makeTheWholeResponseRaw() {
        ByteBuffer half = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, Float.floatToFloat16(2f));
        ByteBuffer single = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 2f);
        InferenceResponse response = new InferenceResponse("m", "1", null, Parameters.empty(), List.of(
                new Tensor("h", DataType.FP16, new long[] {1}, new TensorData.FixedWidth(half)),
                new Tensor("f", DataType.FP32, new long[] {1}, new TensorData.FixedWidth(single))));
        ModelInferResponse encoded = ResponseEncoder.encode(response, false);
        assertThat(encoded.getRawOutputContentsCount()).isEqualTo(2);
        assertThat(encoded.getRawOutputContents(0).toByteArray()).containsExactly(half.array());
        assertThat(encoded.getRawOutputContents(1).toByteArray()).containsExactly(single.array());
        assertThat(encoded.getOutputs(1).hasContents()).isFalse();
        assertThat(encoded.getId()).isEmpty();
    }

    @Test
    void unsignedOutputs_typed() {
        ByteBuffer uint32 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, -1);
        ByteBuffer uint16 = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) -1);
        InferenceResponse response = new InferenceResponse("m", "1", "id", Parameters.empty(), List.of(
                new Tensor("a", DataType.UINT32, new long[] {1}, new TensorData.FixedWidth(uint32)),
                new Tensor("b", DataType.UINT16, new long[] {1}, new TensorData.FixedWidth(uint16))));
        ModelInferResponse encoded = ResponseEncoder.encode(response, false);
        assertThat(encoded.getOutputs(0).getContents().getUintContents(0)).isEqualTo(-1);
        assertThat(encoded.getOutputs(1).getContents().getUintContents(0)).isEqualTo(65535);
        assertThat(encoded.getId()).isEqualTo("id");
    }
}
