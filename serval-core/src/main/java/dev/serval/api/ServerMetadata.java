package dev.serval.api;

import java.util.List;

/**
 * The server as the protocol describes it.
 *
 * @param name       the server's name
 * @param version    its version
 * @param extensions the protocol extensions it supports, by their Triton names
 */
public record ServerMetadata(String name, String version, List<String> extensions) {
    public ServerMetadata {
        extensions = List.copyOf(extensions);
    }
}
