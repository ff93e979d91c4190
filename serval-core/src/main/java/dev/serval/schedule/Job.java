package dev.serval.schedule;

import dev.serval.api.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One request inside the scheduler: its validated inputs, where it stands in the queue, when it
 * must be answered by, and the future its request thread waits on.
 *
 * <p>Thread-safe: immutable but for the future and the abandoned flag.
 */
public final class Job {
    /** Deadline of a request that has none. */
    public static final long NO_DEADLINE = Long.MAX_VALUE;

    final List<Tensor> inputs;
    final List<String> outputs;
    final int rows;
    final int level;
    final long enqueuedNanos;
    final long deadlineNanos;
    final Key key;
    private final CompletableFuture<List<Tensor>> result = new CompletableFuture<>();
    private volatile boolean abandoned;

    Job(List<Tensor> inputs, List<String> outputs, int rows, int level, long enqueuedNanos, long deadlineNanos,
        boolean batching) {
        this.inputs = inputs;
        this.outputs = outputs;
        this.rows = rows;
        this.level = level;
        this.enqueuedNanos = enqueuedNanos;
        this.deadlineNanos = deadlineNanos;
        this.key = batching ? new Key(inputs, outputs) : null;
    }

    /** Completed with the request's outputs, or with the failure (a ServalException) that ended it. */
    public CompletableFuture<List<Tensor>> result() {
        return result;
    }

    /**
     * The waiter gave up (its deadline passed or it was interrupted): if the job is still queued it
     * is dropped before it reaches the model.
     */
    public void abandon() {
        abandoned = true;
    }

    boolean isAbandoned() {
        return abandoned;
    }

    /**
     * What requests must share to be stacked into one run: every input's element type and shape
     * past the batch dimension, and the outputs asked for.
     */
    static final class Key {
        private final long[] signature;
        private final List<String> outputs;
        private final int hash;

        Key(List<Tensor> inputs, List<String> outputs) {
            int length = 0;
            for (Tensor input : inputs) {
                length += input.shape().length + 1;
            }
            long[] signature = new long[length];
            int at = 0;
            for (Tensor input : inputs) {
                long[] shape = input.shape();
                signature[at++] = ((long) input.type().ordinal() << 32) | shape.length;
                System.arraycopy(shape, 1, signature, at, shape.length - 1);
                at += shape.length - 1;
            }
            this.signature = signature;
            this.outputs = outputs;
            this.hash = 31 * Arrays.hashCode(signature) + outputs.hashCode();
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Key key && key.hash == hash && Arrays.equals(key.signature, signature)
                    && key.outputs.equals(outputs);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
