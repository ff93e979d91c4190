package dev.serval.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import dev.serval.testing.Examples;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model cache's entries: reused for the same version of a file, replaced when the file
 * changes (even keeping its size and time), removed when it is gone, never left half written,
 * and a cache that cannot be used loads the model file itself.
 */
class ModelCacheTest {
    private static final SessionSettings ONE_THREAD = new SessionSettings(1, false);

    @TempDir
    Path dir;
    private Path cacheDir;
    private ModelCache cache;
    private Path model;

    @BeforeEach
    void setUp() throws IOException {
        cacheDir = dir.resolve("cache");
        cache = new ModelCache(new ModelCacheSettings(cacheDir, 0, 0));
        model = Files.copy(Examples.model("iris_small"),
                Files.createDirectories(dir.resolve("repo/iris_small/1")).resolve("model.onnx"));
    }

    private List<Path> entries() throws IOException {
        if (!Files.exists(cacheDir)) {
            return List.of();
        }
        try (var files = Files.list(cacheDir)) {
            return files.sorted().toList();
        }
    }

    @Test
    void prepare_writesOneEntry_andReusesItForTheSameVersion() throws IOException {
        Path graph = cache.prepare(model);
        assertThat(graph).isNotEqualTo(model).endsWith(Path.of(ModelCache.GRAPH_FILE)).startsWith(cacheDir);
        assertThat(graph.resolveSibling(ExternalDataRewriter.DATA_FILE)).isRegularFile();
        assertThat(graph.resolveSibling(ModelCache.SOURCE_FILE)).isRegularFile();
        Object written = Files.readAttributes(graph, "unix:ino").get("ino");
        FileTime time = Files.getLastModifiedTime(graph);

        assertThat(new ModelCache(new ModelCacheSettings(cacheDir, 0, 0)).prepare(model)).isEqualTo(graph);
        assertThat(cache.prepare(model)).isEqualTo(graph);
        assertThat(Files.readAttributes(graph, "unix:ino").get("ino")).as("not rewritten").isEqualTo(written);
        assertThat(Files.getLastModifiedTime(graph)).isEqualTo(time);
        assertThat(entries()).containsExactly(graph.getParent());
    }

    @Test
    void prepare_replacesTheEntry_whenTheFileChanges_evenKeepingItsSizeAndTime() throws Exception {
        Path first = cache.prepare(model);
        FileTime time = Files.getLastModifiedTime(model);
        // Version 2 has the same size and graph, other weights: overwritten in place, its time put back.
        byte[] other = Files.readAllBytes(Examples.repository().resolve("iris_small/2/model.onnx"));
        assertThat(other).hasSize((int) Files.size(model)).isNotEqualTo(Files.readAllBytes(model));
        Files.write(model, other);
        Files.setLastModifiedTime(model, time);

        Path second = cache.prepare(model);
        assertThat(second).isNotEqualTo(first);
        assertThat(first.getParent()).doesNotExist();
        assertThat(entries()).containsExactly(second.getParent());
        // And the new entry holds the new weights: it answers as version 2 does.
        try (OnnxBackend plain = new OnnxBackend();
             OnnxBackend cached = new OnnxBackend(Map.of(), Optional.of(cache.settings()));
             ModelSession expected = plain.open(Examples.repository().resolve("iris_small/2/model.onnx"), ONE_THREAD);
             ModelSession actual = cached.open(model, ONE_THREAD)) {
            List<Tensor> inputs = ExternalDataRewriterTest.inputsFor(expected.inputs(), 7);
            List<String> outputs = expected.outputs().stream().map(TensorSpec::name).toList();
            assertThat(ExternalDataRewriterTest.bytesOf(actual.run(inputs, outputs).get(0)))
                    .isEqualTo(ExternalDataRewriterTest.bytesOf(expected.run(inputs, outputs).get(0)));
        }
    }

    @Test
    void prepare_removesTheEntriesOfFilesThatAreGone_andAbandonedTemporaryFolders() throws IOException {
        Path other = Files.copy(Examples.model("iris"), Files.createDirectories(dir.resolve("repo/iris/1")).resolve("model.onnx"));
        Path gone = cache.prepare(other);
        Path abandoned = Files.createDirectories(cacheDir.resolve(ModelCache.TEMP_PREFIX + "crashed"));
        Files.setLastModifiedTime(abandoned, FileTime.from(Instant.now().minus(Duration.ofHours(2))));
        Path writing = Files.createDirectories(cacheDir.resolve(ModelCache.TEMP_PREFIX + "being-written"));
        Path foreign = Files.createDirectories(cacheDir.resolve("not-an-entry"));
        Files.delete(other);

        Path kept = cache.prepare(model);
        assertThat(gone.getParent()).doesNotExist();
        assertThat(abandoned).doesNotExist();
        assertThat(entries()).containsExactlyInAnyOrder(kept.getParent(), writing, foreign);
    }

    @Test
    void prepare_fromManyThreadsAtOnce_writesOneEntry() throws Exception {
        int threads = 4;
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Callable<Path>> loads = java.util.Collections.nCopies(threads, () -> {
                start.await();
                return new ModelCache(new ModelCacheSettings(cacheDir, 0, 0)).prepare(model);
            });
            List<Path> graphs = pool.invokeAll(loads).stream().map(ModelCacheTest::get).distinct().toList();
            assertThat(graphs).hasSize(1);
            assertThat(graphs.get(0)).isNotEqualTo(model);
            assertThat(entries()).containsExactly(graphs.get(0).getParent());
        } finally {
            pool.shutdownNow();
        }
    }

    private static Path get(Future<Path> future) {
        try {
            return future.get();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void prepare_answersTheFileItself_whenTheCacheCannotBeWritten() throws Exception {
        Path notAFolder = Files.writeString(dir.resolve("plain-file"), "x");
        ModelCacheSettings unusable = new ModelCacheSettings(notAFolder.resolve("cache"), 0, 0);
        assertThat(new ModelCache(unusable).prepare(model)).isEqualTo(model);
        try (OnnxBackend backend = new OnnxBackend(Map.of(), Optional.of(unusable));
             ModelSession session = backend.open(model, ONE_THREAD)) {
            assertThat(session.run(ExternalDataRewriterTest.inputsFor(session.inputs(), 1),
                    List.of(session.outputs().get(0).name()))).hasSize(1);
        }
    }

    @Test
    void prepare_refusesAFolderInMemory() throws IOException {
        Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.getFileStore(shm).type().equals("tmpfs"), "needs /dev/shm on tmpfs");
        Path inMemory = shm.resolve("serval-model-cache-test-" + ProcessHandle.current().pid());
        try {
            assertThat(new ModelCache(new ModelCacheSettings(inMemory, 0, 0)).prepare(model)).isEqualTo(model);
            try (var files = Files.list(inMemory)) {
                assertThat(files).isEmpty();
            }
        } finally {
            Files.deleteIfExists(inMemory);
        }
    }

    @Test
    void prepare_leavesSmallFilesAlone() throws IOException {
        ModelCache defaults = new ModelCache(ModelCacheSettings.in(cacheDir));
        assertThat(defaults.prepare(model)).isEqualTo(model);
        assertThat(cacheDir).doesNotExist();
    }

    @Test
    void prepare_recordsAFileWithNothingToMove_andLoadsItAsItIs() throws IOException {
        ModelCache bigTensorsOnly = new ModelCache(new ModelCacheSettings(cacheDir, 0, 1 << 20));
        assertThat(bigTensorsOnly.prepare(model)).isEqualTo(model);
        assertThat(entries()).hasSize(1);
        assertThat(entries().get(0).resolve(ModelCache.SOURCE_FILE)).isRegularFile();
        assertThat(entries().get(0).resolve(ModelCache.GRAPH_FILE)).doesNotExist();
        assertThat(bigTensorsOnly.prepare(model)).isEqualTo(model);
    }

    @Test
    void open_loadsTheFileItself_whenOnnxRuntimeRefusesTheEntry() throws Exception {
        Path graph = cache.prepare(model);
        Files.writeString(graph, "not a model any more");      // damaged after it was written
        try (OnnxBackend backend = new OnnxBackend(Map.of(), Optional.of(cache.settings()));
             ModelSession session = backend.open(model, ONE_THREAD)) {
            assertThat(session.run(ExternalDataRewriterTest.inputsFor(session.inputs(), 1),
                    List.of(session.outputs().get(0).name()))).hasSize(1);
        }
    }

    @Test
    void open_loadsAModelWithExternalDataAsItIs() throws Exception {
        Path version = Files.createDirectories(dir.resolve("repo/external_data/1"));
        Path source = Examples.testModel("external_data").getParent();
        Files.copy(source.resolve("weights.bin"), version.resolve("weights.bin"), StandardCopyOption.REPLACE_EXISTING);
        Path external = Files.copy(source.resolve("model.onnx"), version.resolve("model.onnx"));
        try (OnnxBackend backend = new OnnxBackend(Map.of(), Optional.of(cache.settings()));
             ModelSession session = backend.open(external, ONE_THREAD)) {
            assertThat(session.inputs()).hasSize(1);
        }
        assertThat(entries()).isEmpty();
    }
}
