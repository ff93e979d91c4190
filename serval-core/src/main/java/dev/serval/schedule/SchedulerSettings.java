package dev.serval.schedule;

import java.util.List;

/**
 * How one model version's requests are queued, batched and run. Validated when built.
 *
 * @param instanceCount       concurrent runs (each on its own platform thread)
 * @param maxBatchSize        rows per run; 0 or 1 runs each request alone (no batch dimension)
 * @param maxQueueDelayNanos  how long the oldest request may wait for a batch to fill
 * @param preferredBatchSizes batch sizes that are run as soon as they are reached, ascending
 * @param maxQueueSize        requests that may wait; more are refused with RESOURCE_EXHAUSTED
 * @param priorityLevels      number of priority levels, 1 is the highest
 * @param adaptiveBatchSize   learn the batch size that costs least per row, up to maxBatchSize
 *                            ({@link BatchCeiling}); false always gathers up to maxBatchSize
 * @param runThreads          threads each run uses (ONNX Runtime's intra-op threads); with one, a
 *                            run's cost is the CPU time of its instance thread, otherwise its wall time
 * @param inlineRunLimitNanos a request that finds nothing queued and an instance free runs in its
 *                            own thread, without the hand-off to an instance thread, when the
 *                            model's runs of one request take at most this long (measured); 0 never
 */
public record SchedulerSettings(int instanceCount, int maxBatchSize, long maxQueueDelayNanos,
                                List<Integer> preferredBatchSizes, int maxQueueSize, int priorityLevels,
                                boolean adaptiveBatchSize, int runThreads, long inlineRunLimitNanos) {
    /**
     * The default {@link #inlineRunLimitNanos}: 100 us. A run in the request's thread saves the
     * hand-off to an instance thread and back (about 7 us of CPU and two context switches per
     * request, {@code bench/handoff-cost.sh}), a large share of a tiny model's cost; but a
     * request thread is a virtual thread, and a native run pins its carrier for the run's length,
     * so only short runs may take it.
     */
    public static final long DEFAULT_INLINE_RUN_LIMIT_NANOS = 100_000;

    /** Settings where every request goes through the queue to an instance thread (no inline runs). */
    public SchedulerSettings(int instanceCount, int maxBatchSize, long maxQueueDelayNanos,
                             List<Integer> preferredBatchSizes, int maxQueueSize, int priorityLevels,
                             boolean adaptiveBatchSize, int runThreads) {
        this(instanceCount, maxBatchSize, maxQueueDelayNanos, preferredBatchSizes, maxQueueSize, priorityLevels,
                adaptiveBatchSize, runThreads, 0);
    }

    public SchedulerSettings {
        if (instanceCount < 1) {
            throw new IllegalArgumentException("instanceCount must be at least 1, was " + instanceCount);
        }
        if (maxBatchSize < 0 || maxQueueDelayNanos < 0 || maxQueueSize < 1 || priorityLevels < 1 || runThreads < 1
                || inlineRunLimitNanos < 0) {
            throw new IllegalArgumentException("invalid scheduler settings");
        }
        preferredBatchSizes = preferredBatchSizes.stream().sorted().distinct().toList();
    }

    /** True when requests of compatible shapes are stacked into one run. */
    public boolean batching() {
        return maxBatchSize > 1;
    }
}
