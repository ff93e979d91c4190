package dev.serval.model;

import static dev.serval.testing.TestTensors.floats;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.metrics.ServalMetrics;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.RunControl;
import dev.serval.runtime.SessionSettings;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.schedule.FakeSession;
import dev.serval.schedule.ManualTicker;
import dev.serval.testing.Examples;
import dev.serval.testing.TestTensors;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.assertj.core.api.AbstractThrowableAssert;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Schedule policy as a request meets it: the priority and timeout parameters, the batch checks,
 * batching across requests and degradation to a fallback model. Models are loaded by the real
 * registry from a temporary repository, through a runtime whose sessions delegate to ONNX Runtime
 * but can hold their runs at a gate, so that later requests queue deterministically.
 */
@Timeout(60)
class ModelVersionSchedulingTest {
    private static final float[][] FLOWERS = {
        {5.1f, 3.5f, 1.4f, 0.2f}, {7.0f, 3.2f, 4.7f, 1.4f}, {6.3f, 3.3f, 6.0f, 2.5f}, {4.9f, 3.0f, 1.4f, 0.2f},
        {5.8f, 2.7f, 5.1f, 1.9f}, {6.4f, 3.2f, 4.5f, 1.5f}, {5.0f, 3.6f, 1.4f, 0.2f}, {6.7f, 3.0f, 5.2f, 2.3f},
    };

    @TempDir
    Path repo;

    private final ManualTicker ticker = new ManualTicker(1_000_000, null);
    private final GatedRuntime runtime = new GatedRuntime();
    private final ServalMetrics metrics = ServalMetrics.withoutJvm();
    private final ExecutorService clients = Executors.newCachedThreadPool();
    private ModelRegistry registry;

    @AfterEach
    void close() {
        runtime.openAllGates();
        clients.shutdownNow();
        if (registry != null) {
            registry.close();
        }
    }

    // ---- fixtures ----

    private void copy(Path modelFile, String name, int version) throws IOException {
        Path folder = repo.resolve(name).resolve(String.valueOf(version));
        Files.createDirectories(folder);
        Files.copy(modelFile, folder.resolve("model.onnx"));
    }

    private void config(String name, String yaml) throws IOException {
        Files.writeString(repo.resolve(name).resolve("config.yaml"), yaml);
    }

    private void iris(String yaml) throws IOException {
        copy(Examples.model("iris"), "iris", 1);
        if (yaml != null) {
            config("iris", yaml);
        }
    }

    private ModelVersion load(String name) throws IOException {
        registry = ModelRegistry.load(new ModelRepository(repo), runtime, new RegistryOptions(2, false, ticker),
                metrics);
        assertThat(registry.index()).allSatisfy(s -> assertThat(s.reason()).as(s.name()).isEmpty());
        return registry.resolve(name, null);
    }

    private static Tensor flowers(int from, int rows) {
        float[] values = new float[rows * 4];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(FLOWERS[(from + r) % FLOWERS.length], 0, values, r * 4, 4);
        }
        return TestTensors.fp32("input", new long[] {rows, 4}, values);
    }

    private static InferenceRequest request(String model, Tensor input, Map<String, ?> parameters,
                                            String... outputs) {
        List<RequestedOutput> requested = new ArrayList<>();
        for (String output : outputs) {
            requested.add(new RequestedOutput(output, Parameters.empty()));
        }
        return new InferenceRequest(model, null, "req", Parameters.of(parameters), List.of(input), requested);
    }

    private static InferenceRequest iris(Tensor input, Map<String, ?> parameters) {
        return request("iris", input, parameters);
    }

    private Future<InferenceResponse> inferAsync(ModelVersion version, InferenceRequest request) {
        return clients.submit(() -> version.infer(request));
    }

    private static InferenceResponse get(Future<InferenceResponse> response) throws Exception {
        return response.get(30, TimeUnit.SECONDS);
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertFails(ErrorCode code,
                                                                              ThrowableAssert.ThrowingCallable call) {
        return assertThatThrownBy(call).isInstanceOfSatisfying(ServalException.class,
                e -> assertThat(e.code()).isEqualTo(code));
    }

    private static void awaitUntil(String what, BooleanSupplier condition) {
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - giveUp > 0) {
                fail("never happened: " + what);
            }
            Thread.onSpinWait();
        }
    }

    private static void awaitDepth(ModelVersion version, int depth) {
        awaitUntil("queue depth " + depth, () -> version.queueDepth() == depth);
    }

    private static void assertSameOutputs(InferenceResponse actual, InferenceResponse expected) {
        assertThat(actual.outputs()).extracting(Tensor::name)
                .containsExactlyElementsOf(expected.outputs().stream().map(Tensor::name).toList());
        for (int i = 0; i < expected.outputs().size(); i++) {
            Tensor a = actual.outputs().get(i);
            Tensor e = expected.outputs().get(i);
            assertThat(a.shape()).containsExactly(e.shape());
            float[] got = floats(a);
            float[] want = floats(e);
            for (int j = 0; j < want.length; j++) {
                assertThat(Math.abs(got[j] - want[j])).as("%s[%d]", e.name(), j)
                        .isLessThanOrEqualTo(1e-5f + 1e-5f * Math.abs(want[j]));
            }
        }
    }

    // ---- request parameters ----

    @Test
    void priority_outOfRangeIsInvalidArgumentNamingPriority() throws Exception {
        iris("dynamic_batching:\n  priority_levels: 2\n");
        ModelVersion iris = load("iris");

        for (long priority : new long[] {3, -1, 100}) {
            assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(iris(flowers(0, 1), Map.of("priority", priority))))
                    .hasMessageContaining("'priority'").hasMessageContaining(String.valueOf(priority))
                    .hasMessageContaining("2");
        }
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(iris(flowers(0, 1), Map.of("priority", "high"))))
                .hasMessageContaining("'priority'");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(iris(flowers(0, 1), Map.of("priority", 1.0))))
                .hasMessageContaining("'priority'");
        assertThat(runtime.session("iris").runs()).isEmpty();
    }

    @Test
    void priority_withinRangeOrZeroIsServed() throws Exception {
        iris("dynamic_batching:\n  priority_levels: 2\n");
        ModelVersion iris = load("iris");

        for (long priority : new long[] {0, 1, 2}) {
            InferenceResponse response = iris.infer(iris(flowers(0, 1), Map.of("priority", priority)));
            assertThat(response.outputs()).hasSize(2);
        }
    }

    @Test
    void priority_oneLevelByDefaultSoTwoIsRejected() throws Exception {
        iris(null);
        ModelVersion iris = load("iris");

        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(iris(flowers(0, 1), Map.of("priority", 2L))))
                .hasMessageContaining("'priority'");
        assertThat(iris.infer(iris(flowers(0, 1), Map.of("priority", 1L))).outputs()).hasSize(2);
    }

    @Test
    void priority_higherLevelRunsFirstAndTheDefaultIsTheLowest() throws Exception {
        iris("max_batch_size: 1\ndynamic_batching:\n  priority_levels: 2\n");
        ModelVersion iris = load("iris");
        GatedSession session = runtime.session("iris");
        session.closeGate();
        Future<InferenceResponse> first = inferAsync(iris, iris(flowers(0, 1), Map.of()));
        session.awaitRuns(1);

        Future<InferenceResponse> byDefault = inferAsync(iris, iris(flowers(1, 1), Map.of()));
        awaitDepth(iris, 1);
        Future<InferenceResponse> low = inferAsync(iris, iris(flowers(2, 1), Map.of("priority", 2L)));
        awaitDepth(iris, 2);
        Future<InferenceResponse> high = inferAsync(iris, iris(flowers(3, 1), Map.of("priority", 1L)));
        awaitDepth(iris, 3);
        session.openGate();

        for (Future<InferenceResponse> response : List.of(first, byDefault, low, high)) {
            get(response);
        }
        assertThat(session.runs()).extracting(Run::first)
                .containsExactly(FLOWERS[0][0], FLOWERS[3][0], FLOWERS[1][0], FLOWERS[2][0]);
    }

    @Test
    void timeout_negativeIsInvalidArgument() throws Exception {
        iris(null);
        ModelVersion iris = load("iris");

        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(iris(flowers(0, 1), Map.of("timeout", -1L))))
                .hasMessageContaining("'timeout'").hasMessageContaining("-1");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(iris(flowers(0, 1), Map.of("timeout", "soon"))))
                .hasMessageContaining("'timeout'");
        assertThat(iris.infer(iris(flowers(0, 1), Map.of("timeout", 0L))).outputs()).hasSize(2);
        assertThat(runtime.session("iris").runs()).hasSize(1);
    }

    @Test
    void timeout_passingWhileQueuedFailsTheRequestAndItNeverRuns() throws Exception {
        iris(null);
        ModelVersion iris = load("iris");
        GatedSession session = runtime.session("iris");
        session.closeGate();
        Future<InferenceResponse> first = inferAsync(iris, iris(flowers(0, 1), Map.of()));
        session.awaitRuns(1);

        // The wait is the timeout measured from the request's arrival on the ticker: 1 ms.
        assertFails(ErrorCode.DEADLINE_EXCEEDED, () -> iris.infer(iris(flowers(5, 1), Map.of("timeout", 1_000L))))
                .hasMessageContaining("iris");
        session.openGate();
        get(first);
        get(inferAsync(iris, iris(flowers(2, 1), Map.of())));

        assertThat(session.runs()).extracting(Run::first).containsExactly(FLOWERS[0][0], FLOWERS[2][0]);
        assertThat(iris.queueDepth()).isZero();
    }

    @Test
    void timeout_defaultFromTheConfigAppliesWhenTheRequestSetsNone() throws Exception {
        iris("dynamic_batching:\n  default_timeout_microseconds: 1000\n");
        ModelVersion iris = load("iris");
        GatedSession session = runtime.session("iris");
        session.closeGate();
        Future<InferenceResponse> first = inferAsync(iris, iris(flowers(0, 1), Map.of("timeout", 60_000_000L)));
        session.awaitRuns(1);

        assertFails(ErrorCode.DEADLINE_EXCEEDED, () -> iris.infer(iris(flowers(5, 1), Map.of())));
        session.openGate();
        get(first);
    }

    // ---- batch checks ----

    @Test
    void rows_batchLargerThanMaxBatchSizeIsInvalidArgument() throws Exception {
        iris("max_batch_size: 2\n");
        ModelVersion iris = load("iris");

        assertThat(iris.maxBatchSize()).isEqualTo(2);
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> iris.infer(iris(flowers(0, 3), Map.of())))
                .hasMessageContaining("3").hasMessageContaining("max_batch_size");
        assertThat(iris.infer(iris(flowers(0, 2), Map.of())).outputs().get(0).shape()).containsExactly(2, 3);
        assertThat(runtime.session("iris").runs()).extracting(Run::rows).containsExactly(2);
    }

    @Test
    void rows_inputsWithDifferentFirstDimensionsAreInvalidArgument() throws Exception {
        copy(Examples.testModel("scalar_add"), "scalar_add", 1);
        ModelVersion scalarAdd = load("scalar_add");
        InferenceRequest request = new InferenceRequest("scalar_add", null, null, Parameters.empty(),
                List.of(TestTensors.fp32("a", new long[] {1, 3}, 1, 2, 3),
                        TestTensors.fp32("b", new long[] {2, 3}, 1, 2, 3, 4, 5, 6)), List.of());

        assertFails(ErrorCode.INVALID_ARGUMENT, () -> scalarAdd.infer(request))
                .hasMessageContaining("'a'").hasMessageContaining("'b'");
        assertThat(runtime.session("scalar_add").runs()).isEmpty();
    }

    @Test
    void rows_inputsWithUnnamedBatchDimensionsMustStillAgree() throws Exception {
        // A model whose two inputs' batch dimensions carry no shared name: only the row check sees it.
        Files.createDirectories(repo.resolve("pair").resolve("1"));
        Files.writeString(repo.resolve("pair").resolve("1").resolve("model.onnx"), "not used");
        runtime.fake("pair", () -> new FakeSession(
                List.of(new TensorSpec("x", DataType.FP32, new long[] {-1, 3}),
                        new TensorSpec("w", DataType.FP32, new long[] {-1, 3})),
                List.of(new TensorSpec("y", DataType.FP32, new long[] {-1, 3}))));
        ModelVersion pair = load("pair");
        InferenceRequest mismatched = new InferenceRequest("pair", null, null, Parameters.empty(),
                List.of(FakeSession.rows(0, 1), TestTensors.fp32("w", new long[] {2, 3}, new float[6])), List.of());
        InferenceRequest matched = new InferenceRequest("pair", null, null, Parameters.empty(),
                List.of(FakeSession.rows(0, 2), TestTensors.fp32("w", new long[] {2, 3}, new float[6])), List.of());

        assertThat(pair.maxBatchSize()).isEqualTo(32);
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> pair.infer(mismatched))
                .hasMessageContaining("'w'").hasMessageContaining("'x'");
        InferenceResponse response = pair.infer(matched);
        assertThat(floats(response.outputs().get(0))).containsExactly(1, 2, 3, 11, 12, 13);
    }

    @Test
    void rows_modelWithoutBatchDimensionRunsEachRequestAlone() throws Exception {
        copy(Examples.testModel("fixed"), "fixed", 1);
        ModelVersion fixed = load("fixed");
        GatedSession session = runtime.session("fixed");
        session.closeGate();
        InferenceRequest request = new InferenceRequest("fixed", null, null, Parameters.empty(),
                List.of(TestTensors.fp32("x", new long[] {2, 3}, 0, 1, 2, 3, 4, 5)), List.of());
        Future<InferenceResponse> first = inferAsync(fixed, request);
        session.awaitRuns(1);
        Future<InferenceResponse> second = inferAsync(fixed, request);
        Future<InferenceResponse> third = inferAsync(fixed, request);
        awaitDepth(fixed, 2);
        session.openGate();

        for (Future<InferenceResponse> response : List.of(first, second, third)) {
            assertThat(floats(get(response).outputs().get(0))).containsExactly(1, 2, 3, 4, 5, 6);
        }
        assertThat(fixed.maxBatchSize()).isZero();
        assertThat(session.runs()).extracting(Run::rows).containsExactly(2, 2, 2);
    }

    // ---- batching ----

    @Test
    void batching_stacksQueuedRequestsIntoOneRunWithTheSameAnswers() throws Exception {
        iris(null);
        ModelVersion iris = load("iris");
        GatedSession session = runtime.session("iris");
        int[] rows = {1, 2, 1, 2, 1};
        List<InferenceRequest> requests = new ArrayList<>();
        List<InferenceResponse> alone = new ArrayList<>();
        for (int i = 0; i < rows.length; i++) {
            requests.add(iris(flowers(i + 1, rows[i]), Map.of()));
            alone.add(iris.infer(requests.get(i)));
        }
        assertThat(session.runs()).extracting(Run::rows).containsExactly(1, 2, 1, 2, 1);

        session.closeGate();
        Future<InferenceResponse> first = inferAsync(iris, iris(flowers(0, 1), Map.of()));
        session.awaitRuns(1);
        List<Future<InferenceResponse>> batched = new ArrayList<>();
        for (InferenceRequest request : requests) {
            batched.add(inferAsync(iris, request));
        }
        awaitDepth(iris, requests.size());
        session.openGate();

        get(first);
        for (int i = 0; i < requests.size(); i++) {
            InferenceResponse response = get(batched.get(i));
            assertThat(response.modelName()).isEqualTo("iris");
            assertThat(response.outputs().get(0).shape()).containsExactly(rows[i], 3);
            assertSameOutputs(response, alone.get(i));
        }
        List<Run> runs = session.runs();
        assertThat(runs).hasSize(rows.length + 2);
        assertThat(runs.get(runs.size() - 1).rows()).as("one run for every queued request").isEqualTo(7);
    }

    @Test
    void batching_respectsMaxBatchSizeFromTheConfig() throws Exception {
        iris("max_batch_size: 3\n");
        ModelVersion iris = load("iris");
        GatedSession session = runtime.session("iris");
        session.closeGate();
        Future<InferenceResponse> first = inferAsync(iris, iris(flowers(0, 1), Map.of()));
        session.awaitRuns(1);
        List<Future<InferenceResponse>> queued = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            queued.add(inferAsync(iris, iris(flowers(i, 1), Map.of())));
        }
        awaitDepth(iris, 4);
        session.openGate();

        get(first);
        for (Future<InferenceResponse> response : queued) {
            get(response);
        }
        assertThat(session.runs()).extracting(Run::rows).containsExactly(1, 3, 1);
    }

    @Test
    void queue_fullIsResourceExhaustedNamingMaxQueueSize() throws Exception {
        iris("dynamic_batching:\n  max_queue_size: 1\n");
        ModelVersion iris = load("iris");
        GatedSession session = runtime.session("iris");
        session.closeGate();
        Future<InferenceResponse> first = inferAsync(iris, iris(flowers(0, 1), Map.of()));
        session.awaitRuns(1);
        Future<InferenceResponse> queued = inferAsync(iris, iris(flowers(1, 1), Map.of()));
        awaitDepth(iris, 1);

        assertFails(ErrorCode.RESOURCE_EXHAUSTED, () -> iris.infer(iris(flowers(2, 1), Map.of())))
                .hasMessageContaining("max_queue_size");
        session.openGate();
        get(first);
        get(queued);
    }

    // ---- fallback ----

    @Test
    void fallback_takesOverPastTheBudgetAndTrafficReturnsOnceTheQueueDrains() throws Exception {
        iris("fallback:\n  model: iris_small\n  queue_wait_budget_microseconds: 1000\n");
        copy(Examples.model("iris_small"), "iris_small", 1);
        ModelVersion iris = load("iris");
        ModelVersion small = registry.resolve("iris_small", null);
        GatedSession irisSession = runtime.session("iris");
        GatedSession smallSession = runtime.session("iris_small");
        InferenceResponse smallAnswer = small.infer(request("iris_small", flowers(3, 1), Map.of()));
        InferenceResponse irisAnswer = iris.infer(iris(flowers(4, 1), Map.of()));
        assertThat(iris.isDegraded()).isFalse();
        int irisRuns = irisSession.runs().size();
        int smallRuns = smallSession.runs().size();

        irisSession.closeGate();
        Future<InferenceResponse> running = inferAsync(iris, iris(flowers(0, 1), Map.of()));
        irisSession.awaitRuns(1);
        Future<InferenceResponse> waiting = inferAsync(iris, iris(flowers(1, 1), Map.of()));
        awaitDepth(iris, 1);
        ticker.advanceMicros(1000); // the oldest has waited exactly the budget: not past it
        Future<InferenceResponse> stillHere = inferAsync(iris, iris(flowers(2, 1), Map.of()));
        awaitDepth(iris, 2);
        assertThat(iris.isDegraded()).isFalse();
        ticker.advance(1);

        InferenceResponse degraded = iris.infer(iris(flowers(3, 1), Map.of()));

        assertThat(iris.isDegraded()).isTrue();
        assertThat(degraded.modelName()).isEqualTo("iris");
        assertThat(degraded.parameters().asMap()).containsEntry("degraded", true)
                .containsEntry("fallback_model", "iris_small").containsEntry("fallback_version", "1");
        assertSameOutputs(degraded, smallAnswer);
        assertThat(smallSession.runs()).hasSize(smallRuns + 1);
        assertThat(irisSession.runs()).hasSize(irisRuns + 1);

        // An output the fallback lacks: this model serves it, after its queue.
        Future<InferenceResponse> needsIris = inferAsync(iris, request("iris", flowers(5, 1), Map.of(), "probabilities"));
        awaitDepth(iris, 3);
        irisSession.openGate();
        for (Future<InferenceResponse> response : List.of(running, waiting, stillHere, needsIris)) {
            assertThat(get(response).parameters().asMap()).doesNotContainKey("degraded");
        }
        assertThat(get(needsIris).outputs()).extracting(Tensor::name).containsExactly("probabilities");
        assertThat(iris.queueDepth()).isZero();

        InferenceResponse back = iris.infer(iris(flowers(4, 1), Map.of()));

        assertThat(back.parameters().asMap()).doesNotContainKey("degraded");
        assertThat(iris.isDegraded()).isFalse();
        assertSameOutputs(back, irisAnswer);
        assertThat(smallSession.runs()).hasSize(smallRuns + 1);
        assertThat(counter("serval_inference_degraded", "model", "iris", "fallback", "iris_small")).isEqualTo(1);
    }

    @Test
    void fallback_thatIsNotInTheRepositoryNeverFailsARequest() throws Exception {
        iris("fallback:\n  model: missing\n  queue_wait_budget_microseconds: 1\n");
        ModelVersion iris = load("iris");
        GatedSession session = runtime.session("iris");
        session.closeGate();
        Future<InferenceResponse> running = inferAsync(iris, iris(flowers(0, 1), Map.of()));
        session.awaitRuns(1);
        Future<InferenceResponse> waiting = inferAsync(iris, iris(flowers(1, 1), Map.of()));
        awaitDepth(iris, 1);
        ticker.advanceMicros(10);

        Future<InferenceResponse> afterBudget = inferAsync(iris, iris(flowers(2, 1), Map.of()));
        awaitDepth(iris, 2);
        session.openGate();

        for (Future<InferenceResponse> response : List.of(running, waiting, afterBudget)) {
            assertThat(get(response).parameters().asMap()).doesNotContainKey("degraded");
        }
    }

    @Test
    void fallback_namingTheModelItselfFailsItsLoad() throws Exception {
        iris("fallback:\n  model: iris\n  queue_wait_budget_microseconds: 10\n");
        registry = ModelRegistry.load(new ModelRepository(repo), runtime, new RegistryOptions(1, false, ticker));

        assertThat(registry.index()).singleElement().satisfies(status -> {
            assertThat(status.isReady()).isFalse();
            assertThat(status.reason()).hasValueSatisfying(r -> assertThat(r).contains("fallback.model"));
        });
    }

    private double counter(String name, String... labels) {
        for (MetricSnapshot snapshot : metrics.scrape()) {
            if (!snapshot.getMetadata().getName().equals(name)) {
                continue;
            }
            for (CounterSnapshot.CounterDataPointSnapshot point : ((CounterSnapshot) snapshot).getDataPoints()) {
                boolean match = true;
                for (int i = 0; i < labels.length; i += 2) {
                    match &= labels[i + 1].equals(point.getLabels().get(labels[i]));
                }
                if (match) {
                    return point.getValue();
                }
            }
        }
        return 0;
    }

    // ---- the gated runtime ----

    /** One run a {@link GatedSession} saw. */
    record Run(int rows, float first) {
    }

    /** ONNX Runtime sessions that record their runs and can hold them at a gate; or fakes by name. */
    static final class GatedRuntime implements ModelRuntime {
        private final OnnxBackend onnx = new OnnxBackend();
        private final Map<String, GatedSession> sessions = new ConcurrentHashMap<>();
        private final Map<String, Supplier<ModelSession>> fakes = new ConcurrentHashMap<>();

        void fake(String model, Supplier<ModelSession> session) {
            fakes.put(model, session);
        }

        GatedSession session(String model) {
            GatedSession session = sessions.get(model);
            assertThat(session).as("a session of model " + model).isNotNull();
            return session;
        }

        void openAllGates() {
            sessions.values().forEach(GatedSession::openGate);
        }

        @Override
        public String platform() {
            return onnx.platform();
        }

        @Override
        public ModelSession open(Path modelFile, SessionSettings settings) throws ModelLoadException {
            String model = modelFile.getParent().getParent().getFileName().toString();
            ModelSession delegate = fakes.containsKey(model) ? fakes.get(model).get() : onnx.open(modelFile, settings);
            GatedSession session = new GatedSession(delegate);
            sessions.put(model, session);
            return session;
        }

        @Override
        public void close() {
            onnx.close();
        }
    }

    static final class GatedSession implements ModelSession {
        private final ModelSession delegate;
        private final List<Run> runs = new CopyOnWriteArrayList<>();
        private final Semaphore started = new Semaphore(0);
        private volatile CountDownLatch gate;

        GatedSession(ModelSession delegate) {
            this.delegate = delegate;
        }

        /** Holds the runs that start from now on; {@link #awaitRuns} counts from here. */
        void closeGate() {
            gate = new CountDownLatch(1);
            started.drainPermits();
        }

        void openGate() {
            CountDownLatch held = gate;
            gate = null;
            if (held != null) {
                held.countDown();
            }
        }

        void awaitRuns(int count) throws InterruptedException {
            if (!started.tryAcquire(count, 30, TimeUnit.SECONDS)) {
                fail("expected " + count + " more run(s); runs so far " + runs);
            }
        }

        List<Run> runs() {
            return List.copyOf(runs);
        }

        @Override
        public List<TensorSpec> inputs() {
            return delegate.inputs();
        }

        @Override
        public List<TensorSpec> outputs() {
            return delegate.outputs();
        }

        @Override
        public List<Tensor> run(List<Tensor> inputs, List<String> outputNames, RunControl control) {
            Tensor first = inputs.get(0);
            runs.add(new Run((int) first.shape()[0], first.type() == DataType.FP32 ? floats(first)[0] : 0));
            started.release();
            CountDownLatch held = gate;
            if (held != null) {
                try {
                    if (!held.await(60, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("the test never opened the gate");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
            return delegate.run(inputs, outputNames, control);
        }

        @Override
        public void close() {
            delegate.close();
        }
    }
}
