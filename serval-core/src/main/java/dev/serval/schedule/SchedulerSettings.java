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
 */
public record SchedulerSettings(int instanceCount, int maxBatchSize, long maxQueueDelayNanos,
                                List<Integer> preferredBatchSizes, int maxQueueSize, int priorityLevels,
                                boolean adaptiveBatchSize, int runThreads) {

    public SchedulerSettings {
        if (instanceCount < 1) {
            throw new IllegalArgumentException("instanceCount must be at least 1, was " + instanceCount);
        }
        if (maxBatchSize < 0 || maxQueueDelayNanos < 0 || maxQueueSize < 1 || priorityLevels < 1 || runThreads < 1) {
            throw new IllegalArgumentException("invalid scheduler settings");
        }
        preferredBatchSizes = preferredBatchSizes.stream().sorted().distinct().toList();
    }

    /** True when requests of compatible shapes are stacked into one run. */
    public boolean batching() {
        return maxBatchSize > 1;
    }
}
