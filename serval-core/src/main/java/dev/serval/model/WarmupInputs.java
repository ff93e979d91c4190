package dev.serval.model;

import dev.serval.api.DataType;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The inputs of a warm-up run ({@link ModelConfig.Warmup}), generated from the model's metadata. */
final class WarmupInputs {
    /** The most elements one generated input may hold, so a typo in {@code shapes} cannot exhaust memory. */
    static final long MAX_ELEMENTS = 1L << 26;

    private WarmupInputs() {
    }

    /**
     * @param maxBatchSize the model's rows per run, 0 when it has no batch dimension
     * @throws InvalidConfigException when {@code shapes} names an input the model lacks or a shape
     *                                the model does not accept
     */
    static List<Tensor> generate(List<TensorSpec> specs, int maxBatchSize, ModelConfig.Warmup warmup)
            throws InvalidConfigException {
        for (String name : warmup.shapes().keySet()) {
            if (InputValidator.find(specs, name) == null) {
                throw new InvalidConfigException("setting 'warmup.shapes' names input '" + name
                        + "', but the model has inputs " + InputValidator.describe(specs));
            }
        }
        List<Tensor> inputs = new ArrayList<>(specs.size());
        for (TensorSpec spec : specs) {
            long[] shape = warmup.shapes().get(spec.name());
            if (shape == null) {
                shape = spec.shape().clone();
                for (int i = 0; i < shape.length; i++) {
                    if (shape[i] < 0) {
                        shape[i] = i == 0 && maxBatchSize > 0 ? warmup.batchSize() : 1;
                    }
                }
            } else if (!spec.accepts(shape)) {
                throw new InvalidConfigException("setting 'warmup.shapes." + spec.name() + "' is "
                        + Shapes.format(shape) + " but the model expects " + Shapes.format(spec.shape()));
            }
            long elements = Shapes.elementCount(shape);
            if (elements > MAX_ELEMENTS) {
                throw new InvalidConfigException("warm-up input '" + spec.name() + "' of shape " + Shapes.format(shape)
                        + " has " + elements + " elements; at most " + MAX_ELEMENTS + " are generated");
            }
            inputs.add(new Tensor(spec.name(), spec.type(), shape, fill(spec.type(), (int) elements, warmup.ones())));
        }
        return inputs;
    }

    private static TensorData fill(DataType type, int elements, boolean ones) {
        if (type == DataType.BYTES) {
            byte[][] strings = new byte[elements][];
            Arrays.fill(strings, (ones ? "1" : "").getBytes(StandardCharsets.UTF_8));
            return new TensorData.Bytes(strings);
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(elements * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        if (ones) {
            for (int i = 0; i < elements; i++) {
                switch (type) {
                    case BOOL, UINT8, INT8 -> buffer.put((byte) 1);
                    case UINT16, INT16 -> buffer.putShort((short) 1);
                    case FP16 -> buffer.putShort((short) 0x3C00);
                    case BF16 -> buffer.putShort((short) 0x3F80);
                    case UINT32, INT32 -> buffer.putInt(1);
                    case FP32 -> buffer.putFloat(1f);
                    case UINT64, INT64 -> buffer.putLong(1L);
                    case FP64 -> buffer.putDouble(1d);
                    case BYTES -> throw new AssertionError(type);
                }
            }
            buffer.flip();
        }
        return new TensorData.FixedWidth(buffer);
    }
}
