package dev.serval.api;

import java.util.List;

/**
 * A model version as the protocol describes it.
 *
 * @param name     the model's name
 * @param versions the versions available, ascending
 * @param platform the runtime, e.g. {@code onnxruntime_onnx}
 * @param inputs   declared inputs, -1 for variable dimensions
 * @param outputs  declared outputs
 */
public record ModelMetadata(
        String name,
        List<String> versions,
        String platform,
        List<TensorSpec> inputs,
        List<TensorSpec> outputs) {

    public ModelMetadata {
        versions = List.copyOf(versions);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }
}
