package dev.serval.features;

import static dev.serval.features.FeatureStoreStats.BreakerState.CLOSED;
import static dev.serval.features.FeatureStoreStats.BreakerState.HALF_OPEN;
import static dev.serval.features.FeatureStoreStats.BreakerState.OPEN;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {
    private final FakeTicker ticker = new FakeTicker();
    private final CircuitBreaker breaker = new CircuitBreaker(3, Duration.ofSeconds(10).toNanos(), ticker);

    @Test
    void breaker_opensAfterConsecutiveFailuresOnly() {
        breaker.failure();
        breaker.failure();
        breaker.success();
        breaker.failure();
        breaker.failure();
        assertThat(breaker.state()).as("a success in between resets the count").isEqualTo(CLOSED);
        assertThat(breaker.tryAcquire()).isTrue();

        breaker.failure();

        assertThat(breaker.state()).isEqualTo(OPEN);
        assertThat(breaker.tryAcquire()).isFalse();
    }

    @Test
    void breaker_letsOneProbeThroughAfterItsOpenPeriod() {
        open();
        ticker.advance(Duration.ofSeconds(9));
        assertThat(breaker.refusing()).isTrue();
        assertThat(breaker.tryAcquire()).isFalse();

        ticker.advance(Duration.ofSeconds(1));

        assertThat(breaker.refusing()).isFalse();
        assertThat(breaker.tryAcquire()).as("the probe").isTrue();
        assertThat(breaker.refusing()).as("the probe is out").isTrue();
        assertThat(breaker.state()).isEqualTo(HALF_OPEN);
        assertThat(breaker.tryAcquire()).as("only one probe at a time").isFalse();
        assertThat(breaker.success()).as("recovered").isTrue();
        assertThat(breaker.state()).isEqualTo(CLOSED);
        assertThat(breaker.success()).as("already closed").isFalse();
    }

    @Test
    void breaker_failedProbeOpensItForAnotherPeriod() {
        open();
        ticker.advance(Duration.ofSeconds(10));
        assertThat(breaker.tryAcquire()).isTrue();

        breaker.failure();

        assertThat(breaker.state()).isEqualTo(OPEN);
        ticker.advance(Duration.ofSeconds(9));
        assertThat(breaker.tryAcquire()).isFalse();
        ticker.advance(Duration.ofSeconds(1));
        assertThat(breaker.tryAcquire()).isTrue();
    }

    @Test
    void breaker_abandonedProbeLetsTheNextCallerProbe() {
        open();
        ticker.advance(Duration.ofSeconds(10));
        assertThat(breaker.tryAcquire()).isTrue();

        breaker.abandon();

        assertThat(breaker.state()).isEqualTo(OPEN);
        assertThat(breaker.tryAcquire()).isTrue();
    }

    private void open() {
        for (int i = 0; i < 3; i++) {
            breaker.failure();
        }
        assertThat(breaker.state()).isEqualTo(OPEN);
    }
}
