package dev.serval.transport.http;

import dev.serval.transport.BearerTokens;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import java.util.Optional;

/**
 * Optional bearer tokens: one for inference and metadata, a separate one for administration. The
 * administration token also grants inference. Health endpoints stay open so probes need no secret.
 * Tokens are compared in constant time.
 */
public final class AccessControl {
    private static final String NEEDS = "this endpoint needs 'Authorization: Bearer <token>'";

    private final BearerTokens tokens;

    public AccessControl(Optional<String> inferenceToken, Optional<String> adminToken) {
        this.tokens = new BearerTokens(inferenceToken, adminToken);
    }

    /** No tokens: everything is open. */
    public static AccessControl open() {
        return new AccessControl(Optional.empty(), Optional.empty());
    }

    public boolean isOpen() {
        return tokens.isOpen();
    }

    /** Allows the request if inference is open or it carries the inference or admin token. */
    void requireInference(ServerRequest request) {
        tokens.requireInference(authorization(request), NEEDS);
    }

    /** Allows the request if it carries the admin token (or no admin token is configured). */
    void requireAdmin(ServerRequest request) {
        tokens.requireAdmin(authorization(request), NEEDS);
    }

    private static String authorization(ServerRequest request) {
        return request.headers().first(HeaderNames.AUTHORIZATION).orElse(null);
    }
}
