package dev.serval.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.Parameters;
import dev.serval.api.ServalException;
import dev.serval.model.ModelRegistry;
import dev.serval.model.ModelRepository;
import dev.serval.model.ModelVersion;
import dev.serval.model.RegistryOptions;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.schedule.FakeSession;
import dev.serval.schedule.ManualTicker;
import dev.serval.testing.Examples;
import dev.serval.testing.TestTensors;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The inference metrics, read back from {@link ServalMetrics#scrape()} snapshots. */
@Timeout(60)
class ServalMetricsTest {
    private final ServalMetrics metrics = ServalMetrics.withoutJvm();

    // ---- reading snapshots ----

    private MetricSnapshot metric(String name) {
        for (MetricSnapshot snapshot : metrics.scrape()) {
            String metadata = snapshot.getMetadata().getName();
            if (metadata.equals(name) || (metadata + "_total").equals(name)) {
                return snapshot;
            }
        }
        throw new AssertionError("no metric " + name + " in " + names());
    }

    private List<String> names() {
        return metrics.scrape().stream().map(s -> s.getMetadata().getPrometheusName()).toList();
    }

    private static <T extends DataPointSnapshot> T point(List<T> points, String... labels) {
        for (T point : points) {
            boolean match = true;
            for (int i = 0; i < labels.length; i += 2) {
                match &= labels[i + 1].equals(point.getLabels().get(labels[i]));
            }
            if (match) {
                return point;
            }
        }
        throw new AssertionError("no data point with labels " + List.of(labels) + " in " + points.stream()
                .map(p -> p.getLabels().toString()).collect(Collectors.joining(", ")));
    }

    private double counter(String name, String... labels) {
        return point(((CounterSnapshot) metric(name)).getDataPoints(), labels).getValue();
    }

    private HistogramSnapshot.HistogramDataPointSnapshot histogram(String name, String... labels) {
        return point(((HistogramSnapshot) metric(name)).getDataPoints(), labels);
    }

    private double gauge(String name, String... labels) {
        return point(((GaugeSnapshot) metric(name)).getDataPoints(), labels).getValue();
    }

    private double outcome(String model, String outcome) {
        return counter("serval_inference_requests_total", "model", model, "version", "1", "outcome", outcome);
    }

    /** Observations in the classic bucket whose upper bound is {@code bound} (not cumulative). */
    private static long bucket(HistogramSnapshot.HistogramDataPointSnapshot histogram, double bound) {
        var buckets = histogram.getClassicBuckets();
        for (int i = 0; i < buckets.size(); i++) {
            if (buckets.getUpperBound(i) == bound) {
                return buckets.getCount(i);
            }
        }
        throw new AssertionError("no bucket " + bound);
    }

    // ---- ModelMetrics by hand ----

    @Test
    void scrape_listsEveryInferenceMetric() {
        metrics.forModel("iris", "1", () -> 0);

        assertThat(names()).contains("serval_inference_requests", "serval_inference_request_duration_seconds",
                "serval_inference_queue_duration_seconds", "serval_inference_compute_duration_seconds",
                "serval_inference_batch_size", "serval_inference_queue_depth", "serval_inference_degraded");
    }

    @Test
    void request_countsEachOutcomeUnderItsLabel() {
        ModelMetrics iris = metrics.forModel("iris", "1", () -> 0);

        iris.request(1_000_000, null);
        iris.request(1_000_000, null);
        iris.request(1_000, ErrorCode.INVALID_ARGUMENT);
        iris.request(1_000, ErrorCode.NOT_FOUND);
        iris.request(1_000, ErrorCode.RESOURCE_EXHAUSTED);
        iris.request(1_000, ErrorCode.DEADLINE_EXCEEDED);
        iris.request(1_000, ErrorCode.UNAVAILABLE);
        iris.request(1_000, ErrorCode.INTERNAL);

        assertThat(outcome("iris", "success")).isEqualTo(2);
        assertThat(outcome("iris", "invalid")).isEqualTo(2);
        assertThat(outcome("iris", "rejected")).isEqualTo(1);
        assertThat(outcome("iris", "expired")).isEqualTo(1);
        assertThat(outcome("iris", "unavailable")).isEqualTo(1);
        assertThat(outcome("iris", "failed")).isEqualTo(1);
        HistogramSnapshot.HistogramDataPointSnapshot duration =
                histogram("serval_inference_request_duration_seconds", "model", "iris", "version", "1");
        assertThat(duration.getCount()).as("every outcome is timed").isEqualTo(8);
        assertThat(duration.getSum()).isCloseTo(2e-3 + 6e-6, within(1e-12));
    }

    @Test
    void request_outcomesStartAtZeroForEveryModel() {
        metrics.forModel("iris", "1", () -> 0);

        for (String outcome : List.of("success", "invalid", "rejected", "expired", "unavailable", "failed")) {
            assertThat(outcome("iris", outcome)).as(outcome).isZero();
        }
    }

    @Test
    void batch_recordsRowsPerRunInBatchBuckets() {
        ModelMetrics iris = metrics.forModel("iris", "1", () -> 0);

        iris.batch(1, 1);
        iris.batch(3, 7);
        iris.batch(2, 8);

        HistogramSnapshot.HistogramDataPointSnapshot sizes =
                histogram("serval_inference_batch_size", "model", "iris", "version", "1");
        assertThat(sizes.getCount()).isEqualTo(3);
        assertThat(sizes.getSum()).isEqualTo(16);
        assertThat(bucket(sizes, 1)).isEqualTo(1);
        assertThat(bucket(sizes, 8)).as("7 and 8 rows").isEqualTo(2);
    }

    @Test
    void queueWaitAndCompute_areRecordedInSeconds() {
        ModelMetrics iris = metrics.forModel("iris", "1", () -> 0);

        iris.queueWait(2_000_000);
        iris.compute(500_000);

        assertThat(histogram("serval_inference_queue_duration_seconds", "model", "iris", "version", "1").getSum())
                .isEqualTo(0.002);
        assertThat(histogram("serval_inference_compute_duration_seconds", "model", "iris", "version", "1").getSum())
                .isEqualTo(0.0005);
    }

    @Test
    void queueDepth_isReadAtEachScrapeAndStopsWhenRemoved() {
        AtomicInteger depth = new AtomicInteger(3);
        metrics.forModel("iris", "1", depth::get);
        metrics.forModel("iris_small", "2", () -> 9);

        assertThat(gauge("serval_inference_queue_depth", "model", "iris", "version", "1")).isEqualTo(3);
        depth.set(5);
        assertThat(gauge("serval_inference_queue_depth", "model", "iris", "version", "1")).isEqualTo(5);
        assertThat(gauge("serval_inference_queue_depth", "model", "iris_small", "version", "2")).isEqualTo(9);

        metrics.remove("iris", "1");

        assertThat(((GaugeSnapshot) metric("serval_inference_queue_depth")).getDataPoints())
                .extracting(p -> p.getLabels().get("model")).containsExactly("iris_small");
    }

    @Test
    void batchCeiling_isReadAtEachScrapeAndStopsWhenRemoved() {
        AtomicInteger ceiling = new AtomicInteger(32);
        metrics.forModel("mobilenet", "1", () -> 0, ceiling::get);

        assertThat(gauge("serval_inference_batch_ceiling", "model", "mobilenet", "version", "1")).isEqualTo(32);
        ceiling.set(4);
        assertThat(gauge("serval_inference_batch_ceiling", "model", "mobilenet", "version", "1")).isEqualTo(4);

        metrics.remove("mobilenet", "1");

        assertThat(((GaugeSnapshot) metric("serval_inference_batch_ceiling")).getDataPoints()).isEmpty();
    }

    @Test
    void degraded_countsByModelAndFallback() {
        ModelMetrics iris = metrics.forModel("iris", "1", () -> 0);

        iris.degraded("iris_small");
        iris.degraded("iris_small");

        assertThat(counter("serval_inference_degraded_total", "model", "iris", "fallback", "iris_small"))
                .isEqualTo(2);
    }

    @Test
    void versions_haveTheirOwnSeries() {
        ModelMetrics one = metrics.forModel("iris_small", "1", () -> 0);
        ModelMetrics two = metrics.forModel("iris_small", "2", () -> 0);

        one.request(1, null);
        two.request(1, null);
        two.request(1, null);

        assertThat(counter("serval_inference_requests_total", "model", "iris_small", "version", "1",
                "outcome", "success")).isEqualTo(1);
        assertThat(counter("serval_inference_requests_total", "model", "iris_small", "version", "2",
                "outcome", "success")).isEqualTo(2);
    }

    // ---- through the registry ----

    @Test
    void registry_recordsOutcomesBatchSizesQueueWaitsAndDepth(@TempDir Path repo) throws Exception {
        Path iris = repo.resolve("iris").resolve("1");
        Files.createDirectories(iris);
        Files.copy(Examples.model("iris"), iris.resolve("model.onnx"));
        ManualTicker ticker = new ManualTicker();
        try (OnnxBackend backend = new OnnxBackend();
             ModelRegistry registry = ModelRegistry.load(new ModelRepository(repo), backend,
                     new RegistryOptions(1, false, ticker), metrics)) {
            ModelVersion version = registry.resolve("iris", null);
            InferenceRequest good = new InferenceRequest("iris", null, null, Parameters.empty(),
                    List.of(TestTensors.fp32("input", new long[] {2, 4}, 5.1f, 3.5f, 1.4f, 0.2f, 7, 3.2f, 4.7f, 1.4f)),
                    List.of());
            InferenceRequest wrongShape = new InferenceRequest("iris", null, null, Parameters.empty(),
                    List.of(TestTensors.fp32("input", new long[] {1, 3}, 1, 2, 3)), List.of());
            InferenceRequest badPriority = new InferenceRequest("iris", null, null,
                    Parameters.of(Map.of("priority", 5L)), List.of(TestTensors.fp32("input", new long[] {1, 4},
                    1, 2, 3, 4)), List.of());

            version.infer(good);
            assertThatThrownBy(() -> version.infer(wrongShape)).isInstanceOf(ServalException.class);
            assertThatThrownBy(() -> version.infer(badPriority)).isInstanceOf(ServalException.class);
            var arrival = version.arrive();
            version.failed(arrival, ErrorCode.PAYLOAD_TOO_LARGE);
            arrival.close();

            assertThat(outcome("iris", "success")).isEqualTo(1);
            assertThat(outcome("iris", "invalid")).isEqualTo(3);
            HistogramSnapshot.HistogramDataPointSnapshot sizes =
                    histogram("serval_inference_batch_size", "model", "iris", "version", "1");
            assertThat(sizes.getCount()).isEqualTo(1);
            assertThat(sizes.getSum()).as("rows, not requests").isEqualTo(2);
            assertThat(histogram("serval_inference_queue_duration_seconds", "model", "iris", "version", "1")
                    .getCount()).isEqualTo(1);
            assertThat(histogram("serval_inference_compute_duration_seconds", "model", "iris", "version", "1")
                    .getCount()).isEqualTo(1);
            assertThat(histogram("serval_inference_request_duration_seconds", "model", "iris", "version", "1")
                    .getCount()).isEqualTo(4);
            assertThat(gauge("serval_inference_queue_depth", "model", "iris", "version", "1")).isZero();
        }
        assertThat(((GaugeSnapshot) metric("serval_inference_queue_depth")).getDataPoints())
                .as("an unloaded model has no depth").isEmpty();
    }

    @Test
    void registry_queueDepthCountsRequestsWaitingBehindABusyInstance(@TempDir Path repo) throws Exception {
        Path model = repo.resolve("m").resolve("1");
        Files.createDirectories(model);
        Files.writeString(model.resolve("model.onnx"), "fake");
        FakeSession session = new FakeSession();
        ModelRuntime runtime = new ModelRuntime() {
            @Override
            public String platform() {
                return "fake";
            }

            @Override
            public ModelSession open(Path file, SessionSettings settings) {
                return session;
            }

            @Override
            public void close() {
            }
        };
        ExecutorService clients = Executors.newCachedThreadPool();
        ModelRegistry registry = ModelRegistry.load(new ModelRepository(repo), runtime,
                new RegistryOptions(1, false, new ManualTicker()), metrics);
        try {
            ModelVersion version = registry.resolve("m", null);
            session.closeGate();
            List<Future<?>> requests = new ArrayList<>();
            requests.add(clients.submit(() -> version.infer(fakeRequest(0))));
            session.awaitRuns(1);
            requests.add(clients.submit(() -> version.infer(fakeRequest(1))));
            requests.add(clients.submit(() -> version.infer(fakeRequest(2))));
            long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (version.queueDepth() < 2 && System.nanoTime() - giveUp < 0) {
                Thread.onSpinWait();
            }

            assertThat(gauge("serval_inference_queue_depth", "model", "m", "version", "1")).isEqualTo(2);

            session.openGate();
            for (Future<?> request : requests) {
                request.get(30, TimeUnit.SECONDS);
            }
            assertThat(gauge("serval_inference_queue_depth", "model", "m", "version", "1")).isZero();
            HistogramSnapshot.HistogramDataPointSnapshot sizes =
                    histogram("serval_inference_batch_size", "model", "m", "version", "1");
            assertThat(sizes.getCount()).as("one run alone, then one run of the two queued").isEqualTo(2);
            assertThat(sizes.getSum()).isEqualTo(3);
            assertThat(outcome("m", "success")).isEqualTo(3);
        } finally {
            session.openGate();
            clients.shutdownNow();
            registry.close();
        }
    }

    private static InferenceRequest fakeRequest(int base) {
        return new InferenceRequest("m", null, null, Parameters.empty(),
                List.of(FakeSession.rows(base, 1)), List.of());
    }
}
