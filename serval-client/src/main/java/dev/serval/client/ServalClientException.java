package dev.serval.client;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Every failure of a {@link ServalClient} call: the server refused or failed the request, the call
 * timed out or could not reach the server, or the server's answer could not be understood.
 *
 * <p>{@link #getMessage()} is the server's own message when it sent one (it names the field, the
 * value and what was expected); {@link #status()} says what kind of failure it was, the same for
 * every {@link Protocol}.
 */
public final class ServalClientException extends RuntimeException {

    /** What kind of failure, independent of the wire (HTTP statuses and gRPC codes map onto it). */
    public enum Status {
        /** The request was malformed or did not match the model (HTTP 400, gRPC INVALID_ARGUMENT). */
        INVALID_ARGUMENT,
        /** No or an unknown bearer token (HTTP 401). */
        UNAUTHENTICATED,
        /** The token does not grant this operation (HTTP 403). */
        PERMISSION_DENIED,
        /** Unknown model, version or path (HTTP 404). */
        NOT_FOUND,
        /** The request body is larger than the server accepts (HTTP 413). */
        PAYLOAD_TOO_LARGE,
        /** The server is overloaded: retry later, after {@link #retryAfter()} if given (HTTP 429). */
        RESOURCE_EXHAUSTED,
        /** The server or the model cannot serve now, or the server could not be reached (HTTP 503). */
        UNAVAILABLE,
        /** The call's timeout or the request's schedule timeout passed first (HTTP 504). */
        DEADLINE_EXCEEDED,
        /** The call was cancelled or its thread interrupted. */
        CANCELLED,
        /** The server does not implement this operation (HTTP 405/501). */
        UNIMPLEMENTED,
        /** The server failed (HTTP 500). */
        INTERNAL,
        /** The server answered, but not with a well-formed Open Inference Protocol message. */
        INVALID_RESPONSE,
        /** Any other failure status. */
        UNKNOWN
    }

    private final Status status;
    private final Duration retryAfter;

    /**
     * @param status     the kind of failure
     * @param message    the server's message, or a description of what went wrong
     * @param retryAfter how long the server asked clients to wait, or null
     * @param cause      the underlying exception, or null
     */
    public ServalClientException(Status status, String message, Duration retryAfter, Throwable cause) {
        super(message, cause);
        this.status = Objects.requireNonNull(status, "status");
        this.retryAfter = retryAfter;
    }

    public ServalClientException(Status status, String message) {
        this(status, message, null, null);
    }

    public Status status() {
        return status;
    }

    /** How long the server asked the client to wait before retrying (HTTP Retry-After), if it said. */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }

    @Override
    public String toString() {
        return getClass().getName() + ": " + status + ": " + getMessage();
    }
}
