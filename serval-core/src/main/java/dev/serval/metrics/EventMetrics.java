package dev.serval.metrics;

import dev.serval.api.ErrorCode;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;

/**
 * Event ingest's metrics, from {@link ServalMetrics#events()}: events recorded, and batches by
 * outcome. A batch is all or nothing, so events of a batch that was not recorded are not counted
 * anywhere but in its batch's outcome. Thread-safe.
 */
public final class EventMetrics {
    private final CounterDataPoint events;
    private final CounterDataPoint recorded;
    private final CounterDataPoint invalid;
    private final CounterDataPoint rejected;
    private final CounterDataPoint unavailable;
    private final CounterDataPoint failed;

    EventMetrics(ServalMetrics metrics) {
        this.events = metrics.eventsRecorded; // a counter without labels is its own data point
        this.recorded = metrics.eventBatches.labelValues("recorded");
        this.invalid = metrics.eventBatches.labelValues("invalid");
        this.rejected = metrics.eventBatches.labelValues("rejected");
        this.unavailable = metrics.eventBatches.labelValues("unavailable");
        this.failed = metrics.eventBatches.labelValues("failed");
    }

    /** A batch of {@code count} events was recorded. */
    public void recorded(int count) {
        recorded.inc();
        events.inc(count);
    }

    /**
     * A batch was refused and none of its events recorded: malformed or too large ({@code invalid}),
     * refused for lack of room ({@code rejected}), the store failed or the server is stopping
     * ({@code unavailable}), or a fault of ours ({@code failed}). Refusals before the batch is read
     * (a missing token, no feature store) are not batches and are not counted.
     */
    public void rejected(ErrorCode error) {
        CounterDataPoint outcome = switch (error) {
            case INVALID_ARGUMENT, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, NOT_FOUND -> invalid;
            case RESOURCE_EXHAUSTED -> rejected;
            case UNAVAILABLE, DEADLINE_EXCEEDED -> unavailable;
            case INTERNAL -> failed;
            case UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED -> null;
        };
        if (outcome != null) {
            outcome.inc();
        }
    }
}
