package dev.serval.model;

import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.ModelMetadata;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelSession;
import dev.serval.schedule.ModelExecutor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;

/**
 * One loaded version of a model: its session, the threads that run it, and what it declares.
 *
 * <p>Thread-safe. {@link #infer} blocks until the answer is ready and is meant for request threads
 * (virtual threads park cheaply); the model itself runs on the executor's platform threads.
 */
public final class ModelVersion implements AutoCloseable {
    private final String name;
    private final long version;
    private final String platform;
    private final ModelSession session;
    private final ModelExecutor executor;
    private final List<String> labels;
    private final Supplier<List<String>> availableVersions;
    private final List<String> allOutputNames;

    ModelVersion(String name, long version, String platform, ModelSession session, ModelExecutor executor,
                 List<String> labels, Supplier<List<String>> availableVersions) {
        this.name = name;
        this.version = version;
        this.platform = platform;
        this.session = session;
        this.executor = executor;
        this.labels = List.copyOf(labels);
        this.availableVersions = availableVersions;
        this.allOutputNames = session.outputs().stream().map(TensorSpec::name).toList();
    }

    public String name() {
        return name;
    }

    /** The version as the protocol writes it, e.g. {@code "1"}. */
    public String version() {
        return Long.toString(version);
    }

    public List<TensorSpec> inputs() {
        return session.inputs();
    }

    public List<TensorSpec> outputs() {
        return session.outputs();
    }

    /** The protocol's model metadata for this version. */
    public ModelMetadata metadata() {
        return new ModelMetadata(name, availableVersions.get(), platform, session.inputs(), session.outputs());
    }

    /** Requests waiting for an instance. */
    public int queueDepth() {
        return executor.queueDepth();
    }

    /**
     * Validates the request against the model, runs it, and returns the outputs asked for.
     *
     * @throws ServalException INVALID_ARGUMENT for inputs or outputs that do not fit the model,
     *                         RESOURCE_EXHAUSTED when the queue is full, INTERNAL when the runtime fails
     */
    public InferenceResponse infer(InferenceRequest request) {
        List<Tensor> inputs = InputValidator.validate(name, session.inputs(), request.inputs());
        List<RequestedOutput> requested = request.outputs();
        List<String> outputNames = requested.isEmpty() ? allOutputNames : outputNames(requested);
        int[] topK = classification(requested);

        List<Tensor> outputs = await(executor.submit(() -> session.run(inputs, outputNames)));

        if (topK != null) {
            List<Tensor> classified = new ArrayList<>(outputs.size());
            for (int i = 0; i < outputs.size(); i++) {
                classified.add(topK[i] > 0 ? Classification.apply(outputs.get(i), topK[i], labels) : outputs.get(i));
            }
            outputs = classified;
        }
        return new InferenceResponse(name, version(), request.id(), Parameters.empty(), outputs);
    }

    private List<String> outputNames(List<RequestedOutput> requested) {
        List<String> names = new ArrayList<>(requested.size());
        Set<String> seen = new HashSet<>();
        for (RequestedOutput output : requested) {
            if (InputValidator.find(session.outputs(), output.name()) == null) {
                throw ServalException.invalidArgument("unknown output '%s'; model '%s' has outputs %s",
                        output.name(), name, InputValidator.describe(session.outputs()));
            }
            if (!seen.add(output.name())) {
                throw ServalException.invalidArgument("output '%s' is requested more than once", output.name());
            }
            names.add(output.name());
        }
        return names;
    }

    /** Top-k per requested output, or null when no output asks for classification. */
    private static int[] classification(List<RequestedOutput> requested) {
        int[] topK = null;
        for (int i = 0; i < requested.size(); i++) {
            RequestedOutput output = requested.get(i);
            var k = output.parameters().getLong(Classification.PARAMETER);
            if (k.isPresent()) {
                if (topK == null) {
                    topK = new int[requested.size()];
                }
                topK[i] = Classification.topK(output.name(), k.getAsLong());
            }
        }
        return topK;
    }

    private <T> T await(CompletableFuture<T> future) {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            future.cancel(false);
            throw ServalException.unavailable("request to model '%s' was interrupted", name);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof ServalException serval) {
                throw serval;
            }
            throw ServalException.internal("model '" + name + "' version " + version + " failed: " + cause, cause);
        }
    }

    /** Lets queued work finish, then releases the session's native memory. */
    @Override
    public void close() {
        executor.close();
        session.close();
    }

    @Override
    public String toString() {
        return name + ":" + version;
    }
}
