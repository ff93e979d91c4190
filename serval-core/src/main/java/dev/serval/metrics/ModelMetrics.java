package dev.serval.metrics;

import dev.serval.api.ErrorCode;
import dev.serval.schedule.SchedulerMetrics;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;

/**
 * One model version's metric handles, bound to its labels once so that the hot path records
 * without looking labels up. Thread-safe.
 */
public final class ModelMetrics implements SchedulerMetrics {
    private static final double NANOS_PER_SECOND = 1e9;

    private final ServalMetrics metrics;
    private final String model;
    private final CounterDataPoint success;
    private final CounterDataPoint invalid;
    private final CounterDataPoint rejected;
    private final CounterDataPoint expired;
    private final CounterDataPoint unavailable;
    private final CounterDataPoint failed;
    private final DistributionDataPoint requestDuration;
    private final DistributionDataPoint queueDuration;
    private final DistributionDataPoint computeDuration;
    private final DistributionDataPoint batchSize;

    ModelMetrics(ServalMetrics metrics, String model, String version) {
        this.metrics = metrics;
        this.model = model;
        this.success = metrics.requests.labelValues(model, version, "success");
        this.invalid = metrics.requests.labelValues(model, version, "invalid");
        this.rejected = metrics.requests.labelValues(model, version, "rejected");
        this.expired = metrics.requests.labelValues(model, version, "expired");
        this.unavailable = metrics.requests.labelValues(model, version, "unavailable");
        this.failed = metrics.requests.labelValues(model, version, "failed");
        this.requestDuration = metrics.requestDuration.labelValues(model, version);
        this.queueDuration = metrics.queueDuration.labelValues(model, version);
        this.computeDuration = metrics.computeDuration.labelValues(model, version);
        this.batchSize = metrics.batchSize.labelValues(model, version);
    }

    /** A request ended: {@code error} is null on success. */
    public void request(long nanos, ErrorCode error) {
        requestDuration.observe(nanos / NANOS_PER_SECOND);
        CounterDataPoint outcome = error == null ? success : switch (error) {
            case INVALID_ARGUMENT, NOT_FOUND, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, UNAUTHENTICATED, PERMISSION_DENIED,
                 UNIMPLEMENTED -> invalid;
            case RESOURCE_EXHAUSTED -> rejected;
            case DEADLINE_EXCEEDED -> expired;
            case UNAVAILABLE -> unavailable;
            case INTERNAL -> failed;
        };
        outcome.inc();
    }

    /** A request was answered by {@code fallback} instead of this model. */
    public void degraded(String fallback) {
        metrics.degraded.labelValues(model, fallback).inc();
    }

    @Override
    public void batch(int requests, int rows) {
        batchSize.observe(rows);
    }

    @Override
    public void queueWait(long nanos) {
        queueDuration.observe(nanos / NANOS_PER_SECOND);
    }

    @Override
    public void compute(long nanos) {
        computeDuration.observe(nanos / NANOS_PER_SECOND);
    }
}
