package dev.serval.model;

import dev.serval.features.FeatureStore;
import dev.serval.schedule.Ticker;

/**
 * Server-wide settings that shape how models are loaded and scheduled.
 *
 * @param cpuBudget     cores the models may use; per-model defaults divide it among instances
 * @param allowSpinning whether ONNX Runtime pool threads spin while idle
 * @param ticker        the time source for queue waits, batching delays and deadlines
 * @param featureStore  the store that model pipelines look features up in, or null when the server
 *                      has none (a model whose pipeline looks up features then fails to load); the
 *                      registry uses it but does not own it: whoever built it closes it, after the
 *                      registry
 */
public record RegistryOptions(int cpuBudget, boolean allowSpinning, Ticker ticker, FeatureStore featureStore) {

    public RegistryOptions {
        if (cpuBudget < 1) {
            throw new IllegalArgumentException("cpuBudget must be at least 1, was " + cpuBudget);
        }
    }

    /** Options without a feature store. */
    public RegistryOptions(int cpuBudget, boolean allowSpinning, Ticker ticker) {
        this(cpuBudget, allowSpinning, ticker, null);
    }

    public RegistryOptions(int cpuBudget, boolean allowSpinning) {
        this(cpuBudget, allowSpinning, Ticker.SYSTEM);
    }

    /** These options with pipelines looking features up in {@code store} (null for none). */
    public RegistryOptions withFeatureStore(FeatureStore store) {
        return new RegistryOptions(cpuBudget, allowSpinning, ticker, store);
    }

    /** All available processors, spinning off, system time, no feature store. */
    public static RegistryOptions defaults() {
        return new RegistryOptions(Runtime.getRuntime().availableProcessors(), false);
    }
}
