package dev.serval.client;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.serval.client.ServalClientException.Status;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * The one place where failures become {@link ServalClientException}s: HTTP statuses with their
 * {@code {"error": "..."}} bodies, gRPC statuses, I/O failures, and answers that do not parse.
 */
final class Errors {
    private static final JsonFactory JSON = new JsonFactory();
    private static final Metadata.Key<String> RETRY_AFTER = Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> RETRY_PUSHBACK_MS =
            Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);
    /** How much of a body that is not the protocol's error JSON goes into the message. */
    private static final int MAX_QUOTED = 200;

    private Errors() {
    }

    static Status status(int httpStatus) {
        return switch (httpStatus) {
            case 400 -> Status.INVALID_ARGUMENT;
            case 401 -> Status.UNAUTHENTICATED;
            case 403 -> Status.PERMISSION_DENIED;
            case 404 -> Status.NOT_FOUND;
            case 405, 501 -> Status.UNIMPLEMENTED;
            case 408, 504 -> Status.DEADLINE_EXCEEDED;
            case 413 -> Status.PAYLOAD_TOO_LARGE;
            case 429 -> Status.RESOURCE_EXHAUSTED;
            case 499 -> Status.CANCELLED;
            case 500 -> Status.INTERNAL;
            case 502, 503 -> Status.UNAVAILABLE;
            default -> Status.UNKNOWN;
        };
    }

    static Status status(io.grpc.Status.Code code) {
        return switch (code) {
            case INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION -> Status.INVALID_ARGUMENT;
            case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
            case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
            case NOT_FOUND -> Status.NOT_FOUND;
            case UNIMPLEMENTED -> Status.UNIMPLEMENTED;
            case DEADLINE_EXCEEDED -> Status.DEADLINE_EXCEEDED;
            case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
            case CANCELLED -> Status.CANCELLED;
            case INTERNAL, DATA_LOSS -> Status.INTERNAL;
            case UNAVAILABLE -> Status.UNAVAILABLE;
            default -> Status.UNKNOWN;
        };
    }

    /** An HTTP answer other than 2xx: its status, the message of its {@code {"error"}} body, Retry-After. */
    static ServalClientException fromHttp(int httpStatus, HttpHeaders headers, byte[] body) {
        String message = errorMessage(body).orElseGet(() -> "HTTP " + httpStatus + quote(body));
        Duration retryAfter = headers.firstValue("Retry-After").flatMap(Errors::retryAfter).orElse(null);
        return new ServalClientException(status(httpStatus), message, retryAfter, null);
    }

    static ServalClientException fromGrpc(StatusRuntimeException e) {
        io.grpc.Status grpc = e.getStatus();
        String message = grpc.getDescription() != null ? grpc.getDescription() : "gRPC " + grpc.getCode();
        Duration retryAfter = null;
        Metadata trailers = e.getTrailers();
        if (trailers != null) {
            String seconds = trailers.get(RETRY_AFTER);
            String millis = trailers.get(RETRY_PUSHBACK_MS);
            if (seconds != null) {
                retryAfter = retryAfter(seconds).orElse(null);
            } else if (millis != null) {
                try {
                    retryAfter = Duration.ofMillis(Math.max(0, Long.parseLong(millis.trim())));
                } catch (NumberFormatException ignored) {
                    // an unreadable hint is no hint
                }
            }
        }
        return new ServalClientException(status(grpc.getCode()), message, retryAfter, e);
    }

    /** A failure to exchange bytes with the server at all. */
    static ServalClientException fromIo(IOException e, String what) {
        if (e instanceof HttpConnectTimeoutException) {
            return new ServalClientException(Status.UNAVAILABLE, what + ": timed out connecting to the server", null, e);
        }
        if (e instanceof HttpTimeoutException) {
            return new ServalClientException(Status.DEADLINE_EXCEEDED, what + ": no answer within the call's timeout", null, e);
        }
        if (e instanceof ConnectException || e instanceof ClosedChannelException) {
            return new ServalClientException(Status.UNAVAILABLE, what + ": cannot reach the server: " + e, null, e);
        }
        if (e instanceof InterruptedIOException) {
            return new ServalClientException(Status.CANCELLED, what + ": interrupted", null, e);
        }
        return new ServalClientException(Status.UNAVAILABLE, what + ": " + e, null, e);
    }

    /** The calling thread was interrupted while waiting; the interrupt is restored. */
    static ServalClientException interrupted(InterruptedException e, String what) {
        Thread.currentThread().interrupt();
        return new ServalClientException(Status.CANCELLED, what + ": interrupted", null, e);
    }

    /** The server answered, but not with what the protocol says it must. */
    static ServalClientException invalidResponse(String message, Throwable cause) {
        return new ServalClientException(Status.INVALID_RESPONSE, "malformed answer from the server: " + message, null, cause);
    }

    private static Optional<String> errorMessage(byte[] body) {
        if (body == null || body.length == 0) {
            return Optional.empty();
        }
        try (JsonParser json = JSON.createParser(body)) {
            if (json.nextToken() != JsonToken.START_OBJECT) {
                return Optional.empty();
            }
            while (json.nextToken() == JsonToken.FIELD_NAME) {
                String field = json.currentName();
                JsonToken value = json.nextToken();
                if ("error".equals(field) && value == JsonToken.VALUE_STRING) {
                    return Optional.of(json.getText());
                }
                json.skipChildren();
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String quote(byte[] body) {
        if (body == null || body.length == 0) {
            return "";
        }
        String text = new String(body, 0, Math.min(body.length, MAX_QUOTED), StandardCharsets.UTF_8).strip();
        return ": " + text + (body.length > MAX_QUOTED ? "..." : "");
    }

    /** Retry-After as delay-seconds or an HTTP date. */
    static Optional<Duration> retryAfter(String value) {
        String text = value.trim();
        try {
            return Optional.of(Duration.ofSeconds(Math.max(0, Long.parseLong(text))));
        } catch (NumberFormatException notSeconds) {
            try {
                Duration until = Duration.between(ZonedDateTime.now(), ZonedDateTime.parse(text, DateTimeFormatter.RFC_1123_DATE_TIME));
                return Optional.of(until.isNegative() ? Duration.ZERO : until);
            } catch (DateTimeParseException notDate) {
                return Optional.empty();
            }
        }
    }
}
