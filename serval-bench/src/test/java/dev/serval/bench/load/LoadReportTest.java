package dev.serval.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

class LoadReportTest {

    private static Histogram micros(long... values) {
        Histogram h = new Histogram(3);
        for (long v : values) {
            h.recordValue(v);
        }
        return h;
    }

    @Test
    void summary_givesPercentilesOfKnownSamplesInMilliseconds() {
        Histogram h = new Histogram(3);
        for (int ms = 1; ms <= 1000; ms++) { // 1 ms .. 1000 ms, once each
            h.recordValue(ms * 1000L);
        }

        String json = LoadReport.summary(h);

        assertThat(json).contains("\"count\":1000", "\"min\":1,", "\"p50\":500,", "\"p90\":900,", "\"p95\":950,",
                "\"p99\":990,", "\"p99_9\":999,", "\"max\":1000}");
        assertThat(json).contains("\"mean\":501,"); // 500.5 ms, half up to 3 significant digits
    }

    @Test
    void summary_separatesARareOutlierFromTheTail() {
        long[] values = new long[1000];
        java.util.Arrays.fill(values, 2_000); // 2 ms
        values[999] = 250_000;                // one of 1000 at 250 ms
        String json = LoadReport.summary(micros(values));

        assertThat(json).contains("\"p50\":2,", "\"p99\":2,", "\"p99_9\":2,", "\"max\":250}");
    }

    @Test
    void summary_ofNothingIsJustTheCount() {
        assertThat(LoadReport.summary(new Histogram(3))).isEqualTo("{\"count\":0}");
    }

    @Test
    void ms_roundsToThreeSignificantDigitsWithoutExponents() {
        assertThat(LoadReport.ms(12.345)).isEqualTo("12.3");
        assertThat(LoadReport.ms(0.045678)).isEqualTo("0.0457");
        assertThat(LoadReport.ms(1234.5)).isEqualTo("1230");
        assertThat(LoadReport.ms(20.0)).isEqualTo("20");
        assertThat(LoadReport.ms(0)).isEqualTo("0");
    }

    @Test
    void quote_escapesJson() {
        assertThat(LoadReport.quote("a\"b\\c\nd\u0001")).isEqualTo("\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
