package dev.serval.features;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** L1 alone. */
class MemoryTierTest {

    @Test
    void memory_holdsStatesUpToItsBound() {
        MemoryTier memory = new MemoryTier(100, 10_000, 0.01);
        for (int i = 0; i < 1_000; i++) {
            memory.put("card-" + i, new EntityState());
        }

        assertThat(memory.size()).isLessThanOrEqualTo(100);
    }

    @Test
    void memory_returnsTheSameStateItWasGiven() {
        MemoryTier memory = new MemoryTier(100, 10_000, 0.01);
        EntityState state = new EntityState();

        memory.put("card-1", state);

        assertThat(memory.get("card-1")).isSameAs(state);
        assertThat(memory.get("card-2")).isNull();
        memory.invalidate("card-1");
        assertThat(memory.get("card-1")).isNull();
    }

    @Test
    void bloom_hasNoFalseNegativesEvenForEvictedStates() {
        MemoryTier memory = new MemoryTier(10, 10_000, 0.01);
        for (int i = 0; i < 5_000; i++) {
            if (i % 2 == 0) {
                memory.put("card-" + i, new EntityState());
            } else {
                memory.markSeen("card-" + i);
            }
        }

        for (int i = 0; i < 5_000; i++) {
            assertThat(memory.mightHaveSeen("card-" + i)).as("card-" + i).isTrue();
        }
    }

    @Test
    void bloom_rulesOutMostEntitiesNeverSeen() {
        MemoryTier memory = new MemoryTier(10, 10_000, 0.01);
        for (int i = 0; i < 10_000; i++) {
            memory.markSeen("card-" + i);
        }

        int falsePositives = 0;
        for (int i = 0; i < 10_000; i++) {
            if (memory.mightHaveSeen("other-" + i)) {
                falsePositives++;
            }
        }

        // 1% expected; 3% leaves room for chance without letting a broken filter (100%) pass.
        assertThat(falsePositives).isLessThan(300);
    }
}
