package dev.serval.model;

import java.util.Optional;

/**
 * One row of the repository index.
 *
 * @param name    the model
 * @param version the version, or empty when the problem concerns the whole model
 * @param state   {@code READY} or {@code UNAVAILABLE} (Triton's names)
 * @param reason  why it is unavailable; empty when ready
 */
public record ModelStatus(String name, String version, String state, Optional<String> reason) {
    public static final String READY = "READY";
    public static final String UNAVAILABLE = "UNAVAILABLE";

    public boolean isReady() {
        return READY.equals(state);
    }
}
