package dev.serval.runtime;

import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import java.util.List;

/**
 * One loaded model, shared by every request for it.
 *
 * <p>{@link #run} is thread-safe and blocks in native code: call it from platform threads only
 * (a virtual thread in JNI pins its carrier). {@link #close} must not overlap a run; the caller
 * drains runs first.
 */
public interface ModelSession extends AutoCloseable {

    /** Declared inputs, in the model's order; read once at load. */
    List<TensorSpec> inputs();

    /** Declared outputs, in the model's order; read once at load. */
    List<TensorSpec> outputs();

    /**
     * Runs the model.
     *
     * @param inputs      one tensor per declared input, already validated against {@link #inputs()}
     * @param outputNames the outputs to compute, each one declared; the result follows this order
     * @return the outputs; the caller owns them (they hold no native memory)
     * @param control     lets another thread stop the run (a deadline passed); null when the run
     *                    cannot be cancelled
     * @throws dev.serval.api.ServalException INTERNAL when the runtime fails, DEADLINE_EXCEEDED
     *                                        when {@code control} cancelled the run
     */
    List<Tensor> run(List<Tensor> inputs, List<String> outputNames, RunControl control);

    /** A run that cannot be cancelled. */
    default List<Tensor> run(List<Tensor> inputs, List<String> outputNames) {
        return run(inputs, outputNames, null);
    }

    /** Releases native memory. Idempotent. */
    @Override
    void close();
}
