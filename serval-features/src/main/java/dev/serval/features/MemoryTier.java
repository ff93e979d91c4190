package dev.serval.features;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.common.hash.BloomFilter;
import com.google.common.hash.Funnels;

/**
 * L1: decoded entity states in a bounded Caffeine cache, and a Bloom filter of the entities this
 * store has seen.
 *
 * <p><b>Why the Bloom filter.</b> Scoring asks about many entities that have no history (new cards);
 * without it each one would cost an L2 read and, worse, a remote round trip. The filter's negative
 * is trusted only while it has no false negatives: every entity that exists in L2 must have been
 * {@linkplain #markSeen marked}. The store keeps that invariant by marking every key of L2 at start,
 * every entity it records and every state it promotes from below. The remote tier may hold entities
 * this node never wrote, so a negative skips it only when configured so
 * ({@link FeatureStoreConfig#bloomSkipsRemote()}).
 *
 * <p>Thread-safe (Caffeine and Guava's {@code BloomFilter#put} are); the states it holds are not, and
 * are read and changed only under their entity's lock.
 */
final class MemoryTier {
    private final Cache<String, EntityState> states;
    private final BloomFilter<CharSequence> seen;

    MemoryTier(long maxEntities, long expectedEntities, double falsePositiveRate) {
        this.states = Caffeine.newBuilder().maximumSize(maxEntities).build();
        this.seen = BloomFilter.create(Funnels.unencodedCharsFunnel(), expectedEntities,
                falsePositiveRate);
    }

    EntityState get(String entity) {
        return states.getIfPresent(entity);
    }

    void put(String entity, EntityState state) {
        states.put(entity, state);
        seen.put(entity);
    }

    void invalidate(String entity) {
        states.invalidate(entity);
    }

    void markSeen(String entity) {
        seen.put(entity);
    }

    /** False only for an entity never marked (no false negatives); true may be a false positive. */
    boolean mightHaveSeen(String entity) {
        return seen.mightContain(entity);
    }

    long size() {
        states.cleanUp();
        return states.estimatedSize();
    }

    void clear() {
        states.invalidateAll();
    }
}
