package dev.serval.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.SessionSettings;
import dev.serval.testing.Examples;
import dev.serval.testing.TestTensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wire-level rewrite into ONNX's external data layout: every example model, rewritten with
 * every initializer moved out, gives ONNX Runtime's answers bit for bit; tensors land aligned in
 * one data file that ONNX Runtime maps; what is not a well-formed model is refused without
 * writing anything.
 */
class ExternalDataRewriterTest {
    private static final SessionSettings ONE_THREAD = new SessionSettings(1, false);
    private static final ModelCacheSettings EVERYTHING = ModelCacheSettings.in(Path.of("unused"))
            .withMinModelBytes(0).withMinTensorBytes(0);
    private static OnnxBackend plain;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBackend() {
        plain = new OnnxBackend();
    }

    @AfterAll
    static void stopBackend() {
        plain.close();
    }

    private static List<Path> exampleModels() throws IOException {
        List<Path> models = new ArrayList<>();
        for (Path repository : List.of(Examples.repository(), Examples.testRepository())) {
            try (var files = Files.walk(repository)) {
                files.filter(path -> path.getFileName().toString().equals("model.onnx")).sorted().forEach(models::add);
            }
        }
        return models;
    }

    @Test
    void rewrittenModels_answerBitForBitAsTheOriginals() throws Exception {
        List<Path> models = exampleModels();
        assertThat(models).hasSizeGreaterThanOrEqualTo(10);
        int rewritten = 0;
        try (OnnxBackend cached = new OnnxBackend(Map.of(), Optional.of(EVERYTHING.withDirectory(dir)))) {
            for (Path model : models) {
                Path prepared = new ModelCache(EVERYTHING.withDirectory(dir)).prepare(model);
                if (!prepared.equals(model)) {
                    rewritten++;
                    assertThat(prepared.resolveSibling(ExternalDataRewriter.DATA_FILE)).isRegularFile();
                }
                try (ModelSession original = plain.open(model, ONE_THREAD);
                     ModelSession mapped = cached.open(model, ONE_THREAD)) {
                    assertThat(mapped.inputs()).usingRecursiveFieldByFieldElementComparator().isEqualTo(original.inputs());
                    List<String> outputs = original.outputs().stream().map(TensorSpec::name).toList();
                    for (long seed = 1; seed <= 3; seed++) {
                        List<Tensor> inputs = inputsFor(original.inputs(), seed);
                        List<Tensor> expected = original.run(inputs, outputs);
                        List<Tensor> actual = mapped.run(inputs, outputs);
                        for (int i = 0; i < outputs.size(); i++) {
                            assertThat(bytesOf(actual.get(i)))
                                    .as("%s output %s, seed %d", model, outputs.get(i), seed)
                                    .isEqualTo(bytesOf(expected.get(i)));
                        }
                    }
                }
            }
        }
        // All but the model with external data already and the one without initializers.
        assertThat(rewritten).isEqualTo(models.size() - 2);
    }

    @Test
    void rewrite_movesOnlyBigInitializers_eachAlignedInOneDataFile() throws IOException {
        Path source = Examples.model("cnn");
        Path graph = dir.resolve("model.onnx");
        Path data = dir.resolve(ExternalDataRewriter.DATA_FILE);
        ExternalDataRewriter.Result result = ExternalDataRewriter.rewrite(source, graph, data, 4096);

        OnnxModelFile header = OnnxModelFile.read(graph);
        assertThat(result.tensors()).isEqualTo(header.externalData().size()).isBetween(1, 7);
        assertThat(header.externalData()).allSatisfy(tensor -> {
            assertThat(tensor.location()).isEqualTo(ExternalDataRewriter.DATA_FILE);
            assertThat(tensor.offset() % ExternalDataRewriter.ALIGNMENT).isZero();
            assertThat(tensor.length()).isGreaterThanOrEqualTo(4096);
        });
        assertThat(result.dataBytes()).isEqualTo(header.externalData().stream().mapToLong(OnnxModelFile.ExternalTensor::length).sum());
        header.verifyExternalData(graph);
        // The graph shrank by the moved bytes (plus a few bytes of entries per tensor).
        assertThat(Files.size(graph)).isLessThan(Files.size(source) - result.dataBytes() + 100L * result.tensors());
        assertThat(OnnxModelFile.read(source).opsets()).isEqualTo(header.opsets());
    }

    @Test
    void rewrite_writesNothing_whenNoInitializerIsBigEnough() throws IOException {
        Path graph = dir.resolve("model.onnx");
        assertThat(ExternalDataRewriter.rewrite(Examples.model("iris"), graph, dir.resolve("weights.bin"), 1 << 20)).isNull();
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void rewrite_refusesATruncatedModel_withoutWritingAnything() throws IOException {
        byte[] cnn = Files.readAllBytes(Examples.model("cnn"));
        for (int length : new int[] {cnn.length / 2, cnn.length - 1, 7}) {
            Path truncated = Files.write(dir.resolve("truncated.onnx"), Arrays.copyOf(cnn, length));
            assertThatThrownBy(() -> ExternalDataRewriter.rewrite(truncated, dir.resolve("model.onnx"),
                    dir.resolve("weights.bin"), 0))
                    .isInstanceOf(ExternalDataRewriter.UnreadableModelException.class)
                    .hasMessageContaining("not a well-formed ONNX file");
            assertThat(dir.resolve("model.onnx")).doesNotExist();
            assertThat(dir.resolve("weights.bin")).doesNotExist();
        }
    }

    @Test
    void rewrite_ofMutatedFiles_eitherWritesBothFilesOrRefusesWithoutWriting() throws IOException {
        byte[] original = Files.readAllBytes(Examples.model("cnn"));
        Random random = new Random(20261207);
        int refused = 0;
        for (int round = 0; round < 400; round++) {
            byte[] mutated = Arrays.copyOf(original, random.nextInt(4) == 0 ? random.nextInt(original.length) : original.length);
            for (int flips = 1 + random.nextInt(4); flips > 0 && mutated.length > 0; flips--) {
                mutated[random.nextInt(Math.min(mutated.length, 4096))] = (byte) random.nextInt(256);  // the graph's structure
            }
            Path source = Files.write(dir.resolve("mutated.onnx"), mutated);
            Path out = Files.createDirectories(dir.resolve("out-" + round));
            try {
                ExternalDataRewriter.Result result = ExternalDataRewriter.rewrite(source, out.resolve("model.onnx"),
                        out.resolve("weights.bin"), 0);
                assertThat(out.resolve("model.onnx").toFile().exists()).isEqualTo(result != null);
                assertThat(out.resolve("weights.bin").toFile().exists()).isEqualTo(result != null);
            } catch (ExternalDataRewriter.UnreadableModelException e) {
                refused++;
                try (var files = Files.list(out)) {
                    assertThat(files).as("round %d", round).isEmpty();
                }
            }
        }
        assertThat(refused).isPositive();
    }

    @Test
    void mappedSession_mapsTheDataFile() throws Exception {
        Path maps = Path.of("/proc/self/maps");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(maps), "Linux only");
        // text: an embedding table behind a Gather, which ONNX Runtime reads in place.
        try (OnnxBackend cached = new OnnxBackend(Map.of(), Optional.of(EVERYTHING.withDirectory(dir)));
             ModelSession session = cached.open(Examples.model("text"), ONE_THREAD)) {
            Path data;
            try (var entries = Files.list(dir)) {
                data = entries.filter(Files::isDirectory).findFirst().orElseThrow().resolve(ExternalDataRewriter.DATA_FILE);
            }
            assertThat(Files.readString(maps)).contains(data.toRealPath().toString());
            assertThat(session.inputs()).isNotEmpty();
        }
    }

    @Test
    void openWithCache_reportsATruncatedModelAsWithout() throws IOException {
        byte[] cnn = Files.readAllBytes(Examples.model("cnn"));
        Path truncated = Files.write(Files.createDirectories(dir.resolve("m")).resolve("model.onnx"),
                Arrays.copyOf(cnn, cnn.length / 2));
        Path cache = dir.resolve("cache");
        String expected;
        try {
            plain.open(truncated, ONE_THREAD).close();
            throw new AssertionError("a truncated model loaded");
        } catch (ModelLoadException e) {
            expected = e.getMessage();
        }
        assertThat(expected).contains("cannot load model.onnx");
        try (OnnxBackend cached = new OnnxBackend(Map.of(), Optional.of(EVERYTHING.withDirectory(cache)))) {
            assertThatThrownBy(() -> cached.open(truncated, ONE_THREAD))
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessage(expected);
        }
        if (Files.exists(cache)) {
            try (var files = Files.list(cache)) {
                assertThat(files).as("no entry and no temporary folder").isEmpty();
            }
        }
    }

    /** Inputs of the given specs: small values (valid as indices and masks), variable dimensions 2. */
    static List<Tensor> inputsFor(List<TensorSpec> specs, long seed) {
        Random random = new Random(seed);
        List<Tensor> inputs = new ArrayList<>();
        for (TensorSpec spec : specs) {
            long[] shape = Arrays.stream(spec.shape()).map(d -> d < 0 ? 2 : d).toArray();
            int count = Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact));
            if (spec.type() == DataType.BYTES) {
                String[] texts = new String[count];
                for (int i = 0; i < count; i++) {
                    texts[i] = "text " + random.nextInt(100);
                }
                inputs.add(TestTensors.strings(spec.name(), shape, texts));
                continue;
            }
            ByteBuffer buffer = TestTensors.little(count * spec.type().byteSize());
            for (int i = 0; i < count; i++) {
                float value = random.nextFloat() * 2 - 1;
                switch (spec.type()) {
                    case FP32 -> buffer.putFloat(value);
                    case FP64 -> buffer.putDouble(value);
                    case FP16 -> buffer.putShort(Float.floatToFloat16(value));
                    case BF16 -> buffer.putShort((short) (Float.floatToRawIntBits(value) >>> 16));
                    case BOOL, UINT8, INT8 -> buffer.put((byte) random.nextInt(2));
                    case UINT16, INT16 -> buffer.putShort((short) random.nextInt(2));
                    case UINT32, INT32 -> buffer.putInt(random.nextInt(2));
                    case UINT64, INT64 -> buffer.putLong(random.nextInt(2));
                    default -> throw new IllegalArgumentException(spec.type().toString());
                }
            }
            inputs.add(new Tensor(spec.name(), spec.type(), shape, new TensorData.FixedWidth(buffer.flip())));
        }
        return inputs;
    }

    static byte[] bytesOf(Tensor tensor) {
        if (tensor.type() == DataType.BYTES) {
            return String.join("\u0000", Arrays.stream(tensor.bytesElements()).map(String::new).toList()).getBytes();
        }
        ByteBuffer buffer = tensor.buffer().duplicate();
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return bytes;
    }
}
