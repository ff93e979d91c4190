package dev.serval.transport.http;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.features.Event;
import dev.serval.transport.BodyArrays;
import dev.serval.transport.BodyBudget;
import dev.serval.transport.EventIngest;
import io.helidon.common.buffers.DataReader;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * {@code POST /v2/events}: records a batch of events in the server's feature store.
 *
 * <p>The body is a JSON array of events ({@code Content-Type: application/json}, also assumed when
 * the header is absent) or NDJSON, one event per line ({@code application/x-ndjson}); an event is
 * {@code {"card_id": "c1", "amount": 12.5, "merchant": "m7", "timestamp": 1732390000000}} (see
 * {@link EventDecoder} for the rules). The answer is 200 {@code {"recorded": N}} once all N events
 * are durable in the store; an empty batch records nothing and answers {@code {"recorded": 0}}.
 *
 * <p>All or nothing ({@link EventIngest}): one malformed event fails the whole batch with 400,
 * naming the event ({@code events[3]}, 0-based, or {@code line 4} of NDJSON), the field, the value
 * and what was expected, and no event of it is recorded. Other refusals, again recording nothing:
 * 401/403 without the inference token (the same tokens as inference); 413 for a body over
 * {@code --max-request-size}; 415 for another Content-Type; 429 when the server holds too many
 * request bytes; 501 when the server runs without a feature store; 503 when the store could not
 * record the batch, or the server is shutting down (retry).
 *
 * <p>Design note on 501 for a server without a store: the endpoint exists in this build, so 404
 * ("no such resource") would send the client looking for a typo in its URL; 501 says that this
 * server, as started, does not implement the operation, which is what gRPC says with UNIMPLEMENTED
 * and what a client must not retry.
 *
 * <p>Thread-safe.
 */
final class EventsApi implements HttpService {
    static final String PATH = "/v2/events";
    private static final String JSON = "application/json";
    private static final String NDJSON = "application/x-ndjson";

    private final EventIngest ingest;
    private final AccessControl access;
    private final BodyBudget bodies;
    private final BodyArrays arrays;

    EventsApi(EventIngest ingest, AccessControl access, BodyBudget bodies, BodyArrays arrays) {
        this.ingest = ingest;
        this.access = access;
        this.bodies = bodies;
        this.arrays = arrays;
    }

    @Override
    public void routing(HttpRules rules) {
        rules.post(PATH, this::record);
    }

    private void record(ServerRequest req, ServerResponse res) {
        access.requireInference(req);
        int recorded = ingest.record(() -> {
            boolean lines = isNdjson(req);
            return readBody(req, lines);
        });
        res.status(200);
        res.header(HeaderNames.CONTENT_TYPE, JSON);
        res.send(("{\"recorded\":" + recorded + "}").getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * True for NDJSON, false for a JSON array (also without a Content-Type).
     *
     * @throws ServalException UNSUPPORTED_MEDIA_TYPE for any other type
     */
    private static boolean isNdjson(ServerRequest req) {
        String header = req.headers().first(HeaderNames.CONTENT_TYPE).orElse(JSON);
        int parameters = header.indexOf(';');
        String type = (parameters < 0 ? header : header.substring(0, parameters)).strip().toLowerCase(Locale.ROOT);
        return switch (type) {
            case JSON -> false;
            case NDJSON -> true;
            default -> throw new ServalException(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type is "
                    + EventIngest.quote(header) + "; expected " + JSON + " (a JSON array of events) or " + NDJSON
                    + " (one event per line); no event of this batch was recorded");
        };
    }

    /**
     * Reads the body into a pooled array and decodes it, refusing it with 413 past the size limit
     * (without reading it) and waiting for room under the in-flight budget, as inference does.
     */
    private List<Event> readBody(ServerRequest req, boolean lines) {
        long max = bodies.maxRequestBytes();
        OptionalLong declared = req.headers().contentLength();
        if (declared.isPresent() && declared.getAsLong() > max) {
            throw tooLarge(declared.getAsLong() + " bytes");
        }
        byte[] bytes;
        int length;
        if (declared.isEmpty()) {
            UnsizedBodies.Body body = UnsizedBodies.read(req, bodies, max, this::tooLarge); // reserved as it is read
            bytes = body.bytes();
            length = body.length();
        } else {
            length = (int) declared.getAsLong();
            bodies.reserve(length);
            bytes = arrays.acquire(length);
            try (InputStream in = req.content().inputStream()) {
                int read = in.readNBytes(bytes, 0, length);
                if (read < length) {
                    throw ServalException.invalidArgument("the body ended after %d of its %d bytes", read, length);
                }
            } catch (IOException | RuntimeException e) {
                bodies.release(length);
                arrays.release(bytes);
                if (e instanceof DataReader.InsufficientDataAvailableException) {
                    throw ServalException.invalidArgument("the body ended before the %d bytes its Content-Length "
                            + "announced", length);
                }
                throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
            }
        }
        try {
            return lines ? EventDecoder.lines(bytes, length) : EventDecoder.array(bytes, length);
        } finally {
            arrays.release(bytes);
            bodies.release(length);
        }
    }

    private ServalException tooLarge(String size) {
        return new ServalException(ErrorCode.PAYLOAD_TOO_LARGE, "the request body is " + size + "; the limit is "
                + bodies.maxRequestBytes() + " bytes (--max-request-size); send the events in smaller batches; "
                + "no event of this batch was recorded");
    }
}
