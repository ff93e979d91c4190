package dev.serval.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.jvm.JvmBufferPoolMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmClassLoadingMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmCompilationMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmGarbageCollectorMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmMemoryMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmNativeMemoryMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmRuntimeInfoMetric;
import io.prometheus.metrics.instrumentation.jvm.JvmThreadsMetrics;
import io.prometheus.metrics.instrumentation.jvm.ProcessMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;

/**
 * Serval's Prometheus metrics: one registry per server, the JVM's metrics (heap, off-heap buffer
 * pools, GC pause counts and times, threads, resident memory) and the inference metrics below.
 *
 * <pre>
 * serval_inference_requests_total{model,version,outcome}     outcome: success, invalid, rejected,
 *                                                             expired, unavailable, failed
 * serval_inference_request_duration_seconds{model,version}   arrival to answer, every outcome
 * serval_inference_queue_duration_seconds{model,version}     queued to run start
 * serval_inference_compute_duration_seconds{model,version}   one run, stacking and splitting included
 * serval_inference_batch_size{model,version}                 rows per run
 * serval_inference_queue_depth{model,version}                requests waiting now
 * serval_inference_batch_ceiling{model,version}              rows the next run may gather (learned)
 * serval_inference_degraded_total{model,fallback}            requests answered by the fallback model
 * serval_inference_cancelled_total{model,reason}             requests given up because their client went
 *                                                             away; queued ones never reach the model.
 *                                                             reason: client_closed (HTTP connection),
 *                                                             client_cancelled (gRPC call)
 * serval_events_recorded_total                               events the feature store acknowledged
 * serval_event_batches_total{outcome}                        event batches (POST /v2/events, RecordEvents)
 *                                                             outcome: recorded, invalid, rejected,
 *                                                             unavailable, failed
 * </pre>
 *
 * <p>The per-request metrics keep no exemplars: the text format served on {@code /metrics} cannot
 * carry them, and sampling them (looking for a trace's span at each observation) was 1% of the Java
 * samples of iris over JSON (JFR, 2026-12-07).
 *
 * <p>Thread-safe.
 */
public final class ServalMetrics {
    static final double[] LATENCY_BUCKETS = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    static final double[] BATCH_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

    private final PrometheusRegistry registry;
    final Counter requests;
    final Histogram requestDuration;
    final Histogram queueDuration;
    final Histogram computeDuration;
    final Histogram batchSize;
    final Counter degraded;
    final Counter cancelled;
    final Counter eventsRecorded;
    final Counter eventBatches;
    private final Map<List<String>, IntSupplier> queueDepths = new ConcurrentHashMap<>();
    private final Map<List<String>, IntSupplier> batchCeilings = new ConcurrentHashMap<>();

    /**
     * A registry with the JVM's metrics and Serval's.
     *
     * <p>Design note: the JVM metrics are those of the client library's {@code JvmMetrics} except
     * the allocation counters per memory pool ({@code jvm_memory_pool_allocated_bytes_total}). Those
     * listen to the JVM's GC notifications, and with a listener the JVM builds a notification (open
     * MBean composite data, with regular expressions and reflection) for every collection: with
     * ZGC's frequent young collections under a small soft heap that was 10% of the Java samples of
     * a profile of iris over JSON at 10 clients (JFR, 2026-12-07), for a counter nobody asked for.
     * Heap, off-heap (buffer pools and memory pools), and GC pause counts and times
     * ({@code jvm_gc_collection_seconds}, read from the collectors' MXBeans at scrape) remain.
     */
    public static ServalMetrics create() {
        PrometheusRegistry registry = new PrometheusRegistry();
        JvmThreadsMetrics.builder().register(registry);
        JvmBufferPoolMetrics.builder().register(registry);
        JvmClassLoadingMetrics.builder().register(registry);
        JvmCompilationMetrics.builder().register(registry);
        JvmGarbageCollectorMetrics.builder().register(registry);
        JvmMemoryMetrics.builder().register(registry);
        JvmNativeMemoryMetrics.builder().register(registry);
        JvmRuntimeInfoMetric.builder().register(registry);
        ProcessMetrics.builder().register(registry);
        return new ServalMetrics(registry);
    }

    /** Serval's metrics only, in their own registry (for tests). */
    public static ServalMetrics withoutJvm() {
        return new ServalMetrics(new PrometheusRegistry());
    }

    private ServalMetrics(PrometheusRegistry registry) {
        this.registry = registry;
        this.requests = Counter.builder().name("serval_inference_requests_total").withoutExemplars()
                .help("Inference requests by model, version and outcome")
                .labelNames("model", "version", "outcome").register(registry);
        this.requestDuration = seconds("serval_inference_request_duration_seconds",
                "Time from a request's arrival to its answer");
        this.queueDuration = seconds("serval_inference_queue_duration_seconds",
                "Time a request waited in its model's queue before its run started");
        this.computeDuration = seconds("serval_inference_compute_duration_seconds",
                "Time of one run of the model, batch stacking and splitting included");
        this.batchSize = Histogram.builder().name("serval_inference_batch_size").withoutExemplars()
                .help("Rows in each run of the model").classicOnly().classicUpperBounds(BATCH_BUCKETS)
                .labelNames("model", "version").register(registry);
        this.degraded = Counter.builder().name("serval_inference_degraded_total")
                .help("Requests answered by a model's fallback because its queue was too slow")
                .labelNames("model", "fallback").register(registry);
        this.cancelled = Counter.builder().name("serval_inference_cancelled_total")
                .help("Requests given up because their client went away before the answer; those still queued "
                        + "are dropped before the model computes them").labelNames("model", "reason").register(registry);
        this.eventsRecorded = Counter.builder().name("serval_events_recorded_total")
                .help("Events the feature store acknowledged as durable").register(registry);
        this.eventBatches = Counter.builder().name("serval_event_batches_total")
                .help("Event batches by outcome; a batch that is not recorded records none of its events")
                .labelNames("outcome").register(registry);
        GaugeWithCallback.builder().name("serval_inference_queue_depth")
                .help("Requests waiting in a model's queue").labelNames("model", "version")
                .callback(callback -> queueDepths.forEach((labels, depth) ->
                        callback.call(depth.getAsInt(), labels.get(0), labels.get(1))))
                .register(registry);
        GaugeWithCallback.builder().name("serval_inference_batch_ceiling")
                .help("Most rows the model's next run may gather: max_batch_size, or less where the scheduler "
                        + "measured smaller batches cheaper per row").labelNames("model", "version")
                .callback(callback -> batchCeilings.forEach((labels, ceiling) ->
                        callback.call(ceiling.getAsInt(), labels.get(0), labels.get(1))))
                .register(registry);
    }

    private Histogram seconds(String name, String help) {
        return Histogram.builder().name(name).withoutExemplars().help(help).unit(Unit.SECONDS).classicOnly()
                .classicUpperBounds(LATENCY_BUCKETS).labelNames("model", "version").register(registry);
    }

    /** The handles for one model version; {@code queueDepth} is read at each scrape. */
    public ModelMetrics forModel(String model, String version, IntSupplier queueDepth) {
        queueDepths.put(List.of(model, version), queueDepth);
        return new ModelMetrics(this, model, version);
    }

    /** As {@link #forModel(String, String, IntSupplier)}, with the batch ceiling read at each scrape too. */
    public ModelMetrics forModel(String model, String version, IntSupplier queueDepth, IntSupplier batchCeiling) {
        batchCeilings.put(List.of(model, version), batchCeiling);
        return forModel(model, version, queueDepth);
    }

    /** Reason for {@link #cancelled}: the client closed its HTTP connection while its request waited. */
    public static final String CLIENT_CLOSED = "client_closed";

    /** Reason for {@link #cancelled}: the gRPC client cancelled its call while its request waited. */
    public static final String CLIENT_CANCELLED = "client_cancelled";

    /** A request to {@code model} was given up because its client went away ({@code reason}). */
    public void cancelled(String model, String reason) {
        cancelled.labelValues(model, reason).inc();
    }

    /** The handles for event ingest. */
    public EventMetrics events() {
        return new EventMetrics(this);
    }

    /** Stops reporting a model version's gauges (it was unloaded). */
    public void remove(String model, String version) {
        queueDepths.remove(List.of(model, version));
        batchCeilings.remove(List.of(model, version));
    }

    /**
     * Adds metrics kept elsewhere (e.g. the feature store's, read from its counters at each scrape)
     * to this registry.
     *
     * @throws IllegalArgumentException when a metric of the same name is registered already
     */
    public void register(io.prometheus.metrics.model.registry.Collector collector) {
        registry.register(collector);
    }

    /** A consistent snapshot of every metric, for an exporter. */
    public MetricSnapshots scrape() {
        return registry.scrape();
    }
}
