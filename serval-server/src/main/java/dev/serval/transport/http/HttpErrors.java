package dev.serval.transport.http;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become HTTP responses: a status from the {@link ErrorCode} and a
 * body {@code {"error": "..."}}.
 */
final class HttpErrors {
    private static final Logger log = LoggerFactory.getLogger(HttpErrors.class);

    private HttpErrors() {
    }

    static int status(ErrorCode code) {
        return switch (code) {
            case INVALID_ARGUMENT -> 400;
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case NOT_FOUND -> 404;
            case PAYLOAD_TOO_LARGE -> 413;
            case UNSUPPORTED_MEDIA_TYPE -> 415;
            case RESOURCE_EXHAUSTED -> 429;
            case INTERNAL -> 500;
            case UNIMPLEMENTED -> 501;
            case UNAVAILABLE -> 503;
            case DEADLINE_EXCEEDED -> 504;
        };
    }

    static void send(ServerResponse response, ServalException error) {
        int status = status(error.code());
        if (status >= 500 && error.code() == ErrorCode.INTERNAL) {
            log.error("internal error: {}", error.getMessage(), error.getCause());
        }
        if (response.isSent()) {
            return;
        }
        response.status(status);
        response.header(HeaderNames.CONTENT_TYPE, "application/json");
        switch (error.code()) {
            case RESOURCE_EXHAUSTED, UNAVAILABLE -> response.header(HeaderNames.RETRY_AFTER, "1");
            case UNAUTHENTICATED -> response.header(HeaderNames.WWW_AUTHENTICATE, "Bearer");
            default -> { }
        }
        response.send(JsonResponseEncoder.error(error));
    }

    /** Anything that is not a {@link ServalException} is a fault of ours: 500, logged with its trace. */
    static void sendUnexpected(ServerResponse response, Throwable error) {
        log.error("unexpected failure while handling a request", error);
        if (response.isSent()) {
            return;
        }
        response.status(500);
        response.header(HeaderNames.CONTENT_TYPE, "application/json");
        response.send(JsonResponseEncoder.error("internal error: " + error));
    }
}
