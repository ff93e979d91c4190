package dev.serval.model;

/**
 * Server-wide settings that shape how models are loaded.
 *
 * @param cpuBudget     cores the models may use; per-model defaults divide it among instances
 * @param allowSpinning whether ONNX Runtime pool threads spin while idle
 */
public record RegistryOptions(int cpuBudget, boolean allowSpinning) {

    public RegistryOptions {
        if (cpuBudget < 1) {
            throw new IllegalArgumentException("cpuBudget must be at least 1, was " + cpuBudget);
        }
    }

    /** All available processors, spinning off. */
    public static RegistryOptions defaults() {
        return new RegistryOptions(Runtime.getRuntime().availableProcessors(), false);
    }
}
