package dev.serval.client;

import java.util.Arrays;
import java.util.List;

/**
 * What the server says about a model.
 *
 * @param name     the model's name
 * @param versions its versions the server knows
 * @param platform the runtime, e.g. {@code onnxruntime_onnx}
 * @param inputs   the inputs it takes
 * @param outputs  the outputs it gives
 */
public record ModelMetadata(String name, List<String> versions, String platform, List<Tensor> inputs, List<Tensor> outputs) {
    public ModelMetadata {
        versions = List.copyOf(versions);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    /**
     * One input or output.
     *
     * @param name     its name
     * @param datatype its element type
     * @param shape    its shape; -1 marks a dimension of any size (the array is copied in and out)
     */
    public record Tensor(String name, DataType datatype, long[] shape) {
        public Tensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Tensor that && name.equals(that.name) && datatype == that.datatype
                    && Arrays.equals(shape, that.shape);
        }

        @Override
        public int hashCode() {
            return (name.hashCode() * 31 + datatype.hashCode()) * 31 + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + " " + datatype + " " + Arrays.toString(shape);
        }
    }
}
