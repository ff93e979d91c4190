package dev.serval.client;

import java.util.List;

/**
 * What the server says about itself.
 *
 * @param name       the server's name
 * @param version    its version
 * @param extensions the protocol extensions it implements, by Triton's names (e.g.
 *                   {@code binary_tensor_data}, {@code classification})
 */
public record ServerMetadata(String name, String version, List<String> extensions) {
    public ServerMetadata {
        extensions = List.copyOf(extensions);
    }
}
