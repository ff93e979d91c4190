package dev.serval.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ShapesTest {

    @Test
    void elementCount_isOneForScalar() {
        assertThat(Shapes.elementCount(new long[0])).isEqualTo(1);
    }

    @Test
    void elementCount_multipliesDimensions() {
        assertThat(Shapes.elementCount(new long[] {2, 3, 4})).isEqualTo(24);
        assertThat(Shapes.elementCount(new long[] {7})).isEqualTo(7);
    }

    @Test
    void elementCount_isZeroWhenAnyDimensionIsZero() {
        assertThat(Shapes.elementCount(new long[] {5, 0, 3})).isZero();
        assertThat(Shapes.elementCount(new long[] {Long.MAX_VALUE, 0})).isZero();
    }

    @Test
    void elementCount_acceptsLargestExactProduct() {
        assertThat(Shapes.elementCount(new long[] {1L << 31, 1L << 31})).isEqualTo(1L << 62);
        assertThat(Shapes.elementCount(new long[] {Long.MAX_VALUE, 1})).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void elementCount_throwsArithmeticExceptionOnOverflow() {
        assertThatThrownBy(() -> Shapes.elementCount(new long[] {1L << 32, 1L << 32}))
                .isInstanceOf(ArithmeticException.class);
        assertThatThrownBy(() -> Shapes.elementCount(new long[] {Long.MAX_VALUE, 2}))
                .isInstanceOf(ArithmeticException.class);
        assertThatThrownBy(() -> Shapes.elementCount(new long[] {3037000500L, 3037000500L}))
                .isInstanceOf(ArithmeticException.class);
    }

    @Test
    void elementCount_rejectsNegativeDimensionNamingTheShape() {
        assertThatThrownBy(() -> Shapes.elementCount(new long[] {2, -1, 3}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[2,-1,3]");
    }

    @Test
    void elementCount_rejectsNegativeDimensionEvenAfterZero() {
        assertThatThrownBy(() -> Shapes.elementCount(new long[] {0, -1}))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void format_writesProtocolStyle() {
        assertThat(Shapes.format(new long[] {1, 3, 224, 224})).isEqualTo("[1,3,224,224]");
        assertThat(Shapes.format(new long[] {-1, 4})).isEqualTo("[-1,4]");
        assertThat(Shapes.format(new long[0])).isEqualTo("[]");
    }
}
