package dev.serval.pipeline;

import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.int64;
import static dev.serval.testing.TestTensors.strings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.serval.api.DataType;
import dev.serval.api.TensorSpec;
import dev.serval.features.Feature;
import dev.serval.features.Lookup;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ColumnTest {
    private static final Map<String, Column.Input> INPUTS;

    static {
        Map<String, TensorSpec> specs = new LinkedHashMap<>();
        specs.put("card_id", new TensorSpec("card_id", DataType.BYTES, new long[] {-1}));
        specs.put("amount", new TensorSpec("amount", DataType.FP32, new long[] {-1}));
        specs.put("timestamp", new TensorSpec("timestamp", DataType.INT64, new long[] {-1}));
        INPUTS = PipelineConfig.numberInputs(specs);
    }

    /** Two rows: amounts 60 and -3, times 13:20 UTC and 1969-12-31T23:00Z; sum_total 90 and 0 over 3 and 0 events. */
    private static final Frame FRAME = frame();

    private static Frame frame() {
        float[] features = new float[2 * Lookup.WIDTH];
        features[Feature.SUM_TOTAL.ordinal()] = 90f;
        features[Feature.COUNT_TOTAL.ordinal()] = 3f;
        long[] shape = {2};
        return new Frame(List.of(strings("card_id", shape, "a", "b"), fp32("amount", shape, 60f, -3f),
                int64("timestamp", shape, 1_767_571_200_000L + 13 * 3_600_000L + 20 * 60_000L, -3_600_000L)),
                new Lookup(features, 2, false));
    }

    private static double[] values(String text) {
        Column column = Column.parse(text, INPUTS);
        return new double[] {column.value(FRAME, 0), column.value(FRAME, 1)};
    }

    @Test
    void inputsAndFeatures_readTheirRow() {
        assertThat(values("amount")).containsExactly(60.0, -3.0);
        assertThat(values("timestamp")).containsExactly(1_767_571_200_000.0 + 13 * 3_600_000 + 20 * 60_000, -3_600_000.0);
        assertThat(values("sum_total")).containsExactly(90.0, 0.0);
    }

    @Test
    void functions_computeWhatTheyDocument() {
        assertThat(values("log1p(amount)")[0]).isCloseTo(Math.log1p(60), within(1e-15));
        assertThat(values("log1p(amount)")[1]).as("below 0 taken as 0").isZero();
        assertThat(values("hour_of_day(timestamp)")).as("UTC, before 1970 too").containsExactly(13.0, 23.0);
        assertThat(values("ratio(sum_total, count_total)")).as("0 over nothing").containsExactly(30.0, 0.0);
        assertThat(values("ratio(amount, ratio(sum_total, count_total))")).containsExactly(2.0, 0.0);
    }

    @Test
    void parse_normalisesSpaces_andNamesWhatIsWrong() {
        assertThat(Column.parse(" ratio( amount ,log1p(count_1m) ) ", INPUTS).text())
                .isEqualTo("ratio(amount, log1p(count_1m))");
        assertThatThrownBy(() -> Column.parse("card_id", INPUTS))
                .hasMessageContaining("'card_id' is neither a number input of the pipeline [amount, timestamp] nor a feature");
        assertThatThrownBy(() -> Column.parse("log1p(amount", INPUTS)).hasMessageContaining("expected ')'");
        assertThatThrownBy(() -> Column.parse("log1p(amount) x", INPUTS)).hasMessageContaining("unexpected 'x'");
        assertThatThrownBy(() -> Column.parse("", INPUTS)).hasMessageContaining("a name is missing");
        assertThatThrownBy(() -> Column.parse("sqrt(amount)", INPUTS)).hasMessageContaining("unknown function 'sqrt'");
    }
}
