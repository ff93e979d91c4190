package dev.serval.transport;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * The server's optional bearer tokens, the same for every transport: one for inference and
 * metadata, a separate one for administration, which also grants inference. Each transport reads
 * the credential from its own place (an HTTP header, gRPC metadata) and asks here. Tokens are
 * compared in constant time. Immutable and thread-safe.
 */
public final class BearerTokens {
    private final byte[] inferenceToken;
    private final byte[] adminToken;

    public BearerTokens(Optional<String> inferenceToken, Optional<String> adminToken) {
        this.inferenceToken = inferenceToken.map(t -> t.getBytes(StandardCharsets.UTF_8)).orElse(null);
        this.adminToken = adminToken.map(t -> t.getBytes(StandardCharsets.UTF_8)).orElse(null);
    }

    /** True when no token is configured: everything is open. */
    public boolean isOpen() {
        return inferenceToken == null && adminToken == null;
    }

    /**
     * Allows inference when it is open or the credential carries the inference or admin token.
     *
     * @param authorization the credential as sent ({@code Bearer <token>}), or null
     * @param needs         how the transport names the credential, for the message, e.g.
     *                      {@code this endpoint needs 'Authorization: Bearer <token>'}
     * @throws ServalException UNAUTHENTICATED otherwise
     */
    public void requireInference(String authorization, String needs) {
        if (inferenceToken == null) {
            return;
        }
        byte[] presented = bearer(authorization);
        if (!matches(presented, inferenceToken) && !matches(presented, adminToken)) {
            throw new ServalException(ErrorCode.UNAUTHENTICATED, needs + " with the inference or admin token");
        }
    }

    /**
     * Allows administration when the credential carries the admin token, or, with no admin token
     * configured, on the terms of {@link #requireInference}.
     *
     * @throws ServalException UNAUTHENTICATED without a credential, PERMISSION_DENIED with another one
     */
    public void requireAdmin(String authorization, String needs) {
        if (adminToken == null) {
            requireInference(authorization, needs);
            return;
        }
        byte[] presented = bearer(authorization);
        if (presented == null) {
            throw new ServalException(ErrorCode.UNAUTHENTICATED, needs + " with the admin token");
        }
        if (!matches(presented, adminToken)) {
            throw new ServalException(ErrorCode.PERMISSION_DENIED, "this endpoint needs the admin token");
        }
    }

    private static byte[] bearer(String header) {
        if (header == null) {
            return null;
        }
        String value = header.strip();
        if (value.length() < 7 || !value.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return value.substring(7).strip().getBytes(StandardCharsets.UTF_8);
    }

    private static boolean matches(byte[] presented, byte[] expected) {
        return presented != null && expected != null && MessageDigest.isEqual(presented, expected);
    }
}
