package dev.serval.transport.http;

import dev.serval.api.ServalException;
import dev.serval.transport.BodyBudget;
import io.helidon.common.buffers.DataReader;
import io.helidon.webserver.http.ServerRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.function.Function;

/**
 * Reads a body sent without a Content-Length (chunked) under the in-flight body budget.
 *
 * <p>Design note: a body of unknown size cannot reserve its size before it is read, and reading
 * it whole first (as this server did) let every chunked client hold up to {@code
 * --max-request-size} outside the budget. So it reserves as it goes: room for the next 64 KB, then
 * for as much again as it holds (doubling), each waiting in the budget's line like any body, and
 * once the body ends the reservation becomes its size. Memory stays within the budget; a chunked
 * body waits, partly read, while the budget is full, which TCP's flow control turns into a wait
 * for its client.
 */
final class UnsizedBodies {
    /** The first reservation, and the least step: whole {@link BodyBudget#UNIT}s. */
    static final int STEP = 64 * BodyBudget.UNIT;

    private UnsizedBodies() {
    }

    /**
     * A body read whole: the first {@code length} bytes of {@code bytes}, {@code length} bytes
     * reserved in the budget (also what RestApi reads a sized body into, from a pooled array).
     */
    record Body(byte[] bytes, int length) {
    }

    /**
     * Reads a request's chunked body (see {@link #read(InputStream, BodyBudget, long, Function)}).
     *
     * @throws ServalException INVALID_ARGUMENT when the chunks end early, or as the other {@code read}
     */
    static Body read(ServerRequest req, BodyBudget bodies, long max, Function<String, ServalException> tooLarge) {
        try (InputStream in = req.content().inputStream()) {
            return read(in, bodies, max, tooLarge);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (DataReader.InsufficientDataAvailableException e) {
            throw ServalException.invalidArgument("the body ended before its last chunk");
        }
    }

    /**
     * Reads {@code in} to its end, reserving as it reads (see the class notes). On success the
     * body's length is reserved: the caller releases it; on failure nothing is.
     *
     * @param tooLarge the failure for a body past {@code max} (called with "more than N bytes")
     * @throws ServalException the budget's refusal, or {@code tooLarge}'s
     */
    static Body read(InputStream in, BodyBudget bodies, long max, Function<String, ServalException> tooLarge)
            throws IOException {
        long limit = Math.min(Integer.MAX_VALUE - 8, max + 1); // one byte past the limit tells it is over
        long reserved = 0;
        try {
            byte[] bytes = new byte[0];
            int length = 0;
            while (true) {
                if (length == bytes.length) {
                    if (length >= limit) {
                        break;
                    }
                    int room = (int) Math.min(Math.max(STEP, length), limit - length);
                    long step = (room + BodyBudget.UNIT - 1L) / BodyBudget.UNIT * BodyBudget.UNIT; // whole units
                    bodies.reserve(step);
                    reserved += step;
                    bytes = Arrays.copyOf(bytes, length + room);
                }
                int read = in.read(bytes, length, bytes.length - length);
                if (read < 0) {
                    break;
                }
                length += read;
            }
            if (length > max) {
                throw tooLarge.apply("more than " + max + " bytes");
            }
            bodies.resize(reserved, length);
            reserved = 0;
            return new Body(bytes, length);
        } finally {
            bodies.release(reserved);
        }
    }
}
