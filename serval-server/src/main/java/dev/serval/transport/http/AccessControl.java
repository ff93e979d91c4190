package dev.serval.transport.http;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * Optional bearer tokens: one for inference and metadata, a separate one for administration. The
 * administration token also grants inference. Health endpoints stay open so probes need no secret.
 * Tokens are compared in constant time.
 */
public final class AccessControl {
    private final byte[] inferenceToken;
    private final byte[] adminToken;

    public AccessControl(Optional<String> inferenceToken, Optional<String> adminToken) {
        this.inferenceToken = inferenceToken.map(t -> t.getBytes(StandardCharsets.UTF_8)).orElse(null);
        this.adminToken = adminToken.map(t -> t.getBytes(StandardCharsets.UTF_8)).orElse(null);
    }

    /** No tokens: everything is open. */
    public static AccessControl open() {
        return new AccessControl(Optional.empty(), Optional.empty());
    }

    public boolean isOpen() {
        return inferenceToken == null && adminToken == null;
    }

    /** Allows the request if inference is open or it carries the inference or admin token. */
    void requireInference(ServerRequest request) {
        if (inferenceToken == null) {
            return;
        }
        byte[] presented = bearer(request);
        if (!matches(presented, inferenceToken) && !matches(presented, adminToken)) {
            throw new ServalException(ErrorCode.UNAUTHENTICATED,
                    "this endpoint needs 'Authorization: Bearer <token>' with the inference or admin token");
        }
    }

    /** Allows the request if it carries the admin token (or no admin token is configured). */
    void requireAdmin(ServerRequest request) {
        if (adminToken == null) {
            requireInference(request);
            return;
        }
        byte[] presented = bearer(request);
        if (presented == null) {
            throw new ServalException(ErrorCode.UNAUTHENTICATED,
                    "this endpoint needs 'Authorization: Bearer <token>' with the admin token");
        }
        if (!matches(presented, adminToken)) {
            throw new ServalException(ErrorCode.PERMISSION_DENIED, "this endpoint needs the admin token");
        }
    }

    private static byte[] bearer(ServerRequest request) {
        Optional<String> header = request.headers().first(HeaderNames.AUTHORIZATION);
        if (header.isEmpty()) {
            return null;
        }
        String value = header.get().strip();
        if (value.length() < 7 || !value.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return value.substring(7).strip().getBytes(StandardCharsets.UTF_8);
    }

    private static boolean matches(byte[] presented, byte[] expected) {
        return presented != null && expected != null && MessageDigest.isEqual(presented, expected);
    }
}
