package dev.serval.features;

import com.github.benmanes.caffeine.cache.Ticker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link TieredFeatureStore} is composed: which tiers, their sizes, timeouts and breaker.
 * Immutable and validated when built; the defaults are the {@link Builder}'s field initialisers.
 *
 * <p>Valid compositions: L2 alone or with L1 (the embedded default); L1/L2 with a remote tier
 * (write-behind); a remote tier alone or with L1 (no local disk: recording writes through to the
 * remote tier synchronously). A store needs L2 or a remote tier: L1 alone would lose acknowledged
 * events on restart.
 *
 * @param l1Enabled               keep decoded states in process memory (Caffeine) with a Bloom filter
 * @param l1MaxEntities           the most entity states L1 holds (about 1.4 KB of heap each, measured with
 *                                a few events; up to about 2.5 KB with 64 distinct counterparties)
 * @param bloomExpectedEntities   entities the Bloom filter is sized for; past it, its false-positive
 *                                rate rises (a false positive costs a lower-tier read, never a wrong row)
 * @param bloomFalsePositiveRate  the Bloom filter's false-positive rate at its expected size
 * @param l2Path                  the RocksDB directory (created if missing), or null for no L2
 * @param l2Sync                  fsync RocksDB's write-ahead log on every {@code record}: off, an
 *                                acknowledged event survives a process crash but not a power loss;
 *                                on, it survives both at the cost of a disk flush per call
 * @param remote                  the remote tier (L3), or null; the store takes ownership and closes it
 * @param bloomSkipsRemote        a Bloom negative also skips the remote tier. Valid only when the remote
 *                                tier holds no entity this node has not written itself (one node per
 *                                remote store, or entities sharded by node); needs L1 and L2, since only
 *                                L2 remembers across restarts every entity this node wrote
 * @param remoteReadTimeout       the longest a lookup (or a record's read of an unknown entity) waits for L3
 * @param remoteWriteTimeout      the longest a write-behind batch (or write-through) waits for L3
 * @param remoteThreads           threads that run remote calls (the store enforces the timeouts itself, so
 *                                a hung call holds one of these, never a caller); its queue holds 64 per thread
 * @param breakerFailures         consecutive remote failures that open the breaker
 * @param breakerOpenFor          how long the breaker stays open before a half-open probe
 * @param writeBehindBatch        entities per write-behind {@code putAll}
 * @param drainInterval           how often the write-behind drainer looks at the outbox when not woken
 *                                by a record (it also paces retries while the breaker is open)
 * @param ticker                  the time source of the breaker (nanoseconds); tests inject a fake one
 */
public record FeatureStoreConfig(boolean l1Enabled, long l1MaxEntities, long bloomExpectedEntities,
                                 double bloomFalsePositiveRate, Path l2Path, boolean l2Sync,
                                 RemoteTier remote, boolean bloomSkipsRemote, Duration remoteReadTimeout,
                                 Duration remoteWriteTimeout, int remoteThreads, int breakerFailures,
                                 Duration breakerOpenFor, int writeBehindBatch, Duration drainInterval,
                                 Ticker ticker) {

    public FeatureStoreConfig {
        Objects.requireNonNull(remoteReadTimeout, "remoteReadTimeout");
        Objects.requireNonNull(remoteWriteTimeout, "remoteWriteTimeout");
        Objects.requireNonNull(breakerOpenFor, "breakerOpenFor");
        Objects.requireNonNull(drainInterval, "drainInterval");
        Objects.requireNonNull(ticker, "ticker");
        if (l2Path == null && remote == null) {
            throw new IllegalArgumentException("a feature store needs L2 (l2Path) or a remote tier: "
                    + "L1 alone would lose acknowledged events on restart");
        }
        if (bloomSkipsRemote && (!l1Enabled || l2Path == null || remote == null)) {
            throw new IllegalArgumentException("bloomSkipsRemote needs L1, L2 and a remote tier");
        }
        positive("l1MaxEntities", l1MaxEntities);
        positive("bloomExpectedEntities", bloomExpectedEntities);
        if (!(bloomFalsePositiveRate > 0 && bloomFalsePositiveRate < 1)) {
            throw new IllegalArgumentException("bloomFalsePositiveRate is " + bloomFalsePositiveRate
                    + ", expected between 0 and 1 exclusive");
        }
        positive("remoteReadTimeout", remoteReadTimeout);
        positive("remoteWriteTimeout", remoteWriteTimeout);
        positive("remoteThreads", remoteThreads);
        positive("breakerFailures", breakerFailures);
        positive("breakerOpenFor", breakerOpenFor);
        positive("writeBehindBatch", writeBehindBatch);
        positive("drainInterval", drainInterval);
    }

    public static Builder builder() {
        return new Builder();
    }

    private static void positive(String name, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " is " + value + ", expected > 0");
        }
    }

    private static void positive(String name, Duration value) {
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(name + " is " + value + ", expected > 0");
        }
    }

    /** Builds a {@link FeatureStoreConfig}; not thread-safe. The field initialisers are the defaults. */
    public static final class Builder {
        private boolean l1Enabled = true;
        private long l1MaxEntities = 50_000;
        private long bloomExpectedEntities = 1_000_000;
        private double bloomFalsePositiveRate = 0.01;
        private Path l2Path;
        private boolean l2Sync;
        private RemoteTier remote;
        private boolean bloomSkipsRemote;
        private Duration remoteReadTimeout = Duration.ofMillis(20);
        private Duration remoteWriteTimeout = Duration.ofSeconds(2);
        private int remoteThreads = 4;
        private int breakerFailures = 5;
        private Duration breakerOpenFor = Duration.ofSeconds(5);
        private int writeBehindBatch = 500;
        private Duration drainInterval = Duration.ofMillis(100);
        private Ticker ticker = Ticker.systemTicker();

        private Builder() {
        }

        public Builder l1(boolean enabled) {
            this.l1Enabled = enabled;
            return this;
        }

        public Builder l1MaxEntities(long entities) {
            this.l1MaxEntities = entities;
            return this;
        }

        public Builder bloom(long expectedEntities, double falsePositiveRate) {
            this.bloomExpectedEntities = expectedEntities;
            this.bloomFalsePositiveRate = falsePositiveRate;
            return this;
        }

        /** The RocksDB directory, or null for no L2. */
        public Builder l2Path(Path path) {
            this.l2Path = path;
            return this;
        }

        public Builder l2Sync(boolean sync) {
            this.l2Sync = sync;
            return this;
        }

        /** The remote tier, or null for none; the store will close it. */
        public Builder remote(RemoteTier tier) {
            this.remote = tier;
            return this;
        }

        public Builder bloomSkipsRemote(boolean skips) {
            this.bloomSkipsRemote = skips;
            return this;
        }

        public Builder remoteTimeouts(Duration read, Duration write) {
            this.remoteReadTimeout = read;
            this.remoteWriteTimeout = write;
            return this;
        }

        public Builder remoteThreads(int threads) {
            this.remoteThreads = threads;
            return this;
        }

        public Builder breaker(int failures, Duration openFor) {
            this.breakerFailures = failures;
            this.breakerOpenFor = openFor;
            return this;
        }

        public Builder writeBehind(int batch, Duration drainInterval) {
            this.writeBehindBatch = batch;
            this.drainInterval = drainInterval;
            return this;
        }

        public Builder ticker(Ticker ticker) {
            this.ticker = ticker;
            return this;
        }

        /** @throws IllegalArgumentException naming the setting that is out of range */
        public FeatureStoreConfig build() {
            return new FeatureStoreConfig(l1Enabled, l1MaxEntities, bloomExpectedEntities, bloomFalsePositiveRate,
                    l2Path, l2Sync, remote, bloomSkipsRemote, remoteReadTimeout, remoteWriteTimeout, remoteThreads,
                    breakerFailures, breakerOpenFor, writeBehindBatch, drainInterval, ticker);
        }
    }
}
