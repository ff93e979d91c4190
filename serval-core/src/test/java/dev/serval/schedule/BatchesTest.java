package dev.serval.schedule;

import static dev.serval.testing.TestTensors.floats;
import static dev.serval.testing.TestTensors.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.testing.TestTensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchesTest {

    private static Job job(int rows, Tensor... inputs) {
        return new Job(List.of(inputs), List.of("y"), rows, 0, 0, Job.NO_DEADLINE, true);
    }

    private static long[] shape(long... dims) {
        return dims;
    }

    @Test
    void concat_stacksFixedWidthInputsInJobOrder() {
        Job a = job(1, TestTensors.fp32("x", shape(1, 3), 1, 2, 3));
        Job b = job(2, TestTensors.fp32("x", shape(2, 3), 4, 5, 6, 7, 8, 9));
        Job c = job(1, TestTensors.fp32("x", shape(1, 3), 10, 11, 12));

        List<Tensor> stacked = Batches.concat(List.of(a, b, c));

        assertThat(stacked).hasSize(1);
        Tensor x = stacked.get(0);
        assertThat(x.name()).isEqualTo("x");
        assertThat(x.type()).isEqualTo(DataType.FP32);
        assertThat(x.shape()).containsExactly(4, 3);
        assertThat(x.buffer().isDirect()).as("ONNX Runtime reads direct buffers in place").isTrue();
        assertThat(x.buffer().order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(x.buffer().position()).isZero();
        assertThat(floats(x)).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    }

    @Test
    void concat_stacksEveryInputIncludingBytes() {
        Job a = job(1, TestTensors.int64("ids", shape(1, 2), 1, 2),
                TestTensors.strings("text", shape(1, 2), "a", "b"));
        Job b = job(2, TestTensors.int64("ids", shape(2, 2), 3, 4, 5, 6),
                TestTensors.strings("text", shape(2, 2), "c", "", "Grüße", "f"));

        List<Tensor> stacked = Batches.concat(List.of(a, b));

        assertThat(stacked).extracting(Tensor::name).containsExactly("ids", "text");
        Tensor ids = stacked.get(0);
        assertThat(ids.shape()).containsExactly(3, 2);
        long[] values = new long[6];
        for (int i = 0; i < 6; i++) {
            values[i] = ids.buffer().getLong(i * 8);
        }
        assertThat(values).containsExactly(1, 2, 3, 4, 5, 6);
        Tensor text = stacked.get(1);
        assertThat(text.type()).isEqualTo(DataType.BYTES);
        assertThat(text.shape()).containsExactly(3, 2);
        assertThat(texts(text)).containsExactly("a", "b", "c", "", "Grüße", "f");
    }

    @Test
    void concat_readsHeapBuffersAndBuffersWhosePositionMoved() {
        Tensor heap = TestTensors.onHeap(TestTensors.fp32("x", shape(1, 3), 1, 2, 3));
        Tensor moved = TestTensors.fp32("x", shape(1, 3), 4, 5, 6);
        moved.buffer().position(8); // somebody read it; the elements still span 0..limit

        List<Tensor> stacked = Batches.concat(List.of(job(1, heap), job(1, moved)));

        assertThat(floats(stacked.get(0))).containsExactly(1, 2, 3, 4, 5, 6);
    }

    @Test
    void concat_readsOnlyUpToEachBufferLimit() {
        // TensorData.FixedWidth: the elements run from 0 to the limit; the capacity may be larger
        // (a buffer taken from a pool, or a decoder that over-allocated).
        ByteBuffer roomy = TestTensors.little(64);
        for (int i = 0; i < 3; i++) {
            roomy.putFloat(i * 4, i + 1);
        }
        roomy.limit(12);
        Tensor a = new Tensor("x", DataType.FP32, shape(1, 3), new TensorData.FixedWidth(roomy));
        Tensor b = TestTensors.fp32("x", shape(1, 3), 4, 5, 6);

        List<Tensor> stacked = Batches.concat(List.of(job(1, a), job(1, b)));

        assertThat(stacked.get(0).shape()).containsExactly(2, 3);
        assertThat(floats(stacked.get(0))).containsExactly(1, 2, 3, 4, 5, 6);
    }

    @Test
    void concat_doesNotChangeTheJobsInputs() {
        Tensor a = TestTensors.fp32("x", shape(1, 3), 1, 2, 3);
        Tensor b = TestTensors.fp32("x", shape(1, 3), 4, 5, 6);

        Batches.concat(List.of(job(1, a), job(1, b)));

        assertThat(a.buffer().position()).isZero();
        assertThat(a.buffer().limit()).isEqualTo(12);
        assertThat(floats(a)).containsExactly(1, 2, 3);
        assertThat(floats(b)).containsExactly(4, 5, 6);
    }

    @Test
    void split_givesEachJobExactlyItsRowsOfEveryOutput() {
        Job a = job(1, TestTensors.fp32("x", shape(1, 3), 0, 0, 0));
        Job b = job(3, TestTensors.fp32("x", shape(3, 3), new float[9]));
        Job c = job(2, TestTensors.fp32("x", shape(2, 3), new float[6]));
        float[] matrix = new float[6 * 2];
        for (int i = 0; i < matrix.length; i++) {
            matrix[i] = i;
        }
        Tensor y = TestTensors.onHeap(TestTensors.fp32("y", shape(6, 2), matrix));
        Tensor s = TestTensors.onHeap(TestTensors.fp32("s", shape(6), 10, 11, 12, 13, 14, 15));
        Tensor label = TestTensors.strings("label", shape(6, 1), "r0", "r1", "r2", "r3", "r4", "r5");
        Tensor cube = TestTensors.int32("cube", shape(6, 2, 2), new int[24]);

        List<List<Tensor>> shares = Batches.split(List.of(a, b, c), List.of(y, s, label, cube));

        assertThat(shares).hasSize(3);
        List<Tensor> first = shares.get(0);
        assertThat(first).extracting(Tensor::name).containsExactly("y", "s", "label", "cube");
        assertThat(first.get(0).shape()).containsExactly(1, 2);
        assertThat(floats(first.get(0))).containsExactly(0, 1);
        assertThat(floats(first.get(1))).containsExactly(10);
        assertThat(texts(first.get(2))).containsExactly("r0");
        assertThat(first.get(3).shape()).containsExactly(1, 2, 2);

        List<Tensor> second = shares.get(1);
        assertThat(second.get(0).shape()).containsExactly(3, 2);
        assertThat(floats(second.get(0))).containsExactly(2, 3, 4, 5, 6, 7);
        assertThat(second.get(1).shape()).containsExactly(3);
        assertThat(floats(second.get(1))).containsExactly(11, 12, 13);
        assertThat(texts(second.get(2))).containsExactly("r1", "r2", "r3");
        assertThat(second.get(3).shape()).containsExactly(3, 2, 2);
        assertThat(second.get(3).buffer().limit()).isEqualTo(3 * 4 * 4);

        List<Tensor> third = shares.get(2);
        assertThat(floats(third.get(0))).containsExactly(8, 9, 10, 11);
        assertThat(floats(third.get(1))).containsExactly(14, 15);
        assertThat(texts(third.get(2))).containsExactly("r4", "r5");
        for (List<Tensor> share : shares) {
            for (Tensor tensor : share) {
                if (tensor.type() != DataType.BYTES) {
                    assertThat(tensor.buffer().order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
                    assertThat(tensor.buffer().position()).isZero();
                }
            }
        }
    }

    @Test
    void split_sharesAreViewsOfTheRunsOutput() {
        Job a = job(1, TestTensors.fp32("x", shape(1, 1), 0));
        Job b = job(1, TestTensors.fp32("x", shape(1, 1), 0));
        Tensor y = TestTensors.onHeap(TestTensors.fp32("y", shape(2, 1), 1, 2));

        List<List<Tensor>> shares = Batches.split(List.of(a, b), List.of(y));
        y.buffer().putFloat(4, 42);

        assertThat(floats(shares.get(1).get(0))).containsExactly(42);
    }

    @Test
    void split_afterConcatRoundTripsEachJobsRows() {
        Job a = job(2, TestTensors.fp32("x", shape(2, 3), 1, 2, 3, 4, 5, 6));
        Job b = job(1, TestTensors.fp32("x", shape(1, 3), 7, 8, 9));
        List<Tensor> stacked = Batches.concat(List.of(a, b));

        List<Tensor> outputs = FakeSession.addOne(stacked, List.of("y", "s"), null);
        List<List<Tensor>> shares = Batches.split(List.of(a, b), outputs);

        assertThat(floats(shares.get(0).get(0))).containsExactly(2, 3, 4, 5, 6, 7);
        assertThat(floats(shares.get(0).get(1))).containsExactly(6, 15);
        assertThat(floats(shares.get(1).get(0))).containsExactly(8, 9, 10);
        assertThat(floats(shares.get(1).get(1))).containsExactly(24);
    }

    @Test
    void split_rejectsAnOutputWhoseFirstDimensionIsNotTheRowCount() {
        Job a = job(1, TestTensors.fp32("x", shape(1, 3), 0, 0, 0));
        Job b = job(2, TestTensors.fp32("x", shape(2, 3), new float[6]));
        Tensor good = TestTensors.onHeap(TestTensors.fp32("y", shape(3, 1), 1, 2, 3));
        Tensor pooled = TestTensors.onHeap(TestTensors.fp32("pooled", shape(1, 3), 1, 2, 3));

        assertThatThrownBy(() -> Batches.split(List.of(a, b), List.of(good, pooled)))
                .isInstanceOfSatisfying(ServalException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL))
                .hasMessageContaining("pooled").hasMessageContaining("3 rows");
    }

    @Test
    void split_rejectsAScalarOutput() {
        Job a = job(1, TestTensors.fp32("x", shape(1, 3), 0, 0, 0));
        Job b = job(1, TestTensors.fp32("x", shape(1, 3), 0, 0, 0));
        Tensor scalar = TestTensors.onHeap(TestTensors.fp32("loss", shape(), 1));

        assertThatThrownBy(() -> Batches.split(List.of(a, b), List.of(scalar)))
                .isInstanceOfSatisfying(ServalException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL))
                .hasMessageContaining("loss");
    }
}
