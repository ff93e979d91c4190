package dev.serval.features.remote;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.features.RemoteTier;
import dev.serval.features.RemoteTierException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link RemoteTier} must do, run against a real server by each implementation's test.
 * Each test gets a fresh tier over a key space of its own ({@link #newTier()}).
 */
abstract class RemoteTierContract {
    /** Generous: these tests check what is stored, not how fast. */
    static final Duration TIMEOUT = Duration.ofSeconds(10);

    protected RemoteTier tier;

    /** A new tier on the running server, over keys no other tier of the test run uses. */
    abstract RemoteTier newTier();

    @BeforeEach
    void openTier() {
        tier = newTier();
    }

    @AfterEach
    void closeTier() {
        if (tier != null) {
            tier.close();
        }
    }

    @Test
    void getAll_givesNullForEveryMissingKey() {
        assertThat(tier.getAll(List.of("a", "b", "c"), TIMEOUT)).containsExactly(null, null, null);
    }

    @Test
    void putAll_thenGetAll_roundTripsBinaryValues() {
        byte[] everyByte = new byte[256];
        for (int i = 0; i < everyByte.length; i++) {
            everyByte[i] = (byte) i;
        }
        byte[] large = random(64 * 1024, 1);
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("every-byte", everyByte);
        entries.put("empty", new byte[0]);
        entries.put("64k", large);
        entries.put("not utf-8", new byte[] {(byte) 0xC3, 0x28, (byte) 0xFF, 0});
        entries.put("ключ:ü 🙂 with spaces\tand:colons", "x".getBytes(StandardCharsets.UTF_8));

        tier.putAll(entries, TIMEOUT);

        assertThat(tier.getAll(List.copyOf(entries.keySet()), TIMEOUT)).containsExactlyElementsOf(entries.values());
    }

    @Test
    void putAll_overwritesTheWholeValue() {
        tier.putAll(Map.of("k", random(1000, 2), "other", new byte[] {7}), TIMEOUT);
        tier.putAll(Map.of("k", new byte[] {1, 2, 3}), TIMEOUT);

        assertThat(tier.getAll(List.of("k", "other"), TIMEOUT)).containsExactly(new byte[] {1, 2, 3}, new byte[] {7});
    }

    @Test
    void getAll_answersInTheCallersOrder_withMissingAndRepeatedKeys() {
        tier.putAll(Map.of("a", new byte[] {1}, "b", new byte[] {2}, "c", new byte[] {3}), TIMEOUT);

        assertThat(tier.getAll(List.of("c", "missing", "a", "c", "b"), TIMEOUT))
                .containsExactly(new byte[] {3}, null, new byte[] {1}, new byte[] {3}, new byte[] {2});
    }

    @Test
    void batchesOfAThousandKeys_roundTrip() {
        Map<String, byte[]> entries = new HashMap<>();
        for (int i = 0; i < 1000; i++) {
            entries.put("card-" + i, random(i % 200, i));
        }
        tier.putAll(entries, TIMEOUT);

        List<String> keys = new ArrayList<>(entries.keySet());
        for (int i = 0; i < 1000; i++) {
            keys.add("absent-" + i);
        }
        Collections.shuffle(keys, new Random(3));
        List<byte[]> values = tier.getAll(keys, TIMEOUT);

        assertThat(values).hasSize(2000);
        for (int i = 0; i < keys.size(); i++) {
            assertThat(values.get(i)).as(keys.get(i)).isEqualTo(entries.get(keys.get(i)));
        }
    }

    @Test
    void emptyBatches_areAnsweredWithoutError() {
        tier.putAll(Map.of(), TIMEOUT);

        assertThat(tier.getAll(List.of(), TIMEOUT)).isEmpty();
    }

    @Test
    void tiersOverDifferentKeySpaces_doNotSeeEachOthersValues() {
        tier.putAll(Map.of("shared-name", new byte[] {1}), TIMEOUT);
        try (RemoteTier other = newTier()) {
            assertThat(other.getAll(List.of("shared-name"), TIMEOUT)).containsExactly((byte[]) null);
            other.putAll(Map.of("shared-name", new byte[] {2}), TIMEOUT);
        }
        assertThat(tier.getAll(List.of("shared-name"), TIMEOUT)).containsExactly(new byte[] {1});
    }

    @Test
    void concurrentCallers_eachReadTheirOwnWrites() throws Exception {
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    for (int round = 0; round < 25; round++) {
                        Map<String, byte[]> mine = new LinkedHashMap<>();
                        for (int k = 0; k < 10; k++) {
                            mine.put("t" + thread + "-k" + k, random(16, thread * 1000 + round * 10 + k));
                        }
                        tier.putAll(mine, TIMEOUT);
                        assertThat(tier.getAll(List.copyOf(mine.keySet()), TIMEOUT))
                                .containsExactlyElementsOf(mine.values());
                    }
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void callsAfterClose_throwIllegalState() {
        tier.close();
        tier.close(); // idempotent

        assertThatThrownBy(() -> tier.getAll(List.of("k"), TIMEOUT)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> tier.putAll(Map.of("k", new byte[1]), TIMEOUT))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void nullKeysAndValues_areRejectedBeforeAnyCall() {
        assertThatThrownBy(() -> tier.getAll(Arrays.asList("a", null), TIMEOUT)).isInstanceOf(NullPointerException.class);
        Map<String, byte[]> nullValue = new HashMap<>();
        nullValue.put("k", null);
        assertThatThrownBy(() -> tier.putAll(nullValue, TIMEOUT)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("'k'");
    }

    /** Retries {@code call} while the tier throws (a server coming up), for at most 30 s. */
    static <T> T eventually(Supplier<T> call) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                return call.get();
            } catch (RemoteTierException e) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the tier still fails after 30 s", e);
                }
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
        }
    }

    static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }
}
