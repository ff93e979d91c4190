package dev.serval.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One inference request: the model (and optionally its version), the inputs, and optionally an id,
 * parameters and the outputs wanted. Immutable and thread-safe (see {@link InferInput} about the
 * arrays it holds); build one with {@link #builder(String)}.
 *
 * <pre>{@code
 * InferRequest request = InferRequest.builder("iris")
 *         .input(InferInput.fp32("input", new long[] {1, 4}, new float[] {5.1f, 3.5f, 1.4f, 0.2f}))
 *         .output("probabilities")
 *         .build();
 * }</pre>
 */
public final class InferRequest {
    private final String model;
    private final String version;
    private final String id;
    private final List<InferInput> inputs;
    private final List<RequestedOutput> outputs;
    private final Map<String, Object> parameters;

    private InferRequest(Builder builder) {
        this.model = builder.model;
        this.version = builder.version;
        this.id = builder.id;
        this.inputs = List.copyOf(builder.inputs);
        this.outputs = List.copyOf(builder.outputs);
        this.parameters = Collections.unmodifiableMap(new LinkedHashMap<>(builder.parameters));
    }

    /** A builder for a request to {@code model}. */
    public static Builder builder(String model) {
        return new Builder(model);
    }

    public String model() {
        return model;
    }

    /** The version asked for; empty for the version the server chooses (Serval: the highest). */
    public Optional<String> version() {
        return Optional.ofNullable(version);
    }

    /** The request id the server echoes, if set. */
    public Optional<String> id() {
        return Optional.ofNullable(id);
    }

    public List<InferInput> inputs() {
        return inputs;
    }

    /** The outputs asked for, in order; empty for every output of the model. */
    public List<RequestedOutput> outputs() {
        return outputs;
    }

    /** Request parameters: String, Long, Double or Boolean values, in insertion order. */
    public Map<String, Object> parameters() {
        return parameters;
    }

    /** Builds an {@link InferRequest}; not thread-safe. */
    public static final class Builder {
        private final String model;
        private String version;
        private String id;
        private final List<InferInput> inputs = new ArrayList<>();
        private final List<RequestedOutput> outputs = new ArrayList<>();
        private final Map<String, Object> parameters = new LinkedHashMap<>();

        private Builder(String model) {
            this.model = Objects.requireNonNull(model, "model");
            if (model.isEmpty()) {
                throw new IllegalArgumentException("the model name must not be empty");
            }
        }

        /** Asks for one version of the model (null: the server's choice). */
        public Builder version(String version) {
            if (version != null && version.isEmpty()) {
                throw new IllegalArgumentException("the version must not be empty; pass null for the server's choice");
            }
            this.version = version;
            return this;
        }

        /** An id the server echoes in its answer. */
        public Builder id(String id) {
            this.id = id;
            return this;
        }

        public Builder input(InferInput input) {
            inputs.add(Objects.requireNonNull(input, "input"));
            return this;
        }

        /** Asks for {@code name}; once any output is asked for, only those asked for come back. */
        public Builder output(String name) {
            return output(RequestedOutput.of(name));
        }

        /** Asks for the top {@code classes} classes of {@code name} (Triton's classification extension). */
        public Builder output(String name, int classes) {
            if (classes < 1) {
                throw new IllegalArgumentException("output '" + name + "': classes must be 1 or more, was " + classes);
            }
            return output(new RequestedOutput(name, classes));
        }

        public Builder output(RequestedOutput output) {
            outputs.add(Objects.requireNonNull(output, "output"));
            return this;
        }

        /** Triton's schedule parameter {@code priority}: 1 is the highest; 0 the model's default. */
        public Builder priority(int priority) {
            if (priority < 0) {
                throw new IllegalArgumentException("priority must be 0 or more, was " + priority);
            }
            return parameter("priority", (long) priority);
        }

        /**
         * Triton's schedule parameter {@code timeout}, sent in microseconds: the server drops the
         * request (DEADLINE_EXCEEDED) if it has not started running within this time. Independent of
         * the call's own timeout, which bounds how long the client waits.
         */
        public Builder scheduleTimeout(Duration timeout) {
            long micros = timeout.toNanos() / 1000;
            if (micros < 1) {
                throw new IllegalArgumentException("the schedule timeout must be at least 1 microsecond, was " + timeout);
            }
            return parameter("timeout", micros);
        }

        /**
         * A request parameter: a String, Boolean, or a number (integers travel as 64-bit integers,
         * float and double as doubles).
         */
        public Builder parameter(String name, Object value) {
            Objects.requireNonNull(name, "name");
            parameters.put(name, Parameters.normalize(name, value));
            return this;
        }

        public InferRequest build() {
            return new InferRequest(this);
        }
    }
}
