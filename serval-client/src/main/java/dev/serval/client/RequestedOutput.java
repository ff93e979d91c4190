package dev.serval.client;

import java.util.Objects;

/**
 * An output the request asks for.
 *
 * @param name           the output's name
 * @param classification with a positive value, Triton's classification extension: the top
 *                       {@code classification} classes per row as BYTES {@code "score:index[:label]"};
 *                       0 for the tensor itself
 */
public record RequestedOutput(String name, int classification) {
    public RequestedOutput {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("a requested output's name must not be empty");
        }
        if (classification < 0) {
            throw new IllegalArgumentException("output '" + name + "' classification must be 0 or more, was " + classification);
        }
    }

    /** The output as a tensor. */
    public static RequestedOutput of(String name) {
        return new RequestedOutput(name, 0);
    }
}
