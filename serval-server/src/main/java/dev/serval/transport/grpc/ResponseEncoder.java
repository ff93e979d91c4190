package dev.serval.transport.grpc;

import com.google.protobuf.UnsafeByteOperations;
import dev.serval.api.DataType;
import dev.serval.api.InferenceResponse;
import dev.serval.api.Tensor;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.protocol.grpc.ModelInferResponse.InferOutputTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Writes an {@link InferenceResponse} as a {@code ModelInferResponse}.
 *
 * <p>Outputs go in typed {@code contents} by default, and in {@code raw_output_contents} when the
 * request sent its inputs raw: that is Triton's behaviour, and a client that sends raw bytes reads
 * them too. The protocol allows one form per response, so outputs that have no typed field (FP16,
 * BF16) make the whole response raw.
 *
 * <p>Design note: a raw output is the output tensor's own buffer wrapped as a {@code ByteString}
 * ({@link UnsafeByteOperations#unsafeWrap}), with no intermediate array. That is safe because
 * output buffers are never pooled or written after the run, and grpc-java serializes the response
 * into its transport buffers inside {@code onNext}, before the tensor can be dropped. BYTES
 * outputs in raw form are one array of length-prefixed elements, built once and wrapped.
 *
 * <p>Stateless and thread-safe.
 */
final class ResponseEncoder {
    private ResponseEncoder() {
    }

    static ModelInferResponse encode(InferenceResponse response, boolean rawRequested) {
        boolean raw = rawRequested || response.outputs().stream().anyMatch(o -> o.type() == DataType.FP16 || o.type() == DataType.BF16);
        ModelInferResponse.Builder out = ModelInferResponse.newBuilder()
                .setModelName(response.modelName())
                .setModelVersion(response.modelVersion());
        if (response.id() != null) {
            out.setId(response.id());
        }
        if (!response.parameters().isEmpty()) {
            out.putAllParameters(ProtoParameters.toProto(response.parameters()));
        }
        for (Tensor output : response.outputs()) {
            InferOutputTensor.Builder tensor = out.addOutputsBuilder()
                    .setName(output.name())
                    .setDatatype(output.type().name());
            for (long dim : output.shape()) {
                tensor.addShape(dim);
            }
            if (raw) {
                out.addRawOutputContents(output.type() == DataType.BYTES
                        ? UnsafeByteOperations.unsafeWrap(lengthPrefixed(output.bytesElements()))
                        : UnsafeByteOperations.unsafeWrap(output.buffer().duplicate().rewind()));
            } else {
                tensor.setContents(typed(output));
            }
        }
        return out.build();
    }

    private static byte[] lengthPrefixed(byte[][] elements) {
        long size = 0;
        for (byte[] element : elements) {
            size += 4L + element.length;
        }
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(size)).order(ByteOrder.LITTLE_ENDIAN);
        for (byte[] element : elements) {
            out.putInt(element.length).put(element);
        }
        return out.array();
    }

    private static InferTensorContents typed(Tensor tensor) {
        InferTensorContents.Builder out = InferTensorContents.newBuilder();
        if (tensor.type() == DataType.BYTES) {
            for (byte[] element : tensor.bytesElements()) {
                out.addBytesContents(UnsafeByteOperations.unsafeWrap(element));
            }
            return out.build();
        }
        ByteBuffer in = tensor.buffer();
        int count = (int) tensor.elementCount();
        switch (tensor.type()) {
            case BOOL -> {
                for (int i = 0; i < count; i++) {
                    out.addBoolContents(in.get(i) != 0);
                }
            }
            case INT8 -> {
                for (int i = 0; i < count; i++) {
                    out.addIntContents(in.get(i));
                }
            }
            case INT16 -> {
                for (int i = 0; i < count; i++) {
                    out.addIntContents(in.getShort(i << 1));
                }
            }
            case INT32 -> {
                for (int i = 0; i < count; i++) {
                    out.addIntContents(in.getInt(i << 2));
                }
            }
            case INT64 -> {
                for (int i = 0; i < count; i++) {
                    out.addInt64Contents(in.getLong(i << 3));
                }
            }
            case UINT8 -> {
                for (int i = 0; i < count; i++) {
                    out.addUintContents(in.get(i) & 0xFF);
                }
            }
            case UINT16 -> {
                for (int i = 0; i < count; i++) {
                    out.addUintContents(in.getShort(i << 1) & 0xFFFF);
                }
            }
            case UINT32 -> {
                for (int i = 0; i < count; i++) {
                    out.addUintContents(in.getInt(i << 2));
                }
            }
            case UINT64 -> {
                for (int i = 0; i < count; i++) {
                    out.addUint64Contents(in.getLong(i << 3));
                }
            }
            case FP32 -> {
                for (int i = 0; i < count; i++) {
                    out.addFp32Contents(in.getFloat(i << 2));
                }
            }
            case FP64 -> {
                for (int i = 0; i < count; i++) {
                    out.addFp64Contents(in.getDouble(i << 3));
                }
            }
            case FP16, BF16, BYTES -> throw new IllegalStateException(tensor.type() + " is not written as typed contents");
        }
        return out.build();
    }
}
