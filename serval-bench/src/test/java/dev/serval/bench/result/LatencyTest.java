package dev.serval.bench.result;

import static org.assertj.core.api.Assertions.assertThat;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

class LatencyTest {

    @Test
    void ofMicros_givesThePercentilesOfKnownSamplesInMilliseconds() {
        Histogram h = new Histogram(3);
        for (int ms = 1; ms <= 1000; ms++) { // 1 ms .. 1000 ms, once each
            h.recordValue(ms * 1000L);
        }

        Latency l = Latency.ofMicros(h);

        assertThat(l).isEqualTo(new Latency(1000, 1, 501, 500, 900, 950, 990, 999, 1000));
    }

    @Test
    void ofMicros_keepsARareOutlierOutOfThePercentilesButInTheMax() {
        Histogram h = new Histogram(3);
        h.recordValueWithCount(2_000, 999); // 999 answers at 2 ms
        h.recordValue(250_000);             // one at 250 ms

        Latency l = Latency.ofMicros(h);

        assertThat(l.p50()).isEqualTo(2);
        assertThat(l.p99()).isEqualTo(2);
        assertThat(l.p999()).isEqualTo(2);
        assertThat(l.max()).isEqualTo(250);
    }

    @Test
    void ofMicros_ofNothingIsNone() {
        assertThat(Latency.ofMicros(new Histogram(3))).isEqualTo(Latency.NONE);
    }
}
