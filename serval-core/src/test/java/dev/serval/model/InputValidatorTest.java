package dev.serval.model;

import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.int64;
import static dev.serval.testing.TestTensors.shape;
import static dev.serval.testing.TestTensors.zeros;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import java.util.List;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;

class InputValidatorTest {
    private static final List<TensorSpec> IRIS = List.of(
            new TensorSpec("input", DataType.FP32, shape(-1, 4), new String[] {"batch", null}));

    /** Like the text model: two inputs sharing symbolic batch and sequence dimensions. */
    private static final List<TensorSpec> TEXT = List.of(
            new TensorSpec("input_ids", DataType.INT64, shape(-1, -1), new String[] {"batch", "sequence"}),
            new TensorSpec("attention_mask", DataType.INT64, shape(-1, -1), new String[] {"batch", "sequence"}));

    private static AbstractThrowableAssert<?, ? extends Throwable> assertRejected(
            List<TensorSpec> specs, List<Tensor> inputs) {
        return assertThatThrownBy(() -> InputValidator.validate("m", specs, inputs))
                .isInstanceOfSatisfying(ServalException.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
    }

    @Test
    void validate_acceptsMatchingInput() {
        Tensor input = zeros("input", DataType.FP32, 2, 4);
        assertThat(InputValidator.validate("iris", IRIS, List.of(input))).containsExactly(input);
    }

    @Test
    void validate_acceptsAnySizeForVariableDimensions() {
        for (long batch : new long[] {0, 1, 7, 1000}) {
            Tensor input = zeros("input", DataType.FP32, batch, 4);
            assertThat(InputValidator.validate("iris", IRIS, List.of(input))).containsExactly(input);
        }
    }

    @Test
    void validate_returnsInputsInDeclaredOrder() {
        Tensor mask = zeros("attention_mask", DataType.INT64, 2, 5);
        Tensor ids = zeros("input_ids", DataType.INT64, 2, 5);
        assertThat(InputValidator.validate("text", TEXT, List.of(mask, ids))).containsExactly(ids, mask);
    }

    @Test
    void validate_rejectsMissingInputListingExpected() {
        assertRejected(TEXT, List.of(zeros("input_ids", DataType.INT64, 1, 2)))
                .hasMessageContaining("missing input 'attention_mask'")
                .hasMessageContaining("model 'm'")
                .hasMessageContaining("input_ids INT64 [-1,-1]")
                .hasMessageContaining("attention_mask INT64 [-1,-1]");
    }

    @Test
    void validate_rejectsNoInputsAtAll() {
        assertRejected(IRIS, List.of()).hasMessageContaining("missing input 'input'");
    }

    @Test
    void validate_rejectsUnknownInputListingExpected() {
        assertRejected(IRIS, List.of(zeros("input", DataType.FP32, 1, 4), zeros("extra", DataType.FP32, 1)))
                .hasMessageContaining("unknown input 'extra'")
                .hasMessageContaining("[input FP32 [-1,4]]");
    }

    @Test
    void validate_rejectsInputGivenTwice() {
        assertRejected(IRIS, List.of(zeros("input", DataType.FP32, 1, 4), zeros("input", DataType.FP32, 2, 4)))
                .hasMessageContaining("'input'")
                .hasMessageContaining("more than once");
    }

    @Test
    void validate_rejectsTypeMismatchNamingBoth() {
        assertRejected(IRIS, List.of(zeros("input", DataType.FP64, 1, 4)))
                .hasMessageContaining("input 'input' has datatype FP64")
                .hasMessageContaining("expects FP32");
    }

    @Test
    void validate_rejectsBytesForNumericInput() {
        assertRejected(IRIS, List.of(zeros("input", DataType.BYTES, 1, 4)))
                .hasMessageContaining("BYTES")
                .hasMessageContaining("expects FP32");
    }

    @Test
    void validate_rejectsWrongRank() {
        assertRejected(IRIS, List.of(zeros("input", DataType.FP32, 4)))
                .hasMessageContaining("input 'input' has shape [4]")
                .hasMessageContaining("expects [-1,4]");
        assertRejected(IRIS, List.of(zeros("input", DataType.FP32, 1, 4, 1)))
                .hasMessageContaining("shape [1,4,1]");
    }

    @Test
    void validate_rejectsWrongFixedDimension() {
        assertRejected(IRIS, List.of(zeros("input", DataType.FP32, 2, 3)))
                .hasMessageContaining("shape [2,3]")
                .hasMessageContaining("expects [-1,4]");
    }

    @Test
    void validate_checksFixedShapeWithoutBatchDimension() {
        List<TensorSpec> fixed = List.of(new TensorSpec("x", DataType.FP32, shape(2, 3)));
        assertThat(InputValidator.validate("fixed", fixed, List.of(zeros("x", DataType.FP32, 2, 3)))).hasSize(1);
        assertRejected(fixed, List.of(zeros("x", DataType.FP32, 1, 2, 3))).hasMessageContaining("expects [2,3]");
        assertRejected(fixed, List.of(zeros("x", DataType.FP32, 3, 2))).hasMessageContaining("shape [3,2]");
    }

    @Test
    void validate_acceptsScalarSpec() {
        List<TensorSpec> scalar = List.of(new TensorSpec("s", DataType.FP32, new long[0]));
        assertThat(InputValidator.validate("m", scalar, List.of(fp32("s", new long[0], 1f)))).hasSize(1);
        assertRejected(scalar, List.of(fp32("s", shape(1), 1f))).hasMessageContaining("expects []");
    }

    @Test
    void validate_acceptsSharedSymbolicDimensionsThatAgree() {
        List<Tensor> inputs = List.of(zeros("input_ids", DataType.INT64, 3, 7), zeros("attention_mask", DataType.INT64, 3, 7));
        assertThat(InputValidator.validate("text", TEXT, inputs)).hasSize(2);
    }

    @Test
    void validate_rejectsSharedSymbolicDimensionsThatDisagree() {
        List<Tensor> inputs = List.of(zeros("input_ids", DataType.INT64, 2, 8), zeros("attention_mask", DataType.INT64, 2, 5));
        assertRejected(TEXT, inputs)
                .hasMessageContaining("'attention_mask'")
                .hasMessageContaining("'sequence'")
                .hasMessageContaining("axis 1")
                .hasMessageContaining("input 'input_ids' has 8")
                .hasMessageContaining("must agree");
    }

    @Test
    void validate_rejectsDisagreeingBatchNamingBothInputs() {
        List<Tensor> inputs = List.of(zeros("attention_mask", DataType.INT64, 3, 4), zeros("input_ids", DataType.INT64, 2, 4));
        assertRejected(TEXT, inputs)
                .hasMessageContaining("'batch'")
                .hasMessageContaining("axis 0")
                .hasMessageContaining("'input_ids'")
                .hasMessageContaining("'attention_mask'");
    }

    @Test
    void validate_comparesLargeSharedDimensionsByValue() {
        // Sizes beyond the Long cache (-128..127) must still compare equal when they are equal.
        List<Tensor> inputs = List.of(zeros("input_ids", DataType.INT64, 1, 1000), zeros("attention_mask", DataType.INT64, 1, 1000));
        assertThat(InputValidator.validate("text", TEXT, inputs)).hasSize(2);
    }

    @Test
    void validate_doesNotTieUnnamedVariableDimensions() {
        List<TensorSpec> specs = List.of(
                new TensorSpec("a", DataType.FP32, shape(-1, 3)),
                new TensorSpec("b", DataType.FP32, shape(-1, 3)));
        List<Tensor> inputs = List.of(zeros("a", DataType.FP32, 1, 3), zeros("b", DataType.FP32, 5, 3));
        assertThat(InputValidator.validate("m", specs, inputs)).hasSize(2);
    }

    @Test
    void validate_tiesDifferentAxesThatShareAName() {
        List<TensorSpec> specs = List.of(
                new TensorSpec("a", DataType.FP32, shape(-1), new String[] {"n"}),
                new TensorSpec("b", DataType.FP32, shape(2, -1), new String[] {null, "n"}));
        assertThat(InputValidator.validate("m", specs,
                List.of(zeros("a", DataType.FP32, 4), zeros("b", DataType.FP32, 2, 4)))).hasSize(2);
        assertRejected(specs, List.of(zeros("a", DataType.FP32, 4), zeros("b", DataType.FP32, 2, 3)))
                .hasMessageContaining("'n'");
    }

    @Test
    void validate_ignoresNamesOnFixedDimensions() {
        List<TensorSpec> specs = List.of(
                new TensorSpec("a", DataType.FP32, shape(3), new String[] {"k"}),
                new TensorSpec("b", DataType.FP32, shape(-1), new String[] {"k"}));
        assertThat(InputValidator.validate("m", specs,
                List.of(zeros("a", DataType.FP32, 3), zeros("b", DataType.FP32, 5)))).hasSize(2);
    }

    @Test
    void validate_checksSymbolsWithinOneInput() {
        List<TensorSpec> specs = List.of(
                new TensorSpec("square", DataType.FP32, shape(-1, -1), new String[] {"n", "n"}));
        assertThat(InputValidator.validate("m", specs, List.of(zeros("square", DataType.FP32, 3, 3)))).hasSize(1);
        assertRejected(specs, List.of(zeros("square", DataType.FP32, 3, 4))).hasMessageContaining("'n'");
    }

    @Test
    void validate_tracksManySymbolsAcrossInputs() {
        // Six symbols, more than the validator first makes room for; the last input disagrees on the first.
        List<TensorSpec> specs = List.of(
                new TensorSpec("a", DataType.FP32, shape(-1, -1, -1), new String[] {"s1", "s2", "s3"}),
                new TensorSpec("b", DataType.FP32, shape(-1, -1, -1), new String[] {"s4", "s5", "s6"}),
                new TensorSpec("c", DataType.FP32, shape(-1, -1), new String[] {"s6", "s1"}));
        Tensor a = zeros("a", DataType.FP32, 1, 2, 3);
        Tensor b = zeros("b", DataType.FP32, 4, 5, 6);
        assertThat(InputValidator.validate("m", specs, List.of(a, b, zeros("c", DataType.FP32, 6, 1)))).hasSize(3);
        assertRejected(specs, List.of(a, b, zeros("c", DataType.FP32, 6, 2)))
                .hasMessage("input 'c' has 2 for dimension 's1' (axis 1) but input 'a' has 1; they must agree");
    }

    @Test
    void validate_keepsTensorsUnchanged() {
        Tensor ids = int64("input_ids", shape(1, 2), 5, 6);
        Tensor mask = int64("attention_mask", shape(1, 2), 1, 1);
        List<Tensor> ordered = InputValidator.validate("text", TEXT, List.of(ids, mask));
        assertThat(ordered.get(0)).isSameAs(ids);
        assertThat(ordered.get(1)).isSameAs(mask);
    }

    @Test
    void describe_listsSpecsInOrder() {
        assertThat(InputValidator.describe(TEXT)).isEqualTo("[input_ids INT64 [-1,-1], attention_mask INT64 [-1,-1]]");
        assertThat(InputValidator.describe(List.of())).isEqualTo("[]");
    }
}
