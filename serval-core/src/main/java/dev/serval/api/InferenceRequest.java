package dev.serval.api;

import java.util.List;

/**
 * One inference call, decoded from any transport.
 *
 * @param modelName    the model to run
 * @param modelVersion the version, or null for the model's highest ready version
 * @param id           the client's request id, echoed in the response; may be null
 * @param parameters   request parameters (priority, timeout ...)
 * @param inputs       the input tensors, in the order the client sent them
 * @param outputs      the outputs asked for; empty means every output of the model
 */
public record InferenceRequest(
        String modelName,
        String modelVersion,
        String id,
        Parameters parameters,
        List<Tensor> inputs,
        List<RequestedOutput> outputs) {

    public InferenceRequest {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }
}
