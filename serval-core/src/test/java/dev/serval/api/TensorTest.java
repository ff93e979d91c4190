package dev.serval.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class TensorTest {

    private static TensorData.FixedWidth fixed(int bytes) {
        return new TensorData.FixedWidth(ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN));
    }

    private static TensorData.Bytes strings(int count) {
        byte[][] elements = new byte[count][];
        for (int i = 0; i < count; i++) {
            elements[i] = new byte[] {(byte) ('a' + i)};
        }
        return new TensorData.Bytes(elements);
    }

    @Test
    void tensor_acceptsMatchingFixedWidthData() {
        Tensor tensor = new Tensor("x", DataType.FP32, new long[] {2, 3}, fixed(24));
        assertThat(tensor.elementCount()).isEqualTo(6);
        assertThat(tensor.buffer().limit()).isEqualTo(24);
    }

    @Test
    void tensor_acceptsScalarWithOneElement() {
        Tensor tensor = new Tensor("x", DataType.INT64, new long[0], fixed(8));
        assertThat(tensor.elementCount()).isEqualTo(1);
    }

    @Test
    void tensor_acceptsEmptyTensor() {
        Tensor tensor = new Tensor("x", DataType.FP32, new long[] {0, 4}, fixed(0));
        assertThat(tensor.elementCount()).isZero();
    }

    @Test
    void tensor_acceptsMatchingBytesData() {
        Tensor tensor = new Tensor("s", DataType.BYTES, new long[] {1, 2}, strings(2));
        assertThat(tensor.bytesElements()).hasNumberOfRows(2);
    }

    @Test
    void tensor_rejectsBytesDataForFixedWidthType() {
        assertThatThrownBy(() -> new Tensor("x", DataType.FP32, new long[] {2}, strings(2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'x'")
                .hasMessageContaining("FP32");
    }

    @Test
    void tensor_rejectsFixedWidthDataForBytesType() {
        assertThatThrownBy(() -> new Tensor("s", DataType.BYTES, new long[] {2}, fixed(2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'s'")
                .hasMessageContaining("BYTES");
    }

    @Test
    void tensor_rejectsTooFewElements() {
        assertThatThrownBy(() -> new Tensor("x", DataType.FP32, new long[] {2, 3}, fixed(20)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[2,3]")
                .hasMessageContaining("6 elements")
                .hasMessageContaining("holds 5");
    }

    @Test
    void tensor_rejectsTooManyElements() {
        assertThatThrownBy(() -> new Tensor("x", DataType.INT64, new long[] {2}, fixed(24)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("holds 3");
    }

    @Test
    void tensor_rejectsWrongBytesElementCount() {
        assertThatThrownBy(() -> new Tensor("s", DataType.BYTES, new long[] {3}, strings(2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("holds 2");
    }

    @Test
    void tensor_rejectsBufferThatIsNotAWholeNumberOfElements() {
        // 5 bytes are one FP32 element and a stray byte: not "no padding" data for shape [1].
        assertThatThrownBy(() -> new Tensor("x", DataType.FP32, new long[] {1}, fixed(5)))
                .as("a 5-byte FP32 buffer holds 1.25 elements, not 1")
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void tensor_rejectsNegativeDimension() {
        assertThatThrownBy(() -> new Tensor("x", DataType.FP32, new long[] {-1, 4}, fixed(16)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void fixedWidth_requiresLittleEndian() {
        assertThatThrownBy(() -> new TensorData.FixedWidth(ByteBuffer.allocate(4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("little-endian");
        assertThatThrownBy(() -> new TensorData.FixedWidth(ByteBuffer.allocateDirect(4).order(ByteOrder.BIG_ENDIAN)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void fixedWidth_acceptsDirectLittleEndian() {
        var data = new TensorData.FixedWidth(ByteBuffer.allocateDirect(8).order(ByteOrder.LITTLE_ENDIAN));
        assertThat(data.elementCount(DataType.FP32)).isEqualTo(2);
        assertThat(data.elementCount(DataType.INT8)).isEqualTo(8);
    }

    @Test
    void buffer_throwsIllegalStateForBytesTensor() {
        Tensor tensor = new Tensor("s", DataType.BYTES, new long[] {1}, strings(1));
        assertThatThrownBy(tensor::buffer).isInstanceOf(IllegalStateException.class).hasMessageContaining("'s'");
    }

    @Test
    void bytesElements_throwsIllegalStateForFixedWidthTensor() {
        Tensor tensor = new Tensor("x", DataType.FP32, new long[] {1}, fixed(4));
        assertThatThrownBy(tensor::bytesElements).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("FP32");
    }

    @Test
    void toString_namesTensorTypeAndShape() {
        Tensor tensor = new Tensor("x", DataType.FP32, new long[] {1, 2}, fixed(8));
        assertThat(tensor.toString()).contains("x").contains("FP32").contains("1, 2");
    }

    @Test
    void tensorSpec_requiresOneDimensionNamePerDimension() {
        assertThatThrownBy(() -> new TensorSpec("x", DataType.FP32, new long[] {-1, 4}, new String[1]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void tensorSpec_acceptsSameRankAndFixedDimensions() {
        TensorSpec spec = new TensorSpec("x", DataType.FP32, new long[] {-1, 4});
        assertThat(spec.accepts(new long[] {7, 4})).isTrue();
        assertThat(spec.accepts(new long[] {0, 4})).isTrue();
        assertThat(spec.accepts(new long[] {7, 3})).isFalse();
        assertThat(spec.accepts(new long[] {4})).isFalse();
        assertThat(spec.accepts(new long[] {1, 4, 1})).isFalse();
        assertThat(spec.hasVariableFirstDimension()).isTrue();
        assertThat(new TensorSpec("y", DataType.FP32, new long[] {2, 3}).hasVariableFirstDimension()).isFalse();
        assertThat(new TensorSpec("z", DataType.FP32, new long[0]).hasVariableFirstDimension()).isFalse();
    }
}
