package dev.serval.features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class EntityStateTest {
    /** 2026-01-01T00:00:00Z: a round minute, so bucket edges are easy to reason about. */
    private static final long T0 = 1_767_225_600_000L;

    private static float[] at(EntityState state, long atMillis) {
        float[] row = new float[Lookup.WIDTH];
        state.features(atMillis, row, 0);
        return row;
    }

    private static float f(float[] row, Feature feature) {
        return row[feature.ordinal()];
    }

    private static EntityState with(Event... events) {
        EntityState state = new EntityState();
        for (Event event : events) {
            state.add(event);
        }
        return state;
    }

    @Test
    void features_countEventsInTheLastMinuteAndHour() {
        EntityState state = with(
                new Event("card", "m1", 10, T0),
                new Event("card", "m2", 5, T0 + 30_000),
                new Event("card", "m1", 2.5, T0 + 59_000));

        float[] row = at(state, T0 + 59_500);

        assertThat(f(row, Feature.COUNT_1M)).isEqualTo(3f);
        assertThat(f(row, Feature.SUM_1M)).isEqualTo(17.5f);
        assertThat(f(row, Feature.COUNT_1H)).isEqualTo(3f);
        assertThat(f(row, Feature.SUM_1H)).isEqualTo(17.5f);
        assertThat(f(row, Feature.DISTINCT_COUNTERPARTIES_1H)).isEqualTo(2f);
        assertThat(f(row, Feature.SECONDS_SINCE_LAST)).isEqualTo(0.5f);
        assertThat(f(row, Feature.COUNT_TOTAL)).isEqualTo(3f);
        assertThat(f(row, Feature.SUM_TOTAL)).isEqualTo(17.5f);
    }

    @Test
    void features_expireByTheTimeAsked() {
        EntityState state = with(new Event("card", "m1", 10, T0), new Event("card", "m2", 20, T0 + 50_000));

        float[] minuteLater = at(state, T0 + 60_000);
        assertThat(f(minuteLater, Feature.COUNT_1M)).as("the T0 second left the minute").isEqualTo(1f);
        assertThat(f(minuteLater, Feature.SUM_1M)).isEqualTo(20f);
        assertThat(f(minuteLater, Feature.COUNT_1H)).isEqualTo(2f);

        float[] hourLater = at(state, T0 + 3_600_000);
        assertThat(f(hourLater, Feature.COUNT_1M)).isZero();
        assertThat(f(hourLater, Feature.COUNT_1H)).as("minute 0 left the hour").isZero();
        assertThat(f(hourLater, Feature.DISTINCT_COUNTERPARTIES_1H)).isZero();
        assertThat(f(hourLater, Feature.COUNT_TOTAL)).isEqualTo(2f);
        assertThat(f(hourLater, Feature.SECONDS_SINCE_LAST)).isEqualTo(3_550f);

        float[] twoDaysLater = at(state, T0 + 2 * 86_400_000L);
        assertThat(f(twoDaysLater, Feature.SECONDS_SINCE_LAST)).isEqualTo(Feature.SECONDS_CAP);
    }

    @Test
    void features_askedAboutThePastSeeOnlyEarlierBuckets() {
        EntityState state = with(new Event("card", "m1", 1, T0), new Event("card", "m2", 2, T0 + 10_000));

        float[] before = at(state, T0 + 5_000);

        assertThat(f(before, Feature.COUNT_1M)).isEqualTo(1f);
        assertThat(f(before, Feature.SUM_1M)).isEqualTo(1f);
        assertThat(f(before, Feature.SECONDS_SINCE_LAST)).isEqualTo(5f);
        assertThat(f(before, Feature.DISTINCT_COUNTERPARTIES_1H)).as("minute resolution").isEqualTo(2f);
    }

    @Test
    void add_outOfOrderEventsCountWhileTheirBucketIsInTheRing() {
        EntityState state = with(new Event("card", "m1", 1, T0 + 120_000));
        state.add(new Event("card", "m1", 2, T0 + 100_000));   // 20 s late: in both windows
        state.add(new Event("card", "m1", 4, T0 + 30_000));    // 90 s late: hour window only
        state.add(new Event("card", "m1", 8, T0 - 7_200_000)); // 2 h late: lifetime only

        float[] row = at(state, T0 + 120_000);

        assertThat(f(row, Feature.COUNT_1M)).isEqualTo(2f);
        assertThat(f(row, Feature.SUM_1M)).isEqualTo(3f);
        assertThat(f(row, Feature.COUNT_1H)).isEqualTo(3f);
        assertThat(f(row, Feature.SUM_1H)).isEqualTo(7f);
        assertThat(f(row, Feature.COUNT_TOTAL)).isEqualTo(4f);
        assertThat(f(row, Feature.SUM_TOTAL)).isEqualTo(15f);
        assertThat(f(row, Feature.SECONDS_SINCE_LAST)).as("the latest event is still the latest").isZero();
    }

    @Test
    void add_aJumpPastTheRingClearsIt() {
        EntityState state = with(new Event("card", "m1", 1, T0));
        state.add(new Event("card", "m1", 1, T0 + 60_000 * 61 + 5_000)); // one minute past a full ring

        float[] row = at(state, T0 + 60_000 * 61 + 5_000);

        assertThat(f(row, Feature.COUNT_1M)).isEqualTo(1f);
        assertThat(f(row, Feature.COUNT_1H)).isEqualTo(1f);
        assertThat(f(row, Feature.DISTINCT_COUNTERPARTIES_1H)).isEqualTo(1f);
        assertThat(f(row, Feature.COUNT_TOTAL)).isEqualTo(2f);
    }

    @Test
    void distinct_isExactUpToTheCapThenTheCap() {
        EntityState state = new EntityState();
        for (int i = 0; i < 40; i++) {
            state.add(new Event("card", "merchant-" + i, 1, T0 + i * 1000L));
            state.add(new Event("card", "merchant-" + i, 1, T0 + i * 1000L)); // repeats do not count
        }
        assertThat(f(at(state, T0 + 40_000), Feature.DISTINCT_COUNTERPARTIES_1H)).isEqualTo(40f);

        for (int i = 40; i < 200; i++) {
            state.add(new Event("card", "merchant-" + i, 1, T0 + i * 1000L));
        }
        assertThat(f(at(state, T0 + 200_000), Feature.DISTINCT_COUNTERPARTIES_1H))
                .isEqualTo((float) EntityState.DISTINCT_CAP);
    }

    @Test
    void distinct_keepsTheNewestWhenFull() {
        EntityState state = new EntityState();
        for (int i = 0; i < EntityState.DISTINCT_CAP; i++) {
            state.add(new Event("card", "old-" + i, 1, T0));
        }
        for (int i = 0; i < 3; i++) {
            state.add(new Event("card", "new-" + i, 1, T0 + 3_000_000));
        }

        // An hour after the old ones, only the three new ones are inside the window.
        assertThat(f(at(state, T0 + 3_600_000), Feature.DISTINCT_COUNTERPARTIES_1H)).isEqualTo(3f);
    }

    @Test
    void defaults_areZerosAndTheSecondsCap() {
        float[] row = new float[Lookup.WIDTH];
        Arrays.fill(row, 7f);
        EntityState.defaults(row, 0);

        float[] empty = at(new EntityState(), T0);

        for (Feature feature : Feature.values()) {
            float expected = feature == Feature.SECONDS_SINCE_LAST ? Feature.SECONDS_CAP : 0f;
            assertThat(f(row, feature)).as(feature.wireName()).isEqualTo(expected);
            assertThat(f(empty, feature)).as(feature.wireName()).isEqualTo(expected);
        }
    }

    @Test
    void codec_roundTripsEveryFeatureAtEveryTime() {
        EntityState state = new EntityState();
        for (int i = 0; i < 500; i++) {
            state.add(new Event("card", "m" + (i % 17), i * 0.25, T0 + i * 7_919L));
        }
        state.unsyncedBase = true;

        byte[] bytes = StateCodec.encode(state);
        EntityState decoded = StateCodec.decode(bytes, "test");

        assertThat(decoded.unsyncedBase).isTrue();
        assertThat(decoded.countTotal).isEqualTo(500);
        for (long t = T0; t < T0 + 500 * 7_919L + 3_600_000; t += 13_337) {
            assertThat(at(decoded, t)).as("at " + t).containsExactly(at(state, t));
        }
        assertThat(StateCodec.encode(decoded)).isEqualTo(bytes);
    }

    @Test
    void codec_writesTheDocumentedVersion1Layout() {
        EntityState state = with(new Event("card", "m1", 12.5, T0), new Event("card", "m2", 2, T0 + 61_000));
        long sec = T0 / 1000 + 61;
        long min = T0 / 60_000 + 1;
        // seconds ring: only the newest second is inside the minute of the head (T0 is 61 s back)
        ByteBuffer expected = ByteBuffer.allocate(2 + 24 + 9 + 9 + 9 + 2 * 9 + 1 + 2 * 9);
        expected.put((byte) 1).put((byte) 0).putLong(2).putDouble(14.5).putLong(T0 + 61_000);
        expected.putLong(sec).put((byte) 1).put((byte) 0).putInt(1).putFloat(2f);
        expected.putLong(min).put((byte) 2)
                .put((byte) 0).putInt(1).putFloat(2f)
                .put((byte) 1).putInt(1).putFloat(12.5f);
        expected.put((byte) 2)
                .putLong(EntityState.hash("m1")).put((byte) 1)
                .putLong(EntityState.hash("m2")).put((byte) 0);

        assertThat(StateCodec.encode(state)).as("the bytes L2 and L3 already hold must still decode")
                .isEqualTo(expected.array());
    }

    @Test
    void codec_isCompactForAQuietEntity() {
        EntityState state = with(new Event("card", "m1", 12.5, T0));

        assertThat(StateCodec.encode(state).length).isLessThan(80);
        assertThat(StateCodec.encode(new EntityState()).length).isLessThan(50);
    }

    @Test
    void codec_rejectsAnotherVersionAndShortValues() {
        byte[] bytes = StateCodec.encode(with(new Event("card", "m1", 1, T0)));
        byte[] future = bytes.clone();
        future[0] = 2;

        assertThatThrownBy(() -> StateCodec.decode(future, "entity 'card' from redis"))
                .isInstanceOf(FeatureStoreException.class)
                .hasMessage("cannot read the state of entity 'card' from redis: encoding version 2, expected 1");
        assertThatThrownBy(() -> StateCodec.decode(Arrays.copyOf(bytes, bytes.length - 3), "entity 'card' in L2"))
                .isInstanceOf(FeatureStoreException.class)
                .hasMessageStartingWith("cannot read the state of entity 'card' in L2: ");
        assertThatThrownBy(() -> StateCodec.decode(new byte[0], "x"))
                .hasMessageContaining("encoding version (empty)");
    }

    @Test
    void merge_addsDisjointHistories() {
        Event[] remoteEvents = {
            new Event("card", "m1", 1, T0),
            new Event("card", "m2", 2, T0 + 30_000),
            new Event("card", "m3", 4, T0 - 600_000),
        };
        Event[] localEvents = {
            new Event("card", "m2", 8, T0 + 40_000),
            new Event("card", "m4", 16, T0 + 65_000),
        };
        EntityState base = with(remoteEvents);
        EntityState local = with(localEvents);
        EntityState all = with(remoteEvents);
        for (Event event : localEvents) {
            all.add(event);
        }

        base.merge(local);

        for (long t = T0 - 600_000; t < T0 + 4_000_000; t += 4_999) {
            assertThat(at(base, t)).as("at " + t).containsExactly(at(all, t));
        }
        assertThat(f(at(base, T0 + 65_000), Feature.SUM_TOTAL)).isCloseTo(31f, within(0f));
    }
}
