package dev.serval.model;

import static dev.serval.testing.TestTensors.floats;
import static dev.serval.testing.TestTensors.fp32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.Parameters;
import dev.serval.api.ServalException;
import dev.serval.metrics.ServalMetrics;
import dev.serval.schedule.ModelScheduler;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading, swapping and unloading models while they serve: iris_small's versions 1 and 2 are two
 * different models, so every answer says which file computed it.
 */
@Timeout(120)
class ModelRegistryLifecycleTest {
    private static final RegistryOptions OPTIONS = new RegistryOptions(2, false);
    private static final float[] FLOWER = {5.1f, 3.5f, 1.4f, 0.2f};
    /** iris_small's logits for FLOWER (examples/reference/iris_small.v1.json and v2.json). */
    private static final float[] V1_LOGITS = {1.8944979906082153f, -0.6019375920295715f, -1.787512183189392f};
    private static final float[] V2_LOGITS = {14.232958793640137f, 5.422863483428955f, -32.29633712768555f};
    private static final String LATEST_ONE = "version_policy:\n  latest:\n    num_versions: 1\n";

    @TempDir
    Path root;
    @TempDir
    Path outside;

    private final GatedRuntime runtime = new GatedRuntime();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final ServalMetrics metrics = ServalMetrics.withoutJvm();
    private ModelRegistry registry;

    @AfterEach
    void close() {
        if (registry != null) {
            registry.close();
        }
        runtime.close();
        threads.shutdownNow();
    }

    @BeforeEach
    void repository() throws IOException {
        addVersion("m", 1, 1);
    }

    /** Copies iris_small's version {@code file} into {@code model}'s version folder {@code version}. */
    private void addVersion(String model, long version, int file) throws IOException {
        Path folder = Files.createDirectories(root.resolve(model).resolve(String.valueOf(version)));
        Files.copy(Examples.repository().resolve("iris_small/" + file + "/model.onnx"), folder.resolve("model.onnx"),
                StandardCopyOption.REPLACE_EXISTING);
    }

    private ModelRegistry start(ModelControl control) throws IOException {
        registry = ModelRegistry.start(new ModelRepository(root), runtime, OPTIONS, metrics, control);
        return registry;
    }

    private static InferenceRequest flower(String model) {
        return new InferenceRequest(model, null, null, Parameters.empty(), List.of(fp32("input", new long[] {1, 4}, FLOWER)),
                List.of());
    }

    private static void assertAnswer(InferenceResponse response, String version, float[] logits) {
        assertThat(response.modelVersion()).isEqualTo(version);
        float[] actual = floats(response.outputs().get(0));
        for (int i = 0; i < logits.length; i++) {
            assertThat(actual[i]).isCloseTo(logits[i], within(1e-4f));
        }
    }

    private String row(String model, String version) {
        return registry.index().stream().filter(s -> s.name().equals(model) && s.version().equals(version))
                .map(s -> s.state() + s.reason().map(r -> " " + r).orElse(""))
                .findFirst().orElse("absent");
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertFails(ErrorCode code, Runnable call) {
        return assertThatThrownBy(call::run).isInstanceOfSatisfying(ServalException.class,
                e -> assertThat(e.code()).as(e.getMessage()).isEqualTo(code));
    }

    private boolean hasGauge(String model, String version) {
        for (MetricSnapshot snapshot : metrics.scrape()) {
            if (snapshot.getMetadata().getName().equals("serval_inference_queue_depth")) {
                for (DataPointSnapshot point : snapshot.getDataPoints()) {
                    if (model.equals(point.getLabels().get("model")) && version.equals(point.getLabels().get("version"))) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    @Test
    void explicit_loadsNothingUntilAsked_thenLoadsAndUnloads() throws IOException {
        start(ModelControl.explicit(List.of()));
        assertThat(row("m", "")).startsWith("UNAVAILABLE not loaded");
        assertFails(ErrorCode.UNAVAILABLE, () -> registry.resolve("m", null)).hasMessageContaining("not loaded");
        assertThat(registry.allReady()).isTrue();

        assertThat(registry.load("m")).extracting(s -> s.version() + ":" + s.state()).containsExactly("1:READY");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
        ModelVersion loaded = registry.resolve("m", null);

        registry.unload("m");
        assertThat(loaded.isClosed()).isTrue();
        assertThat(hasGauge("m", "1")).isFalse();
        assertThat(row("m", "")).isEqualTo("UNAVAILABLE unloaded");
        assertFails(ErrorCode.UNAVAILABLE, () -> registry.resolve("m", null)).hasMessageContaining("unloaded");
        assertFails(ErrorCode.UNAVAILABLE, () -> loaded.infer(flower("m"))).hasMessageContaining("was unloaded");

        registry.load("m");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
        assertThat(hasGauge("m", "1")).isTrue();
    }

    @Test
    void explicit_loadsStartupModels() throws IOException {
        addVersion("other", 1, 2);
        start(ModelControl.explicit(List.of("other")));
        assertAnswer(registry.resolve("other", null).infer(flower("other")), "1", V2_LOGITS);
        assertFails(ErrorCode.UNAVAILABLE, () -> registry.resolve("m", null));
    }

    @Test
    void explicit_startupModelWithoutFolder_failsTheStart() {
        assertThatThrownBy(() -> start(ModelControl.explicit(List.of("nothere"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nothere");
    }

    @Test
    void swap_newVersionTakesTrafficAndTheOldOneCloses() throws IOException {
        Files.writeString(root.resolve("m/config.yaml"), LATEST_ONE);
        start(ModelControl.explicit(List.of("m")));
        ModelVersion v1 = registry.resolve("m", null);
        assertAnswer(v1.infer(flower("m")), "1", V1_LOGITS);

        addVersion("m", 2, 2);
        registry.load("m");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "2", V2_LOGITS);
        assertThat(v1.isClosed()).isTrue();
        assertThat(registry.index()).extracting(s -> s.name() + ":" + s.version() + ":" + s.state())
                .containsExactly("m:2:READY");
        assertThat(registry.resolve("m", "2").metadata().versions()).containsExactly("2");
        assertFails(ErrorCode.NOT_FOUND, () -> registry.resolve("m", "1")).hasMessageContaining("ready versions are [2]");
        assertThat(hasGauge("m", "1")).isFalse();
        assertThat(hasGauge("m", "2")).isTrue();
    }

    @Test
    void swap_requestInFlightOnTheOldVersionFinishesThere() throws Exception {
        Files.writeString(root.resolve("m/config.yaml"), LATEST_ONE);
        start(ModelControl.explicit(List.of("m")));
        ModelVersion v1 = registry.resolve("m", null);
        runtime.close("m");
        CompletableFuture<InferenceResponse> inFlight = CompletableFuture.supplyAsync(() -> v1.infer(flower("m")), threads);
        runtime.awaitBlocked("m");

        addVersion("m", 2, 2);
        CompletableFuture<List<ModelStatus>> load = CompletableFuture.supplyAsync(() -> registry.load("m"), threads);
        // The new version is published while the old one still runs the request ...
        while (!registry.resolve("m", null).version().equals("2")) {
            Thread.onSpinWait();
        }
        assertThat(v1.isClosed()).isFalse();
        assertThat(v1.leasesHeld()).isEqualTo(1);
        assertThat(load).isNotDone();
        // ... which finishes on the old version; only then does the old version close.
        runtime.open("m");
        assertAnswer(inFlight.get(30, TimeUnit.SECONDS), "1", V1_LOGITS);
        load.get(30, TimeUnit.SECONDS);
        assertThat(v1.isClosed()).isTrue();
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "2", V2_LOGITS);
    }

    @Test
    void swap_requestThatFoundTheOldVersionJustBeforeItClosed_runsOnTheNewOne() throws IOException {
        Files.writeString(root.resolve("m/config.yaml"), LATEST_ONE);
        start(ModelControl.explicit(List.of("m")));
        ModelVersion found = registry.resolve("m", null);
        addVersion("m", 2, 2);
        registry.load("m");
        assertThat(found.isClosed()).isTrue();

        // The transport's sequence, resolve then arrive then infer, straddling the swap.
        try (ModelScheduler.Arrival arrival = found.arrive()) {
            assertAnswer(found.infer(flower("m"), arrival), "2", V2_LOGITS);
        }
        try (ModelScheduler.Arrival arrival = found.arrive()) {
            found.failed(arrival, ErrorCode.INVALID_ARGUMENT);
        }
    }

    @Test
    void reload_sameVersionWithANewFile_swapsIt() throws IOException {
        start(ModelControl.explicit(List.of("m")));
        ModelVersion before = registry.resolve("m", null);
        addVersion("m", 1, 2);
        touch(root.resolve("m/1/model.onnx"));
        registry.load("m");
        assertAnswer(registry.resolve("m", "1").infer(flower("m")), "1", V2_LOGITS);
        assertThat(before.isClosed()).isTrue();
        assertThat(hasGauge("m", "1")).isTrue();
    }

    @Test
    void reload_unchangedFiles_keepsTheLoadedVersion() throws IOException {
        start(ModelControl.explicit(List.of("m")));
        ModelVersion before = registry.resolve("m", null);
        int opened = runtime.opened();
        registry.load("m");
        assertThat(registry.resolve("m", null)).isSameAs(before);
        assertThat(runtime.opened()).isEqualTo(opened);
    }

    private static void touch(Path file) throws IOException {
        Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 5000));
    }

    @Test
    void corruptNewVersion_neverTakesTraffic_theOldServesOn() throws IOException {
        Files.writeString(root.resolve("m/config.yaml"), LATEST_ONE);
        start(ModelControl.explicit(List.of("m")));
        Path broken = Files.createDirectories(root.resolve("m/2"));
        byte[] model = Files.readAllBytes(Examples.repository().resolve("iris_small/2/model.onnx"));
        Files.write(broken.resolve("model.onnx"), Arrays.copyOf(model, model.length / 2));

        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("m"))
                .hasMessageContaining("'m' failed to load").hasMessageContaining("version 2")
                .hasMessageContaining("serving versions [1]");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
        assertThat(row("m", "1")).isEqualTo("READY");
        assertThat(row("m", "2")).startsWith("UNAVAILABLE").contains("model.onnx");
        assertFails(ErrorCode.UNAVAILABLE, () -> registry.resolve("m", "2"));
        assertThat(registry.allReady()).isTrue();

        // Fixed: the next load swaps.
        addVersion("m", 2, 2);
        registry.load("m");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "2", V2_LOGITS);
        assertThat(row("m", "1")).isEqualTo("absent");
    }

    @Test
    void corruptReplacementOfTheSameVersion_keepsTheLoadedOne() throws IOException {
        start(ModelControl.explicit(List.of("m")));
        Files.writeString(root.resolve("m/1/model.onnx"), "not a model");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("m"));
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
        assertThat(row("m", "1")).startsWith("READY reloading failed");
        assertThat(hasGauge("m", "1")).isTrue();
    }

    @Test
    void invalidNewConfig_keepsWhatServes() throws IOException {
        start(ModelControl.explicit(List.of("m")));
        Files.writeString(root.resolve("m/config.yaml"), "version_policy: {newest: {}}\n");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("m")).hasMessageContaining("version_policy");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
        assertThat(row("m", "")).startsWith("UNAVAILABLE").contains("version_policy.newest");
    }

    @Test
    void versionPolicies_selectWhatLoads() throws IOException {
        addVersion("m", 2, 2);
        addVersion("m", 3, 1);
        Files.writeString(root.resolve("m/config.yaml"), "version_policy: {specific: {versions: [1, 3, 7]}}\n");
        start(ModelControl.explicit(List.of("m")));
        assertThat(registry.resolve("m", "3").metadata().versions()).containsExactly("1", "3");
        assertFails(ErrorCode.NOT_FOUND, () -> registry.resolve("m", "2")).hasMessageContaining("[1, 3]");

        Files.writeString(root.resolve("m/config.yaml"), "version_policy: {latest: {num_versions: 2}}\n");
        registry.load("m");
        assertThat(registry.resolve("m", null).metadata().versions()).containsExactly("2", "3");

        Files.writeString(root.resolve("m/config.yaml"), "version_policy: {all: {}}\n");
        registry.load("m");
        assertThat(registry.resolve("m", null).metadata().versions()).containsExactly("1", "2", "3");
        assertAnswer(registry.resolve("m", "2").infer(flower("m")), "2", V2_LOGITS);
    }

    @Test
    void warmup_runsBeforeTheVersionIsPublished() throws IOException {
        Files.writeString(root.resolve("m/config.yaml"), "warmup: {count: 3, batch_size: 2, data: ones}\n");
        start(ModelControl.explicit(List.of("m")));
        assertThat(runtime.runs("m")).hasSize(3);
        assertThat(runtime.runs("m").getLast().rows()).isEqualTo(2);
        assertThat(row("m", "1")).isEqualTo("READY");
    }

    @Test
    void warmup_versionIsLoadingAndTheOldOneServesUntilItEnds() throws Exception {
        Files.writeString(root.resolve("m/config.yaml"), LATEST_ONE + "warmup: {count: 1}\n");
        start(ModelControl.explicit(List.of("m")));
        ModelVersion v1 = registry.resolve("m", null);
        addVersion("m", 2, 2);
        runtime.close("m");
        CompletableFuture<List<ModelStatus>> load = CompletableFuture.supplyAsync(() -> registry.load("m"), threads);
        runtime.awaitBlocked("m"); // version 2's warm-up run is held

        assertThat(row("m", "2")).isEqualTo("LOADING");
        assertThat(row("m", "1")).isEqualTo("READY");
        assertThat(registry.resolve("m", null)).isSameAs(v1);
        assertFails(ErrorCode.NOT_FOUND, () -> registry.resolve("m", "2"));

        runtime.open("m");
        assertThat(load.get(30, TimeUnit.SECONDS)).extracting(s -> s.version() + ":" + s.state()).containsExactly("2:READY");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "2", V2_LOGITS);
        assertThat(v1.isClosed()).isTrue();
    }

    @Test
    void warmupFailure_isALoadFailure() throws IOException {
        Files.writeString(root.resolve("m/config.yaml"), "warmup: {shapes: {pixels: [1, 4]}}\n");
        start(ModelControl.explicit(List.of("m")));
        assertThat(row("m", "1")).startsWith("UNAVAILABLE warm-up failed").contains("'pixels'").contains("input");
        Files.writeString(root.resolve("m/config.yaml"), "warmup: {shapes: {input: [1, 5]}}\n");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("m")).hasMessageContaining("[1,5]");
        assertThat(registry.allReady()).isFalse();
    }

    @Test
    void badNames_areRefusedAndChangeNothing() throws IOException {
        start(ModelControl.explicit(List.of("m")));
        List<ModelStatus> before = registry.index();
        for (String name : List.of("..", "../m", "m/1", "a\\b", ".hidden", "", "m\u0000")) {
            assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load(name)).hasMessageContaining("not a valid model name");
        }
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.unload("../m"));
        assertFails(ErrorCode.NOT_FOUND, () -> registry.load("missing")).hasMessageContaining("[m]");
        assertFails(ErrorCode.NOT_FOUND, () -> registry.unload("missing"));
        assertThat(registry.index()).isEqualTo(before);
    }

    @Test
    void symlinksOutOfTheRepository_areNeverFollowed() throws IOException {
        start(ModelControl.explicit(List.of("m")));
        Path elsewhere = Files.createDirectories(outside.resolve("model/1"));
        Files.copy(Examples.repository().resolve("iris_small/2/model.onnx"), elsewhere.resolve("model.onnx"));
        Files.createSymbolicLink(root.resolve("linked"), outside.resolve("model"));
        Files.createDirectories(root.resolve("m/2"));
        Files.createSymbolicLink(root.resolve("m/2/model.onnx"), elsewhere.resolve("model.onnx"));
        int opened = runtime.opened();

        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("linked")).hasMessageContaining("outside the model repository");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("m")).hasMessageContaining("outside the model repository");
        assertThat(runtime.opened()).isEqualTo(opened);
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
    }

    @Test
    void missingModelFile_isALoadFailureWithItsReason() throws IOException {
        start(ModelControl.explicit(List.of("m")));
        Files.createDirectories(root.resolve("m/2"));
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("m")).hasMessageContaining("does not exist");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
    }

    @Test
    void noneMode_refusesLoadAndUnload() throws IOException {
        start(ModelControl.NONE);
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("m")).hasMessageContaining("--model-control-mode none");
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.unload("m")).hasMessageContaining("explicit");
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
    }

    @Test
    void poll_appliesNewVersionsChangedConfigAndRemovedModels() throws IOException {
        addVersion("gone", 1, 1);
        start(new ModelControl(ModelControl.Mode.POLL, Duration.ofHours(1), List.of()));
        assertFails(ErrorCode.INVALID_ARGUMENT, () -> registry.load("m")).hasMessageContaining("poll");
        ModelVersion v1 = registry.resolve("m", null);

        registry.poll(); // nothing changed: nothing reloads
        assertThat(registry.resolve("m", null)).isSameAs(v1);

        addVersion("m", 2, 2);
        registry.poll();
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "2", V2_LOGITS);
        assertThat(v1.isClosed()).isFalse(); // policy all: version 1 stays
        assertThat(registry.resolve("m", "1")).isSameAs(v1);

        Files.writeString(root.resolve("m/config.yaml"), "version_policy: {specific: {versions: [1]}}\n");
        registry.poll();
        assertAnswer(registry.resolve("m", null).infer(flower("m")), "1", V1_LOGITS);
        assertThat(v1.isClosed()).isTrue(); // the config changed: version 1 reloaded beside the old one

        deleteTree(root.resolve("gone"));
        registry.poll();
        assertFails(ErrorCode.NOT_FOUND, () -> registry.resolve("gone", null));
        assertThat(registry.index()).extracting(ModelStatus::name).doesNotContain("gone");
    }

    private static void deleteTree(Path folder) throws IOException {
        try (var paths = Files.walk(folder)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }

    @Test
    void swaps_underConcurrentRequests_failNone() throws Exception {
        Files.writeString(root.resolve("m/config.yaml"), LATEST_ONE);
        start(ModelControl.explicit(List.of("m")));
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger answered = new AtomicInteger();
        Map<String, Throwable> firstFailure = new ConcurrentHashMap<>();
        CountDownLatch stop = new CountDownLatch(1);
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            clients.add(Thread.ofVirtual().start(() -> {
                while (stop.getCount() > 0) {
                    try {
                        InferenceResponse response;
                        ModelVersion version = registry.resolve("m", null);
                        try (ModelScheduler.Arrival arrival = version.arrive()) {
                            response = version.infer(flower("m"), arrival);
                        }
                        float expected = (Long.parseLong(response.modelVersion()) % 2 == 1 ? V1_LOGITS : V2_LOGITS)[0];
                        if (Math.abs(floats(response.outputs().get(0))[0] - expected) > 1e-3) {
                            throw new AssertionError("version " + response.modelVersion() + " answered with another model");
                        }
                        answered.incrementAndGet();
                    } catch (RuntimeException | AssertionError e) {
                        failures.incrementAndGet();
                        firstFailure.putIfAbsent("first", e);
                    }
                }
            }));
        }
        for (int version = 2; version <= 11; version++) {
            addVersion("m", version, version % 2 == 1 ? 1 : 2);
            registry.load("m");
            assertThat(registry.resolve("m", null).version()).isEqualTo(String.valueOf(version));
        }
        stop.countDown();
        for (Thread client : clients) {
            client.join();
        }
        assertThat(firstFailure).isEmpty();
        assertThat(failures.get()).isZero();
        assertThat(answered.get()).isPositive();
        assertThat(registry.index()).extracting(s -> s.version() + ":" + s.state()).containsExactly("11:READY");
    }
}
