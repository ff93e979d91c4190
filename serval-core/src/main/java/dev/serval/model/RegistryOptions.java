package dev.serval.model;

import dev.serval.schedule.Ticker;

/**
 * Server-wide settings that shape how models are loaded and scheduled.
 *
 * @param cpuBudget     cores the models may use; per-model defaults divide it among instances
 * @param allowSpinning whether ONNX Runtime pool threads spin while idle
 * @param ticker        the time source for queue waits, batching delays and deadlines
 */
public record RegistryOptions(int cpuBudget, boolean allowSpinning, Ticker ticker) {

    public RegistryOptions {
        if (cpuBudget < 1) {
            throw new IllegalArgumentException("cpuBudget must be at least 1, was " + cpuBudget);
        }
    }

    public RegistryOptions(int cpuBudget, boolean allowSpinning) {
        this(cpuBudget, allowSpinning, Ticker.SYSTEM);
    }

    /** All available processors, spinning off, system time. */
    public static RegistryOptions defaults() {
        return new RegistryOptions(Runtime.getRuntime().availableProcessors(), false);
    }
}
