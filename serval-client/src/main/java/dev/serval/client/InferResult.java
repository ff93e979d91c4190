package dev.serval.client;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The answer to one {@link InferRequest}: which model version ran it, the echoed id, the response
 * parameters, and the outputs in the order the server sent them. Immutable and thread-safe.
 */
public final class InferResult {
    private final String modelName;
    private final String modelVersion;
    private final String id;
    private final Map<String, Object> parameters;
    private final List<InferOutput> outputs;

    InferResult(String modelName, String modelVersion, String id, Map<String, Object> parameters, List<InferOutput> outputs) {
        this.modelName = modelName;
        this.modelVersion = modelVersion;
        this.id = id;
        this.parameters = Parameters.freeze(parameters);
        this.outputs = List.copyOf(outputs);
    }

    public String modelName() {
        return modelName;
    }

    /** The version that answered; empty if the server did not say. */
    public String modelVersion() {
        return modelVersion;
    }

    /** The request's id, echoed; empty when the request set none. */
    public Optional<String> id() {
        return Optional.ofNullable(id);
    }

    /** Response parameters (String, Long, Double or Boolean values); empty when none. */
    public Map<String, Object> parameters() {
        return parameters;
    }

    /**
     * Whether a cheaper fallback model answered because the asked-for one was overloaded (Serval's
     * {@code "degraded": true} response parameter; {@code fallback_model} names the model).
     */
    public boolean degraded() {
        return Boolean.TRUE.equals(parameters.get("degraded"));
    }

    public List<InferOutput> outputs() {
        return outputs;
    }

    /**
     * The output called {@code name}.
     *
     * @throws IllegalArgumentException if there is none
     */
    public InferOutput output(String name) {
        for (InferOutput output : outputs) {
            if (output.name().equals(name)) {
                return output;
            }
        }
        throw new IllegalArgumentException("no output '" + name + "' in the result; it has "
                + outputs.stream().map(InferOutput::name).toList());
    }

    @Override
    public String toString() {
        return "InferResult[" + modelName + " " + modelVersion + ", " + outputs + "]";
    }
}
