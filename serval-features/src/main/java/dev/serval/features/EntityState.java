package dev.serval.features;

import java.util.Arrays;

/**
 * The rolling aggregates of one entity: what every tier stores (encoded by {@link StateCodec}).
 *
 * <p><b>Design.</b> Windows are rings of buckets anchored at the newest bucket that holds an event
 * (the <i>head</i>), not at the wall clock, so a state loaded from disk or a remote tier an hour
 * later needs no fix-up, and a lookup judges the windows at the time it asks about:
 * <ul>
 *   <li>the minute window is 60 one-second buckets: a lookup at {@code t} counts the seconds
 *       {@code [sec(t) - 59, sec(t)]}, so it is exact to the second (an event later in the same second
 *       as {@code t} counts too);</li>
 *   <li>the hour window is 60 one-minute buckets, counted the same way at minute resolution;</li>
 *   <li>distinct counterparties keep each counterparty's 64-bit hash with the minute it was last seen,
 *       exact up to {@link #DISTINCT_CAP} within the hour; beyond that the oldest are dropped and the
 *       feature reads {@value #DISTINCT_CAP} (a card with more than 64 merchants in an hour is an
 *       outlier whatever the exact figure). A 64-bit hash makes collisions among 64 values
 *       negligible; a sketch (HyperLogLog) would cost more bytes than the exact set at this cap.</li>
 * </ul>
 *
 * <p><b>Out-of-order events.</b> An event older than the head still counts if its bucket is inside
 * the ring (up to 59 s back for the minute window, 59 min for the hour); an older one counts only in
 * the lifetime totals (and the hour window if it still fits there). An event newer than the head moves
 * the head forward and clears the buckets it passes. A lookup about a time before the head sees only
 * the buckets at or before that time; what the ring has already dropped it cannot see.
 *
 * <p>Bucket sums are {@code float} (the features are floats; it halves the state); lifetime sums are
 * {@code double} and lifetime counts {@code long}, so event accounting is exact.
 *
 * <p>Not thread-safe: the store mutates and reads a state only under the entity's lock.
 */
final class EntityState {
    static final int SLOTS = 60;
    static final int DISTINCT_CAP = 64;
    static final long NONE = Long.MIN_VALUE;

    /** Newest second with an event in {@link #secCount}, or {@link #NONE}. */
    long secHead = NONE;
    final int[] secCount = new int[SLOTS];
    final float[] secSum = new float[SLOTS];
    /** Newest minute with an event in {@link #minCount}, or {@link #NONE}. */
    long minHead = NONE;
    final int[] minCount = new int[SLOTS];
    final float[] minSum = new float[SLOTS];

    long[] distinctHash = new long[4];
    long[] distinctMinute = new long[4];
    int distinctSize;

    long lastSeenMillis = NONE;
    long countTotal;
    double sumTotal;

    /**
     * True while this state was started locally for an entity the remote tier may already hold but
     * could not be asked about: its remote value must be merged in before this state is written there.
     */
    boolean unsyncedBase;

    /** {@link #outbox}: not known here; ask L2. */
    static final byte OUTBOX_UNKNOWN = 0;
    /** {@link #outbox}: the entity has a write-behind mark in L2. */
    static final byte OUTBOX_QUEUED = 1;
    /** {@link #outbox}: the entity has no write-behind mark in L2. */
    static final byte OUTBOX_CLEAR = 2;

    /**
     * Whether the entity has a write-behind mark in L2, as far as this (L1) copy knows: kept by the
     * store under the entity's lock (set when a record queues it, cleared when the drainer clears the
     * mark), so counting the backlog costs no L2 read per recorded entity. Not encoded: a state
     * decoded from a tier starts {@link #OUTBOX_UNKNOWN}.
     */
    byte outbox = OUTBOX_UNKNOWN;

    void add(Event event) {
        add(event.timestampMillis(), event.amount(), hash(event.counterparty()));
    }

    void add(long timestampMillis, double amount, long counterpartyHash) {
        float value = (float) amount;
        addSecond(Math.floorDiv(timestampMillis, 1000L), 1, value);
        long minute = Math.floorDiv(timestampMillis, 60_000L);
        addMinute(minute, 1, value);
        seen(counterpartyHash, minute);
        if (timestampMillis > lastSeenMillis) {
            lastSeenMillis = timestampMillis;
        }
        countTotal++;
        sumTotal += amount;
    }

    /**
     * Adds every event of {@code other} to this state. Correct when the two saw disjoint events (a
     * remote base and the events recorded locally on top of an empty state), which is the only case
     * the store merges.
     */
    void merge(EntityState other) {
        if (other.secHead != NONE) {
            for (long s = other.secHead - (SLOTS - 1); s <= other.secHead; s++) {
                int slot = slot(s);
                if (other.secCount[slot] != 0) {
                    addSecond(s, other.secCount[slot], other.secSum[slot]);
                }
            }
        }
        if (other.minHead != NONE) {
            for (long m = other.minHead - (SLOTS - 1); m <= other.minHead; m++) {
                int slot = slot(m);
                if (other.minCount[slot] != 0) {
                    addMinute(m, other.minCount[slot], other.minSum[slot]);
                }
            }
        }
        for (int i = 0; i < other.distinctSize; i++) {
            seen(other.distinctHash[i], other.distinctMinute[i]);
        }
        lastSeenMillis = Math.max(lastSeenMillis, other.lastSeenMillis);
        countTotal += other.countTotal;
        sumTotal += other.sumTotal;
    }

    /** Writes the {@link Feature} row of this state as of {@code atMillis} into {@code out} at {@code offset}. */
    void features(long atMillis, float[] out, int offset) {
        long second = Math.floorDiv(atMillis, 1000L);
        long minute = Math.floorDiv(atMillis, 60_000L);
        int count1m = 0;
        float sum1m = 0;
        if (secHead != NONE) {
            long from = Math.max(second - (SLOTS - 1), secHead - (SLOTS - 1));
            long to = Math.min(second, secHead);
            for (long s = from; s <= to; s++) {
                count1m += secCount[slot(s)];
                sum1m += secSum[slot(s)];
            }
        }
        int count1h = 0;
        float sum1h = 0;
        if (minHead != NONE) {
            long from = Math.max(minute - (SLOTS - 1), minHead - (SLOTS - 1));
            long to = Math.min(minute, minHead);
            for (long m = from; m <= to; m++) {
                count1h += minCount[slot(m)];
                sum1h += minSum[slot(m)];
            }
        }
        int distinct = 0;
        for (int i = 0; i < distinctSize; i++) {
            long m = distinctMinute[i];
            if (m <= minute && m > minute - SLOTS) {
                distinct++;
            }
        }
        out[offset + Feature.COUNT_1M.ordinal()] = count1m;
        out[offset + Feature.SUM_1M.ordinal()] = sum1m;
        out[offset + Feature.COUNT_1H.ordinal()] = count1h;
        out[offset + Feature.SUM_1H.ordinal()] = sum1h;
        out[offset + Feature.DISTINCT_COUNTERPARTIES_1H.ordinal()] = distinct;
        out[offset + Feature.SECONDS_SINCE_LAST.ordinal()] = secondsSinceLast(atMillis, second, minute);
        out[offset + Feature.COUNT_TOTAL.ordinal()] = countTotal;
        out[offset + Feature.SUM_TOTAL.ordinal()] = (float) sumTotal;
    }

    /** The row of an entity never seen. */
    static void defaults(float[] out, int offset) {
        Arrays.fill(out, offset, offset + Lookup.WIDTH, 0f);
        out[offset + Feature.SECONDS_SINCE_LAST.ordinal()] = Feature.SECONDS_CAP;
    }

    /**
     * Exact when the latest event is not after {@code atMillis}; otherwise (asked about the past) the
     * newest bucket at or before that time answers, to the second within the minute ring and to the
     * minute within the hour ring.
     */
    private float secondsSinceLast(long atMillis, long second, long minute) {
        if (lastSeenMillis == NONE) {
            return Feature.SECONDS_CAP;
        }
        long millis;
        if (lastSeenMillis <= atMillis) {
            millis = atMillis - lastSeenMillis;
        } else {
            millis = -1;
            for (long s = Math.min(second, secHead); secHead != NONE && s > secHead - SLOTS; s--) {
                if (secCount[slot(s)] != 0) {
                    millis = atMillis - s * 1000L;
                    break;
                }
            }
            for (long m = Math.min(minute, minHead); millis < 0 && minHead != NONE && m > minHead - SLOTS; m--) {
                if (minCount[slot(m)] != 0) {
                    millis = atMillis - m * 60_000L;
                }
            }
            if (millis < 0) {
                return Feature.SECONDS_CAP;
            }
        }
        return Math.min(millis / 1000f, Feature.SECONDS_CAP);
    }

    private void addSecond(long second, int count, float sum) {
        if (secHead == NONE) {
            secHead = second;
        } else if (second > secHead) {
            clear(secCount, secSum, secHead, second);
            secHead = second;
        } else if (second <= secHead - SLOTS) {
            return;
        }
        secCount[slot(second)] += count;
        secSum[slot(second)] += sum;
    }

    private void addMinute(long minute, int count, float sum) {
        if (minHead == NONE) {
            minHead = minute;
        } else if (minute > minHead) {
            clear(minCount, minSum, minHead, minute);
            minHead = minute;
        } else if (minute <= minHead - SLOTS) {
            return;
        }
        minCount[slot(minute)] += count;
        minSum[slot(minute)] += sum;
    }

    /** Clears the buckets of {@code (head, newHead]}: they held values a full ring older. */
    private static void clear(int[] counts, float[] sums, long head, long newHead) {
        if (newHead - head >= SLOTS) {
            Arrays.fill(counts, 0);
            Arrays.fill(sums, 0f);
            return;
        }
        for (long b = head + 1; b <= newHead; b++) {
            counts[slot(b)] = 0;
            sums[slot(b)] = 0f;
        }
    }

    private void seen(long hash, long minute) {
        for (int i = 0; i < distinctSize; i++) {
            if (distinctHash[i] == hash) {
                if (minute > distinctMinute[i]) {
                    distinctMinute[i] = minute;
                }
                return;
            }
        }
        if (distinctSize == DISTINCT_CAP) {
            int oldest = 0;
            for (int i = 1; i < distinctSize; i++) {
                if (distinctMinute[i] < distinctMinute[oldest]) {
                    oldest = i;
                }
            }
            if (distinctMinute[oldest] >= minute) {
                return;
            }
            distinctHash[oldest] = hash;
            distinctMinute[oldest] = minute;
            return;
        }
        if (distinctSize == distinctHash.length) {
            int capacity = Math.min(DISTINCT_CAP, distinctSize * 2);
            distinctHash = Arrays.copyOf(distinctHash, capacity);
            distinctMinute = Arrays.copyOf(distinctMinute, capacity);
        }
        distinctHash[distinctSize] = hash;
        distinctMinute[distinctSize] = minute;
        distinctSize++;
    }

    /** Drops counterparties not seen within the hour ending at the head: no lookup can count them. */
    void pruneDistinct() {
        if (minHead == NONE) {
            distinctSize = 0;
            return;
        }
        int kept = 0;
        for (int i = 0; i < distinctSize; i++) {
            if (distinctMinute[i] > minHead - SLOTS) {
                distinctHash[kept] = distinctHash[i];
                distinctMinute[kept] = distinctMinute[i];
                kept++;
            }
        }
        distinctSize = kept;
    }

    static int slot(long bucket) {
        return (int) Math.floorMod(bucket, (long) SLOTS);
    }

    /** FNV-1a over the UTF-16 chars, then a finalising mix: stable across JVMs (it is persisted). */
    static long hash(CharSequence value) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < value.length(); i++) {
            h ^= value.charAt(i);
            h *= 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        return h;
    }
}
