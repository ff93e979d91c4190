/**
 * Serval's feature store: per-entity rolling aggregates of recorded {@link dev.serval.features.Event}s,
 * read as {@link dev.serval.features.Feature} rows by entity key.
 *
 * <p>Use: build a {@link dev.serval.features.FeatureStoreConfig}, open a
 * {@link dev.serval.features.TieredFeatureStore}, and call it through
 * {@link dev.serval.features.FeatureStore}; {@code stats()} gives counters for metrics. Remote tiers
 * (Redis, PostgreSQL) implement {@link dev.serval.features.RemoteTier} in
 * {@code dev.serval.features.remote}. Everything else in this package is package-private:
 * the aggregates and their encoding, the tiers, the breaker and the write-behind drainer.
 */
package dev.serval.features;
