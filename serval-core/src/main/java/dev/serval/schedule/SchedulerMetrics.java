package dev.serval.schedule;

/**
 * What a {@link ModelScheduler} reports as it works. Implementations must be thread-safe and
 * cheap: they are called on the hot path.
 */
public interface SchedulerMetrics {
    /** Reports nothing. */
    SchedulerMetrics NONE = new SchedulerMetrics() { };

    /** A run started with {@code rows} rows from {@code requests} requests. */
    default void batch(int requests, int rows) {
    }

    /** A request left the queue for a run after waiting {@code nanos}. */
    default void queueWait(long nanos) {
    }

    /** A run took {@code nanos} in the runtime. */
    default void compute(long nanos) {
    }
}
