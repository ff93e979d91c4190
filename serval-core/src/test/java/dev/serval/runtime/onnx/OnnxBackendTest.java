package dev.serval.runtime.onnx;

import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.floats;
import static dev.serval.testing.TestTensors.shape;
import static dev.serval.testing.TestTensors.strings;
import static dev.serval.testing.TestTensors.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
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
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxBackendTest {
    private static final SessionSettings ONE_THREAD = new SessionSettings(1, false);
    /** Iris "one flower" from examples/reference/iris.json, computed by PyTorch. */
    private static final float[] FLOWER = {5.1f, 3.5f, 1.4f, 0.2f};
    private static final float[] FLOWER_LOGITS = {12.476593971252441f, -10.206747055053711f, -1.6352198123931885f};

    private static OnnxBackend backend;
    private final List<ModelSession> sessions = new ArrayList<>();

    @TempDir
    Path dir;

    @BeforeAll
    static void startBackend() {
        backend = new OnnxBackend();
    }

    @AfterAll
    static void stopBackend() {
        backend.close();
    }

    @AfterEach
    void closeSessions() {
        sessions.forEach(ModelSession::close);
    }

    private ModelSession open(Path file) throws ModelLoadException {
        ModelSession session = backend.open(file, ONE_THREAD);
        sessions.add(session);
        return session;
    }

    private static Tensor fixedWidth(String name, DataType type, long[] shape, ByteBuffer buffer) {
        return new Tensor(name, type, shape, new TensorData.FixedWidth(buffer));
    }

    private static ByteBuffer bytesOf(Tensor tensor) {
        return tensor.buffer().duplicate().clear().limit(tensor.buffer().limit());
    }

    @Test
    void platform_isTritonsOnnxName() {
        assertThat(backend.platform()).isEqualTo("onnxruntime_onnx");
        assertThat(backend.version()).matches("\\d+\\.\\d+\\.\\d+.*");
    }

    @Test
    void open_readsIrisSpecs() throws Exception {
        ModelSession iris = open(Examples.model("iris"));
        assertThat(iris.inputs()).hasSize(1);
        TensorSpec input = iris.inputs().get(0);
        assertThat(input.name()).isEqualTo("input");
        assertThat(input.type()).isEqualTo(DataType.FP32);
        assertThat(input.shape()).containsExactly(-1, 4);
        assertThat(input.dimensionNames()).containsExactly("batch", null);
        assertThat(iris.outputs()).extracting(TensorSpec::name).containsExactly("logits", "probabilities");
        for (TensorSpec output : iris.outputs()) {
            assertThat(output.type()).isEqualTo(DataType.FP32);
            assertThat(output.shape()).containsExactly(-1, 3);
            assertThat(output.dimensionNames()[0]).isEqualTo("batch");
        }
    }

    @Test
    void open_readsSharedDimensionNamesOfTextModel() throws Exception {
        ModelSession text = open(Examples.model("text"));
        assertThat(text.inputs()).extracting(TensorSpec::name).containsExactly("input_ids", "attention_mask");
        for (TensorSpec input : text.inputs()) {
            assertThat(input.type()).isEqualTo(DataType.INT64);
            assertThat(input.shape()).containsExactly(-1, -1);
            assertThat(input.dimensionNames()).containsExactly("batch", "sequence");
        }
    }

    @Test
    void open_readsFixedShapeWithoutDimensionNames() throws Exception {
        ModelSession fixed = open(Examples.testModel("fixed"));
        assertThat(fixed.inputs()).singleElement().satisfies(x -> {
            assertThat(x.name()).isEqualTo("x");
            assertThat(x.shape()).containsExactly(2, 3);
            assertThat(x.dimensionNames()).containsOnlyNulls();
        });
        assertThat(fixed.outputs()).singleElement().satisfies(y -> assertThat(y.shape()).containsExactly(2, 3));
    }

    @Test
    void open_readsEveryDatatypeOfTheDatatypesModel() throws Exception {
        ModelSession datatypes = open(Examples.testModel("datatypes"));
        assertThat(datatypes.inputs()).extracting(TensorSpec::name)
                .containsExactly("fp32", "fp64", "int8", "int16", "int32", "int64", "uint8", "bool", "string");
        assertThat(datatypes.inputs()).extracting(TensorSpec::type).containsExactly(
                DataType.FP32, DataType.FP64, DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64,
                DataType.UINT8, DataType.BOOL, DataType.BYTES);
        assertThat(datatypes.outputs()).extracting(TensorSpec::name).contains("string_out", "bool_out", "fp32_doubled");
        for (TensorSpec input : datatypes.inputs()) {
            assertThat(input.shape()).as(input.name()).containsExactly(-1, -1);
            assertThat(input.dimensionNames()).as(input.name()).containsExactly("batch", "n");
        }
    }

    @Test
    void specs_areUnmodifiable() throws Exception {
        ModelSession iris = open(Examples.model("iris"));
        assertThatThrownBy(() -> iris.inputs().clear()).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> iris.outputs().clear()).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void run_matchesPyTorchWithDirectBuffer() throws Exception {
        ModelSession iris = open(Examples.model("iris"));
        Tensor input = fp32("input", shape(1, 4), FLOWER);
        assertThat(input.buffer().isDirect()).isTrue();
        List<Tensor> out = iris.run(List.of(input), List.of("logits"));
        assertThat(out).singleElement().satisfies(logits -> {
            assertThat(logits.name()).isEqualTo("logits");
            assertThat(logits.type()).isEqualTo(DataType.FP32);
            assertThat(logits.shape()).containsExactly(1, 3);
            assertThat(logits.buffer().order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
            assertThat(logits.buffer().position()).isZero();
            float[] values = floats(logits);
            for (int i = 0; i < 3; i++) {
                assertThat(values[i]).isCloseTo(FLOWER_LOGITS[i], within(1e-4f));
            }
        });
    }

    @Test
    void run_givesSameAnswerForHeapBuffer() throws Exception {
        // The session's contract: "heap buffers are copied by ORT".
        ModelSession iris = open(Examples.model("iris"));
        Tensor direct = fp32("input", shape(1, 4), FLOWER);
        Tensor heap = TestTensors.onHeap(direct);
        assertThat(heap.buffer().isDirect()).isFalse();
        float[] viaDirect = floats(iris.run(List.of(direct), List.of("logits")).get(0));
        float[] viaHeap = floats(iris.run(List.of(heap), List.of("logits")).get(0));
        assertThat(viaHeap).containsExactly(viaDirect);
    }

    @Test
    void run_acceptsHeapBufferOfEveryInputType() throws Exception {
        ModelSession datatypes = open(Examples.testModel("datatypes"));
        List<Tensor> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        for (TensorSpec spec : datatypes.inputs()) {
            Tensor zeros = TestTensors.zeros(spec.name(), spec.type(), 1, 2);
            inputs.add(spec.type() == DataType.BYTES ? zeros : TestTensors.onHeap(zeros));
            outputs.add(spec.name() + "_out");
        }
        assertThat(datatypes.run(inputs, outputs)).hasSize(inputs.size());
    }

    @Test
    void run_readsOnlyUpToTheLimitOfALargerDirectBuffer() throws Exception {
        // Pooled buffers are larger than the tensor: only position 0 to the limit is the tensor.
        ModelSession iris = open(Examples.model("iris"));
        ByteBuffer pooled = ByteBuffer.allocateDirect(64).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 16; i++) {
            pooled.putFloat(i * 4, i < 4 ? FLOWER[i] : 1000f);
        }
        pooled.limit(16);
        Tensor input = fixedWidth("input", DataType.FP32, shape(1, 4), pooled);
        float[] logits = floats(iris.run(List.of(input), List.of("logits")).get(0));
        assertThat(logits[0]).isCloseTo(FLOWER_LOGITS[0], within(1e-4f));
    }

    @Test
    void run_leavesInputBufferPositionAlone() throws Exception {
        ModelSession iris = open(Examples.model("iris"));
        Tensor input = fp32("input", shape(1, 4), FLOWER);
        iris.run(List.of(input), List.of("logits"));
        iris.run(List.of(input), List.of("logits"));
        assertThat(input.buffer().position()).isZero();
        assertThat(input.buffer().limit()).isEqualTo(16);
    }

    @Test
    void run_returnsRequestedOutputsInRequestedOrder() throws Exception {
        ModelSession iris = open(Examples.model("iris"));
        Tensor input = fp32("input", shape(2, 4), 5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3.0f, 5.2f, 2.3f);
        List<Tensor> out = iris.run(List.of(input), List.of("probabilities", "logits"));
        assertThat(out).extracting(Tensor::name).containsExactly("probabilities", "logits");
        float[] probabilities = floats(out.get(0));
        assertThat(out.get(0).shape()).containsExactly(2, 3);
        assertThat(probabilities[0] + probabilities[1] + probabilities[2]).isCloseTo(1f, within(1e-5f));
        assertThat(probabilities[3] + probabilities[4] + probabilities[5]).isCloseTo(1f, within(1e-5f));
    }

    @Test
    void run_computesOnlyTheSubsetAskedFor() throws Exception {
        ModelSession iris = open(Examples.model("iris"));
        List<Tensor> out = iris.run(List.of(fp32("input", shape(1, 4), FLOWER)), List.of("probabilities"));
        assertThat(out).extracting(Tensor::name).containsExactly("probabilities");
    }

    @Test
    void run_handlesBatchOfZero() throws Exception {
        ModelSession iris = open(Examples.model("iris"));
        List<Tensor> out = iris.run(List.of(fp32("input", shape(0, 4))), List.of("logits"));
        assertThat(out.get(0).shape()).containsExactly(0, 3);
        assertThat(out.get(0).elementCount()).isZero();
    }

    @Test
    void run_scalarAddComputesSumAndProduct() throws Exception {
        ModelSession model = open(Examples.testModel("scalar_add"));
        Tensor a = fp32("a", shape(2, 3), 1f, 2f, 3f, -1f, 0.5f, 10f);
        Tensor b = fp32("b", shape(2, 3), 4f, 5f, 6f, 1f, 0.25f, -2f);
        List<Tensor> out = model.run(List.of(a, b), List.of("product", "sum"));
        assertThat(floats(out.get(0))).containsExactly(4f, 10f, 18f, -1f, 0.125f, -20f);
        assertThat(floats(out.get(1))).containsExactly(5f, 7f, 9f, 0f, 0.75f, 8f);
    }

    @Test
    void run_fixedModelAddsOne() throws Exception {
        ModelSession fixed = open(Examples.testModel("fixed"));
        List<Tensor> out = fixed.run(List.of(fp32("x", shape(2, 3), 0f, 1f, 2f, 3f, 4f, 5f)), List.of("y"));
        assertThat(out.get(0).shape()).containsExactly(2, 3);
        assertThat(floats(out.get(0))).containsExactly(1f, 2f, 3f, 4f, 5f, 6f);
    }

    @Test
    void run_textModelAnswersForEachSentence() throws Exception {
        ModelSession text = open(Examples.model("text"));
        long[] ids = {101, 150, 160, 0, 250, 260, 270, 0};
        long[] mask = {1, 1, 1, 0, 1, 1, 1, 0};
        List<Tensor> out = text.run(List.of(
                TestTensors.int64("input_ids", shape(2, 4), ids),
                TestTensors.int64("attention_mask", shape(2, 4), mask)), List.of("logits"));
        assertThat(out.get(0).shape()).containsExactly(2, 2);
        assertThat(floats(out.get(0))).doesNotContain(Float.NaN);
    }

    @Test
    void run_roundTripsEveryFixedWidthTypeBitForBit() throws Exception {
        ModelSession datatypes = open(Examples.testModel("datatypes"));
        Random random = new Random(7);
        List<Tensor> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        for (TensorSpec spec : datatypes.inputs()) {
            long[] shape = shape(2, 3);
            if (spec.type() == DataType.BYTES) {
                inputs.add(strings(spec.name(), shape, "a", "b", "c", "d", "e", "f"));
            } else {
                ByteBuffer buffer = TestTensors.little(6 * spec.type().byteSize());
                byte[] random6 = new byte[buffer.capacity()];
                random.nextBytes(random6);
                if (spec.type() == DataType.BOOL) {
                    for (int i = 0; i < random6.length; i++) {
                        random6[i] = (byte) (random6[i] & 1);
                    }
                }
                if (spec.type() == DataType.FP32 || spec.type() == DataType.FP64) {
                    // Keep them finite and non-NaN so Identity cannot canonicalise anything.
                    for (int i = 0; i < 6; i++) {
                        if (spec.type() == DataType.FP32) {
                            buffer.putFloat(i * 4, random.nextFloat() * 1000 - 500);
                        } else {
                            buffer.putDouble(i * 8, random.nextGaussian() * 1e200);
                        }
                    }
                } else {
                    buffer.put(0, random6);
                }
                inputs.add(fixedWidth(spec.name(), spec.type(), shape, buffer));
            }
            outputs.add(spec.name() + "_out");
        }
        List<Tensor> out = datatypes.run(inputs, outputs);
        for (int i = 0; i < inputs.size(); i++) {
            Tensor in = inputs.get(i);
            Tensor back = out.get(i);
            assertThat(back.name()).isEqualTo(in.name() + "_out");
            assertThat(back.type()).as(back.name()).isEqualTo(in.type());
            assertThat(back.shape()).as(back.name()).containsExactly(2, 3);
            if (in.type() == DataType.BYTES) {
                assertThat(texts(back)).containsExactly(texts(in));
            } else {
                assertThat(bytesOf(back)).as(back.name()).isEqualTo(bytesOf(in));
            }
        }
    }

    @Test
    void run_roundTripsUtf8StringsThroughBytesTensors() throws Exception {
        ModelSession datatypes = open(Examples.testModel("datatypes"));
        String[] values = {"", "Grüße, 世界", "with \"quotes\" and \\ backslash", "tab\tnewline\n", "emoji 🐱", "hello"};
        List<Tensor> inputs = new ArrayList<>();
        for (TensorSpec spec : datatypes.inputs()) {
            if (spec.type() == DataType.BYTES) {
                inputs.add(strings(spec.name(), shape(3, 2), values));
            } else {
                inputs.add(TestTensors.zeros(spec.name(), spec.type(), 3, 2));
            }
        }
        List<Tensor> out = datatypes.run(inputs, List.of("string_out"));
        assertThat(out.get(0).type()).isEqualTo(DataType.BYTES);
        assertThat(out.get(0).shape()).containsExactly(3, 2);
        assertThat(texts(out.get(0))).containsExactly(values);
    }

    @Test
    void run_doublesFp32() throws Exception {
        ModelSession datatypes = open(Examples.testModel("datatypes"));
        List<Tensor> inputs = new ArrayList<>();
        for (TensorSpec spec : datatypes.inputs()) {
            inputs.add(spec.type() == DataType.FP32
                    ? fp32(spec.name(), shape(1, 3), -2.25f, 0.5f, 7.5e37f)
                    : TestTensors.zeros(spec.name(), spec.type(), 1, 3));
        }
        List<Tensor> out = datatypes.run(inputs, List.of("fp32_doubled"));
        assertThat(floats(out.get(0))).containsExactly(-4.5f, 1f, 1.5e38f);
    }

    @Test
    void run_reportsShapeTheModelRejectsAsInvalidArgument() throws Exception {
        ModelSession fixed = open(Examples.testModel("fixed"));
        Tensor wrong = fp32("x", shape(3, 2), 0f, 1f, 2f, 3f, 4f, 5f);
        assertThatThrownBy(() -> fixed.run(List.of(wrong), List.of("y")))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageStartingWith("the model rejected the inputs")
                .hasMessageNotContaining("Error code - ");
    }

    @Test
    void open_reportsMissingFile() {
        Path missing = dir.resolve("missing.onnx");
        assertThatThrownBy(() -> backend.open(missing, ONE_THREAD))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("missing.onnx")
                .hasMessageContaining("does not exist");
    }

    @Test
    void open_reportsDirectoryInsteadOfFile() {
        assertThatThrownBy(() -> backend.open(dir, ONE_THREAD))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("not a file");
    }

    @Test
    void open_reportsGarbageFileClearly() throws IOException {
        Path garbage = Files.writeString(dir.resolve("model.onnx"), "this is not an ONNX model at all\n");
        assertThatThrownBy(() -> backend.open(garbage, ONE_THREAD))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith("ONNX Runtime cannot load model.onnx: ")
                .hasMessageNotContaining("Error code - ");
    }

    @Test
    void open_reportsTruncatedModel() throws IOException {
        byte[] iris = Files.readAllBytes(Examples.model("iris"));
        Path truncated = Files.write(dir.resolve("model.onnx"), Arrays.copyOf(iris, iris.length / 2));
        assertThatThrownBy(() -> backend.open(truncated, ONE_THREAD))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("cannot load model.onnx");
    }

    @Test
    void open_reportsEmptyFile() throws IOException {
        Path empty = Files.write(dir.resolve("model.onnx"), new byte[0]);
        assertThatThrownBy(() -> backend.open(empty, ONE_THREAD)).isInstanceOf(ModelLoadException.class);
    }

    @Test
    void close_isIdempotent() throws Exception {
        ModelSession iris = backend.open(Examples.model("iris"), ONE_THREAD);
        iris.close();
        iris.close();
    }

    @Test
    void run_afterCloseThrowsIllegalState() throws Exception {
        ModelSession iris = backend.open(Examples.model("iris"), ONE_THREAD);
        iris.close();
        assertThatThrownBy(() -> iris.run(List.of(fp32("input", shape(1, 4), FLOWER)), List.of("logits")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void specs_remainReadableAfterClose() throws Exception {
        ModelSession iris = backend.open(Examples.model("iris"), ONE_THREAD);
        iris.close();
        assertThat(iris.inputs()).extracting(TensorSpec::name).containsExactly("input");
    }

    @Test
    void sessions_runIndependentlyWithMoreThreads() throws Exception {
        ModelSession a = open(Examples.model("iris"));
        ModelSession b = backend.open(Examples.model("iris"), new SessionSettings(2, true));
        sessions.add(b);
        Tensor input = fp32("input", shape(1, 4), FLOWER);
        assertThat(floats(a.run(List.of(input), List.of("logits")).get(0)))
                .containsExactly(floats(b.run(List.of(input), List.of("logits")).get(0)));
    }
}
