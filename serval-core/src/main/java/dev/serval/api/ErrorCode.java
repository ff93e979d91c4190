package dev.serval.api;

/**
 * What kind of failure a {@link ServalException} reports. Each transport maps these to its own
 * status codes in exactly one place.
 */
public enum ErrorCode {
    /** The client sent something malformed or inconsistent with the model. HTTP 400. */
    INVALID_ARGUMENT,
    /** No such model, version or route. HTTP 404. */
    NOT_FOUND,
    /** The model exists but cannot serve now (failed to load, not ready, shutting down). HTTP 503. */
    UNAVAILABLE,
    /** The request was refused to protect the server (queue full). HTTP 429. */
    RESOURCE_EXHAUSTED,
    /** The request's deadline passed before it could be answered. HTTP 504. */
    DEADLINE_EXCEEDED,
    /** The request body is larger than the configured limit. HTTP 413. */
    PAYLOAD_TOO_LARGE,
    /** A credential is required and was missing or wrong. HTTP 401. */
    UNAUTHENTICATED,
    /** The credential is valid but does not allow this operation. HTTP 403. */
    PERMISSION_DENIED,
    /** A fault inside Serval or the runtime, never the client's mistake. HTTP 500. */
    INTERNAL,
    /** The body is in a format the endpoint does not read (its Content-Type). HTTP 415. */
    UNSUPPORTED_MEDIA_TYPE,
    /** The operation exists but this server was started without what it needs (e.g. a feature store). HTTP 501. */
    UNIMPLEMENTED
}
