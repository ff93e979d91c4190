package dev.serval.features;

import static dev.serval.features.FeatureStoreStats.BreakerState.CLOSED;
import static dev.serval.features.FeatureStoreStats.BreakerState.HALF_OPEN;
import static dev.serval.features.FeatureStoreStats.BreakerState.OPEN;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {
    private final FakeTicker ticker = new FakeTicker();
    private final CircuitBreaker breaker = new CircuitBreaker(3, Duration.ofSeconds(10).toNanos(), ticker);

    @Test
    void breaker_opensAfterConsecutiveFailuresOnly() {
        breaker.failure(breaker.tryAcquire());
        breaker.failure(breaker.tryAcquire());
        breaker.success(breaker.tryAcquire());
        breaker.failure(breaker.tryAcquire());
        breaker.failure(breaker.tryAcquire());
        assertThat(breaker.state()).as("a success in between resets the count").isEqualTo(CLOSED);
        CircuitBreaker.Permit permit = breaker.tryAcquire();
        assertThat(permit).isNotNull();

        breaker.failure(permit);

        assertThat(breaker.state()).isEqualTo(OPEN);
        assertThat(breaker.tryAcquire()).isNull();
    }

    @Test
    void breaker_letsOneProbeThroughAfterItsOpenPeriod() {
        open();
        ticker.advance(Duration.ofSeconds(9));
        assertThat(breaker.refusing()).isTrue();
        assertThat(breaker.tryAcquire()).isNull();

        ticker.advance(Duration.ofSeconds(1));

        assertThat(breaker.refusing()).isFalse();
        CircuitBreaker.Permit probe = breaker.tryAcquire();
        assertThat(probe).as("the probe").isNotNull();
        assertThat(probe.probe()).isTrue();
        assertThat(breaker.refusing()).as("the probe is out").isTrue();
        assertThat(breaker.state()).isEqualTo(HALF_OPEN);
        assertThat(breaker.tryAcquire()).as("only one probe at a time").isNull();
        assertThat(breaker.success(probe)).as("recovered").isTrue();
        assertThat(breaker.state()).isEqualTo(CLOSED);
        assertThat(breaker.success(probe)).as("the probe reported twice").isFalse();
        assertThat(breaker.success(breaker.tryAcquire())).as("already closed").isFalse();
    }

    @Test
    void breaker_failedProbeOpensItForAnotherPeriod() {
        open();
        ticker.advance(Duration.ofSeconds(10));
        CircuitBreaker.Permit probe = breaker.tryAcquire();
        assertThat(probe).isNotNull();

        breaker.failure(probe);

        assertThat(breaker.state()).isEqualTo(OPEN);
        ticker.advance(Duration.ofSeconds(9));
        assertThat(breaker.tryAcquire()).isNull();
        ticker.advance(Duration.ofSeconds(1));
        assertThat(breaker.tryAcquire()).isNotNull();
    }

    @Test
    void breaker_abandonedProbeLetsTheNextCallerProbe() {
        open();
        ticker.advance(Duration.ofSeconds(10));
        CircuitBreaker.Permit probe = breaker.tryAcquire();
        assertThat(probe).isNotNull();

        breaker.abandon(probe);

        assertThat(breaker.state()).isEqualTo(OPEN);
        CircuitBreaker.Permit next = breaker.tryAcquire();
        assertThat(next).isNotNull();
        assertThat(breaker.success(probe)).as("the abandoned probe no longer decides").isFalse();
        assertThat(breaker.state()).isEqualTo(HALF_OPEN);
        assertThat(breaker.success(next)).isTrue();
    }

    @Test
    void breaker_lateSuccessOfACallAdmittedBeforeOpeningDoesNotCloseIt() {
        CircuitBreaker.Permit slow = breaker.tryAcquire();
        open();

        assertThat(breaker.success(slow)).isFalse();

        assertThat(breaker.state()).as("a call admitted while closed answers late").isEqualTo(OPEN);
        assertThat(breaker.tryAcquire()).isNull();
    }

    @Test
    void breaker_inHalfOpenOnlyTheProbeDecides() {
        List<CircuitBreaker.Permit> stale = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            stale.add(breaker.tryAcquire());
        }
        open();
        ticker.advance(Duration.ofSeconds(10));
        CircuitBreaker.Permit probe = breaker.tryAcquire();

        breaker.success(stale.get(0));
        assertThat(breaker.state()).as("a stale success does not close").isEqualTo(HALF_OPEN);
        breaker.failure(stale.get(1));
        assertThat(breaker.state()).as("a stale failure does not reopen").isEqualTo(HALF_OPEN);
        breaker.abandon(stale.get(2));
        assertThat(breaker.state()).isEqualTo(HALF_OPEN);
        assertThat(breaker.tryAcquire()).as("the probe is still out").isNull();

        assertThat(breaker.success(probe)).isTrue();
        assertThat(breaker.state()).isEqualTo(CLOSED);
    }

    @Test
    void breaker_lateFailuresOfAnEarlierClosedSpellDoNotCount() {
        List<CircuitBreaker.Permit> stale = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            stale.add(breaker.tryAcquire());
        }
        open();
        ticker.advance(Duration.ofSeconds(10));
        breaker.success(breaker.tryAcquire());
        assertThat(breaker.state()).isEqualTo(CLOSED);

        for (CircuitBreaker.Permit permit : stale) {
            breaker.failure(permit);
        }

        assertThat(breaker.state()).as("failures from before it reclosed").isEqualTo(CLOSED);
        breaker.failure(breaker.tryAcquire());
        breaker.failure(breaker.tryAcquire());
        assertThat(breaker.state()).isEqualTo(CLOSED);
        breaker.failure(breaker.tryAcquire());
        assertThat(breaker.state()).isEqualTo(OPEN);
    }

    @Test
    void breaker_failuresAfterOpeningDoNotExtendTheOpenPeriod() {
        List<CircuitBreaker.Permit> inFlight = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            inFlight.add(breaker.tryAcquire());
        }
        for (int i = 0; i < 3; i++) {
            breaker.failure(inFlight.get(i));
        }
        assertThat(breaker.state()).isEqualTo(OPEN);
        ticker.advance(Duration.ofSeconds(9));

        breaker.failure(inFlight.get(3));
        breaker.failure(inFlight.get(4));

        ticker.advance(Duration.ofSeconds(1));
        assertThat(breaker.tryAcquire()).as("probe due 10 s after the first opening").isNotNull();
    }

    private void open() {
        for (int i = 0; i < 3; i++) {
            breaker.failure(breaker.tryAcquire());
        }
        assertThat(breaker.state()).isEqualTo(OPEN);
    }
}
