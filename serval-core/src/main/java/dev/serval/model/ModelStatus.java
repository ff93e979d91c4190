package dev.serval.model;

import java.util.Optional;

/**
 * One row of the repository index.
 *
 * @param name    the model
 * @param version the version, or empty when the row concerns the whole model
 * @param state   {@code READY}, {@code UNAVAILABLE} or {@code LOADING} (Triton's names)
 * @param reason  why it is unavailable; for a ready version, why a newer load of it failed while
 *                it serves on; empty otherwise
 */
public record ModelStatus(String name, String version, String state, Optional<String> reason) {
    public static final String READY = "READY";
    public static final String UNAVAILABLE = "UNAVAILABLE";
    public static final String LOADING = "LOADING";

    public boolean isReady() {
        return READY.equals(state);
    }
}
