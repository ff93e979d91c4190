package dev.serval.client;

import java.util.Objects;

/**
 * One row of a server's model repository index (Triton's model repository extension): a version of
 * a model, or the whole model, with its state and why it is in it. Rows read the same whatever the
 * wire: a field the server left out is the empty string, as on the gRPC wire.
 *
 * @param name    the model
 * @param version the version, or empty when the row concerns the whole model (for example one that
 *                is not loaded)
 * @param state   as the server spells it: {@code READY}, {@code UNAVAILABLE} or {@code LOADING}
 *                (Triton also reports {@code UNLOADING})
 * @param reason  why the model or version is in that state, or empty when the server gave no reason
 */
public record ModelIndexEntry(String name, String version, String state, String reason) {
    public static final String READY = "READY";

    /** @throws NullPointerException for a null field; absent fields are empty strings */
    public ModelIndexEntry {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(reason, "reason");
    }

    /** Whether this version can answer requests. */
    public boolean isReady() {
        return READY.equals(state);
    }
}
