package dev.serval.bench.report;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.List;

/**
 * The median of a few repetitions and their range, as PERFORMANCE.md asks figures to be quoted.
 * Immutable.
 *
 * @param median the middle value (of an even count: the mean of the middle two)
 * @param min    the smallest
 * @param max    the largest
 * @param n      how many values
 */
record Spread(double median, double min, double max, int n) {

    /** The spread of {@code values}; null when there are none. */
    static Spread of(List<Double> values) {
        if (values.isEmpty()) {
            return null;
        }
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        return new Spread(median, v[0], v[v.length - 1], v.length);
    }

    /** "12.3 (11.9 - 12.8)", or "12.3" for one value; 3 significant digits. */
    String format() {
        return n == 1 || min == max ? num(median) : num(median) + " (" + num(min) + " - " + num(max) + ")";
    }

    /** A number with 3 significant digits and no exponent: 12300, 12.3, 0.0123. */
    static String num(double value) {
        if (value == 0 || !Double.isFinite(value)) {
            return Double.isFinite(value) ? "0" : "-";
        }
        BigDecimal rounded = new BigDecimal(value).round(new MathContext(3));
        if (Math.abs(value) >= 1000) {
            rounded = rounded.setScale(0, java.math.RoundingMode.HALF_UP);
        }
        return rounded.stripTrailingZeros().toPlainString();
    }

    /** {@link #format} or "-" for none. */
    static String format(Spread spread) {
        return spread == null ? "-" : spread.format();
    }
}
