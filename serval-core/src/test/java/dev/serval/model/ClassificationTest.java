package dev.serval.model;

import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.fp64;
import static dev.serval.testing.TestTensors.int64;
import static dev.serval.testing.TestTensors.shape;
import static dev.serval.testing.TestTensors.texts;
import static dev.serval.testing.TestTensors.zeros;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ClassificationTest {
    private static final List<String> IRIS = List.of("setosa", "versicolor", "virginica");

    @Test
    void apply_returnsTopKBestFirstWithLabels() {
        Tensor scores = fp32("probabilities", shape(1, 3), 0.1f, 0.7f, 0.2f);
        Tensor top = Classification.apply(scores, 2, IRIS);
        assertThat(top.name()).isEqualTo("probabilities");
        assertThat(top.type()).isEqualTo(DataType.BYTES);
        assertThat(top.shape()).containsExactly(1, 2);
        assertThat(texts(top)).containsExactly("0.7:1:versicolor", "0.2:2:virginica");
    }

    @Test
    void apply_omitsLabelsWhenModelHasNone() {
        Tensor top = Classification.apply(fp32("logits", shape(1, 3), -1f, 3f, 2f), 3, List.of());
        assertThat(texts(top)).containsExactly("3.0:1", "2.0:2", "-1.0:0");
    }

    @Test
    void apply_omitsLabelsForClassesBeyondTheLabelsFile() {
        Tensor top = Classification.apply(fp32("logits", shape(1, 4), 1f, 2f, 3f, 4f), 4, List.of("a", "b"));
        assertThat(texts(top)).containsExactly("4.0:3", "3.0:2", "2.0:1:b", "1.0:0:a");
    }

    @Test
    void apply_capsKAtTheNumberOfClasses() {
        Tensor top = Classification.apply(fp32("logits", shape(1, 3), 1f, 3f, 2f), 10, IRIS);
        assertThat(top.shape()).containsExactly(1, 3);
        assertThat(texts(top)).containsExactly("3.0:1:versicolor", "2.0:2:virginica", "1.0:0:setosa");
    }

    @Test
    void apply_ranksEveryRowOfABatchSeparately() {
        Tensor scores = fp32("logits", shape(3, 3),
                0.9f, 0.05f, 0.05f,
                0.1f, 0.2f, 0.7f,
                0.3f, 0.6f, 0.1f);
        Tensor top = Classification.apply(scores, 1, IRIS);
        assertThat(top.shape()).containsExactly(3, 1);
        assertThat(texts(top)).containsExactly("0.9:0:setosa", "0.7:2:virginica", "0.6:1:versicolor");
    }

    @Test
    void apply_ranksAlongTheLastDimensionOfHigherRankOutputs() {
        Tensor scores = fp32("logits", shape(2, 2, 2), 1f, 2f, 4f, 3f, 5f, 6f, 8f, 7f);
        Tensor top = Classification.apply(scores, 1, List.of());
        assertThat(top.shape()).containsExactly(2, 2, 1);
        assertThat(texts(top)).containsExactly("2.0:1", "4.0:0", "6.0:1", "8.0:0");
    }

    @Test
    void apply_readsFp64ScoresAtFullPrecision() {
        Tensor scores = fp64("logits", shape(1, 3), 0.1, 0.123456789012345, -2.5);
        Tensor top = Classification.apply(scores, 2, IRIS);
        assertThat(texts(top)).containsExactly("0.123456789012345:1:versicolor", "0.1:0:setosa");
    }

    @Test
    void apply_ordersNegativeScoresCorrectly() {
        Tensor top = Classification.apply(fp32("logits", shape(1, 3), -3f, -1f, -2f), 3, List.of());
        assertThat(texts(top)).containsExactly("-1.0:1", "-2.0:2", "-3.0:0");
    }

    @Test
    void apply_breaksTiesByLowerClassIndex() {
        assertThat(texts(Classification.apply(fp32("s", shape(1, 4), 1f, 5f, 5f, 5f), 4, List.of())))
                .containsExactly("5.0:1", "5.0:2", "5.0:3", "1.0:0");
        assertThat(texts(Classification.apply(fp32("s", shape(1, 3), 2f, 2f, 2f), 3, List.of())))
                .containsExactly("2.0:0", "2.0:1", "2.0:2");
    }

    @Test
    void apply_breaksTiesByLowerClassIndexAfterABetterClassWasSwappedForward() {
        // The best class (2) is swapped to the front, moving class 0 behind class 1: ties must
        // still come out in class order, 0 before 1.
        Tensor top = Classification.apply(fp32("s", shape(1, 3), 3f, 3f, 9f), 3, List.of());
        assertThat(texts(top)).containsExactly("9.0:2", "3.0:0", "3.0:1");
    }

    @Test
    void apply_ranksNaNTheSameWhereverItIs() {
        String first = texts(Classification.apply(fp32("s", shape(1, 3), Float.NaN, 1f, 2f), 1, List.of()))[0];
        String last = texts(Classification.apply(fp32("s", shape(1, 3), 1f, 2f, Float.NaN), 1, List.of()))[0];
        assertThat(first.startsWith("NaN")).as("top-1 of [NaN,1,2] is " + first + ", of [1,2,NaN] is " + last)
                .isEqualTo(last.startsWith("NaN"));
    }

    @Test
    void apply_handlesEmptyBatch() {
        Tensor top = Classification.apply(zeros("logits", DataType.FP32, 0, 3), 2, IRIS);
        assertThat(top.shape()).containsExactly(0, 2);
        assertThat(top.bytesElements()).isEmpty();
    }

    @Test
    void apply_handlesSingleClassDimension() {
        Tensor top = Classification.apply(fp32("s", shape(2), 0.25f, 0.75f), 1, List.of("no", "yes"));
        assertThat(top.shape()).containsExactly(1);
        assertThat(texts(top)).containsExactly("0.75:1:yes");
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FP32", "FP64"}, mode = EnumSource.Mode.EXCLUDE)
    void apply_rejectsNonFp32Fp64Scores(DataType type) {
        Tensor scores = zeros("logits", type, 1, 3);
        assertThatThrownBy(() -> Classification.apply(scores, 1, IRIS))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("'logits'")
                .hasMessageContaining(type.name())
                .hasMessageContaining("FP32 or FP64");
    }

    @Test
    void apply_rejectsIntegerScores() {
        assertThatThrownBy(() -> Classification.apply(int64("ids", shape(1, 2), 1, 2), 1, List.of()))
                .isInstanceOf(ServalException.class).hasMessageContaining("INT64");
    }

    @Test
    void apply_rejectsScalarScores() {
        assertThatThrownBy(() -> Classification.apply(fp32("score", new long[0], 1f), 1, List.of()))
                .isInstanceOf(ServalException.class)
                .hasMessageContaining("'score'")
                .hasMessageContaining("scalar");
    }

    @Test
    void apply_leavesInputScoresUnchanged() {
        Tensor scores = fp32("s", shape(1, 3), 3f, 1f, 2f);
        Classification.apply(scores, 3, List.of());
        assertThat(dev.serval.testing.TestTensors.floats(scores)).containsExactly(3f, 1f, 2f);
    }

    @Test
    void topK_acceptsPositiveCounts() {
        assertThat(Classification.topK("out", 1)).isEqualTo(1);
        assertThat(Classification.topK("out", 1000)).isEqualTo(1000);
    }

    @Test
    void topK_rejectsZeroNegativeAndHugeCountsNamingOutput() {
        for (long k : new long[] {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 32}) {
            assertThatThrownBy(() -> Classification.topK("probabilities", k))
                    .as("k = %d", k)
                    .isInstanceOfSatisfying(ServalException.class,
                            e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                    .hasMessageContaining("'probabilities'")
                    .hasMessageContaining(Long.toString(k));
        }
    }
}
