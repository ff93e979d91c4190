package dev.serval.api;

import java.util.List;

/**
 * The answer to an {@link InferenceRequest}.
 *
 * @param modelName    the model that ran
 * @param modelVersion the version that ran
 * @param id           the request's id, or null
 * @param parameters   response parameters
 * @param outputs      the outputs, in the order they were asked for (model order when all)
 */
public record InferenceResponse(
        String modelName,
        String modelVersion,
        String id,
        Parameters parameters,
        List<Tensor> outputs) {

    public InferenceResponse {
        outputs = List.copyOf(outputs);
    }
}
