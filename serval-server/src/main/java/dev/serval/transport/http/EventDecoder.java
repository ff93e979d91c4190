package dev.serval.transport.http;

import static dev.serval.transport.EventIngest.invalid;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import dev.serval.api.ServalException;
import dev.serval.features.Event;
import dev.serval.transport.EventIngest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Decodes a batch of events from JSON: a JSON array of event objects, or NDJSON (one event object
 * per line). An event is {@code {"card_id": "c1", "amount": 12.5, "merchant": "m7", "timestamp":
 * 1732390000000}}: card_id and merchant non-blank strings, amount a finite JSON number, timestamp an
 * integer of epoch milliseconds, not negative; all four required, each once.
 *
 * <p>Unknown fields are refused, not ignored: every field an event has is used, so a field the
 * server does not know is a field the client believes matters and the server would silently drop
 * (a misspelt {@code "ammount"} beside a correct one, a {@code "currency"} the aggregates would mix).
 * The error lets the producer find out on its first request. Should events grow optional fields,
 * they will be added here by name.
 *
 * <p>Design note: ingest must keep up with hundreds of thousands of events a second, so this reads
 * tokens off Jackson's streaming parser straight into {@link Event}s: no tree, no map per event, no
 * boxing; field names are matched against Jackson's canonical strings (their hash is cached). The
 * position of an event is tracked as numbers and turned into words ({@code events[3]},
 * {@code line 4}) only for an error.
 *
 * <p>Every error is INVALID_ARGUMENT naming the event (its 0-based index in the array, or its
 * 1-based line), the field, the value and what was expected, or, for text that is not JSON at all,
 * Jackson's words with the line and column. Stateless and thread-safe.
 */
final class EventDecoder {
    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            .build();

    private static final String CARD_ID = "card_id";
    private static final String AMOUNT = "amount";
    private static final String MERCHANT = "merchant";
    private static final String TIMESTAMP = "timestamp";
    private static final int HAS_CARD_ID = 1;
    private static final int HAS_AMOUNT = 2;
    private static final int HAS_MERCHANT = 4;
    private static final int HAS_TIMESTAMP = 8;
    private static final int HAS_ALL = 15;
    private static final String AN_EVENT = "an object with " + EventIngest.FIELDS;

    /** Rough bytes of one event in JSON, to size the list once for most batches. */
    private static final int BYTES_PER_EVENT = 72;

    private EventDecoder() {
    }

    /** Where the parser is: which event of the batch, for messages. */
    private static final class Position {
        final boolean lines;
        int index = -1;
        int line;
        /** Between the event's braces. */
        boolean inside;

        Position(boolean lines) {
            this.lines = lines;
        }

        /** {@code events[3]}, or {@code line 4}. */
        String event() {
            return lines ? "line " + line : "events[" + index + "]";
        }
    }

    /**
     * The events of a JSON array, in order.
     *
     * @throws ServalException INVALID_ARGUMENT when the body is not a JSON array of valid events
     */
    static List<Event> array(byte[] body, int length) {
        Position at = new Position(false);
        try (JsonParser parser = JSON.createParser(body, 0, length)) {
            JsonToken token = parser.nextToken();
            if (token != JsonToken.START_ARRAY) {
                throw ServalException.invalidArgument("the body is %s; expected a JSON array of events (%s), "
                        + "or one event per line with Content-Type: application/x-ndjson%s",
                        token == null ? "empty" : describe(parser, token), AN_EVENT, EventIngest.NOTHING_RECORDED);
            }
            List<Event> events = new ArrayList<>(Math.min(length / BYTES_PER_EVENT + 1, 1 << 16));
            while ((token = parser.nextToken()) != JsonToken.END_ARRAY) {
                at.index++;
                if (token != JsonToken.START_OBJECT) {
                    throw invalid(at.event(), "is " + describe(parser, token) + "; expected " + AN_EVENT);
                }
                events.add(event(parser, at));
            }
            token = parser.nextToken();
            if (token != null) {
                throw ServalException.invalidArgument("the body goes on after its array, with %s at %s; expected "
                        + "one JSON array of events%s", describe(parser, token), where(parser.currentTokenLocation()),
                        EventIngest.NOTHING_RECORDED);
            }
            return events;
        } catch (JsonProcessingException e) {
            throw malformed(e, at);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The events of NDJSON text, one object per line, in order; blank lines are skipped. An event
     * may not share its line with another value, nor run onto the next line: line numbers are how
     * errors name events.
     *
     * @throws ServalException INVALID_ARGUMENT when a line is not a valid event
     */
    static List<Event> lines(byte[] body, int length) {
        Position at = new Position(true);
        try (JsonParser parser = JSON.createParser(body, 0, length)) {
            List<Event> events = new ArrayList<>(Math.min(length / BYTES_PER_EVENT + 1, 1 << 16));
            int previous = 0;
            JsonToken token;
            while ((token = parser.nextToken()) != null) {
                at.index++;
                at.line = parser.currentTokenLocation().getLineNr();
                if (at.line == previous) {
                    throw invalid(at.event(), "has a second value, " + describe(parser, token)
                            + ", after its event; expected one event per line");
                }
                if (token != JsonToken.START_OBJECT) {
                    throw invalid(at.event(), "is " + describe(parser, token) + "; expected " + AN_EVENT
                            + (token == JsonToken.START_ARRAY ? " (for a JSON array of events, send "
                            + "Content-Type: application/json)" : ""));
                }
                events.add(event(parser, at));
                int end = parser.currentTokenLocation().getLineNr();
                if (end != at.line) {
                    throw invalid(at.event(), "the event runs on to line " + end + "; expected each event on one "
                            + "line (NDJSON)");
                }
                previous = at.line;
            }
            return events;
        } catch (JsonProcessingException e) {
            throw malformed(e, at);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One event; the parser is at its START_OBJECT and is left at its END_OBJECT. */
    private static Event event(JsonParser parser, Position at) throws IOException {
        at.inside = true;
        String cardId = null;
        String merchant = null;
        double amount = 0;
        long timestamp = 0;
        int seen = 0;
        String name;
        while ((name = parser.nextFieldName()) != null) {
            JsonToken value = parser.nextToken();
            int field = switch (name) {
                case CARD_ID -> HAS_CARD_ID;
                case AMOUNT -> HAS_AMOUNT;
                case MERCHANT -> HAS_MERCHANT;
                case TIMESTAMP -> HAS_TIMESTAMP;
                default -> throw invalid(at.event(), "has a field " + EventIngest.quote(name)
                        + ", which events do not have; expected only " + EventIngest.FIELDS);
            };
            if ((seen & field) != 0) {
                throw invalid(at.event(), "has " + name + " twice; expected each field once");
            }
            seen |= field;
            switch (field) {
                case HAS_CARD_ID -> cardId = id(parser, value, at, CARD_ID);
                case HAS_AMOUNT -> amount = amount(parser, value, at);
                case HAS_MERCHANT -> merchant = id(parser, value, at, MERCHANT);
                default -> timestamp = timestamp(parser, value, at);
            }
        }
        if (seen != HAS_ALL) {
            throw EventIngest.missing(at.event(), (seen & HAS_CARD_ID) == 0 ? CARD_ID
                    : (seen & HAS_AMOUNT) == 0 ? AMOUNT : (seen & HAS_MERCHANT) == 0 ? MERCHANT : TIMESTAMP);
        }
        at.inside = false;
        return new Event(cardId, merchant, amount, timestamp);
    }

    private static String id(JsonParser parser, JsonToken value, Position at, String field) throws IOException {
        if (value != JsonToken.VALUE_STRING) {
            throw invalid(at.event(), field + " is " + describe(parser, value) + "; expected a string");
        }
        String text = parser.getText();
        if (text.isBlank()) {
            throw EventIngest.blank(at.event(), field, text);
        }
        return text;
    }

    private static double amount(JsonParser parser, JsonToken value, Position at) throws IOException {
        if (value != JsonToken.VALUE_NUMBER_FLOAT && value != JsonToken.VALUE_NUMBER_INT) {
            throw invalid(at.event(), AMOUNT + " is " + describe(parser, value) + "; expected a finite number"
                    + (value == JsonToken.VALUE_STRING ? ", unquoted" : ""));
        }
        double amount = parser.getDoubleValue();
        if (!Double.isFinite(amount)) {
            throw EventIngest.notFinite(at.event(), parser.getText() + ", beyond a double's range");
        }
        return amount;
    }

    private static long timestamp(JsonParser parser, JsonToken value, Position at) throws IOException {
        if (value != JsonToken.VALUE_NUMBER_INT) {
            throw invalid(at.event(), TIMESTAMP + " is " + describe(parser, value)
                    + "; expected an integer, epoch milliseconds");
        }
        if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw invalid(at.event(), TIMESTAMP + " is " + parser.getText()
                    + "; expected epoch milliseconds, at most " + Long.MAX_VALUE);
        }
        long timestamp = parser.getLongValue();
        if (timestamp < 0) {
            throw EventIngest.negativeTimestamp(at.event(), timestamp);
        }
        return timestamp;
    }

    /** A value as a message shows it: {@code "12.5", a string}, {@code 12}, {@code null}, {@code an object}. */
    private static String describe(JsonParser parser, JsonToken token) throws IOException {
        return switch (token) {
            case VALUE_STRING -> EventIngest.quote(parser.getText()) + ", a string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> parser.getText() + ", a number";
            case VALUE_TRUE, VALUE_FALSE -> parser.getText() + ", a boolean";
            case VALUE_NULL -> "null";
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            default -> token.asString() == null ? token.name() : token.asString();
        };
    }

    /** Text that is not JSON: Jackson's words, where, and in which event if inside one. */
    private static ServalException malformed(JsonProcessingException e, Position at) {
        String inEvent = at.inside && !at.lines ? " (in " + at.event() + ")" : "";
        return ServalException.invalidArgument("malformed JSON at %s%s: %s%s", where(e.getLocation()), inEvent,
                e.getOriginalMessage(), EventIngest.NOTHING_RECORDED);
    }

    private static String where(JsonLocation location) {
        return location == null ? "an unknown place"
                : "line " + location.getLineNr() + ", column " + location.getColumnNr();
    }
}
