package dev.serval.bench.result;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.math.BigDecimal;
import java.math.MathContext;
import org.HdrHistogram.Histogram;

/**
 * Latency percentiles in milliseconds, each rounded to 3 significant digits (the histograms they
 * come from hold no more). Immutable.
 *
 * @param count answers the percentiles are taken over; 0 leaves every other field 0
 */
public record Latency(long count, double min, double mean, double p50, double p90, double p95, double p99,
                      @JsonProperty("p99_9") double p999, double max) {

    /** No answers. */
    public static final Latency NONE = new Latency(0, 0, 0, 0, 0, 0, 0, 0, 0);

    /**
     * The percentiles of a histogram of microseconds.
     *
     * @param micros latencies in microseconds; not modified
     */
    public static Latency ofMicros(Histogram micros) {
        if (micros.getTotalCount() == 0) {
            return NONE;
        }
        return new Latency(micros.getTotalCount(),
                ms(micros.lowestEquivalentValue(micros.getMinValue())), ms(micros.getMean()),
                ms(micros.getValueAtPercentile(50)), ms(micros.getValueAtPercentile(90)),
                ms(micros.getValueAtPercentile(95)), ms(micros.getValueAtPercentile(99)),
                ms(micros.getValueAtPercentile(99.9)), ms(micros.getMaxValue()));
    }

    /** Microseconds to milliseconds, 3 significant digits. */
    static double ms(double micros) {
        double value = micros / 1000.0;
        if (value == 0 || !Double.isFinite(value)) {
            return 0;
        }
        return new BigDecimal(value).round(new MathContext(3)).doubleValue();
    }
}
