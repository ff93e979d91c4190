package dev.serval.transport;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.features.Event;
import dev.serval.features.FeatureStore;
import dev.serval.features.FeatureStoreException;
import dev.serval.metrics.EventMetrics;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Event ingest as every transport does it ({@code POST /v2/events}, gRPC {@code RecordEvents}): a
 * batch is decoded whole, then recorded whole in the feature store, or refused whole.
 *
 * <p>Design note on "all or nothing": when one event of a batch is malformed, none is recorded and
 * the error names that event. A client that retries a failed batch then never double-counts the
 * events that got in the first time (the aggregates are counts and sums, so a partial batch
 * retried would inflate them), and it needs no per-event status to know what to resend: fix the
 * named event, send the batch again. The cost is that one bad event holds back good ones, which is
 * a producer bug worth surfacing rather than a condition to run in.
 *
 * <p>Every transport also shares the wording of its errors through {@link #invalid}: {@code
 * <event>: <field> is <value>; expected <what>}, then that nothing was recorded.
 *
 * <p>Thread-safe (the store is, by its contract).
 */
public final class EventIngest {
    private static final Logger log = LoggerFactory.getLogger(EventIngest.class);

    /** The end of every message of a refused batch. */
    public static final String NOTHING_RECORDED = "; no event of this batch was recorded";

    /** The event fields, in the order messages list them. */
    public static final String FIELDS = "card_id, amount, merchant and timestamp";

    private final FeatureStore store; // null: the server runs without a feature store
    private final EventMetrics metrics;

    /**
     * @param store   where events go, or null when the server has none (every batch is then refused
     *                with UNIMPLEMENTED); the caller keeps its ownership and closes it
     * @param metrics counts recorded events and each batch's outcome
     */
    public EventIngest(FeatureStore store, EventMetrics metrics) {
        this.store = store;
        this.metrics = metrics;
    }

    /** Reads a batch of events: decodes a request body or message whole, or throws why it cannot. */
    @FunctionalInterface
    public interface Batch {
        /**
         * @throws ServalException INVALID_ARGUMENT (or 413/415's codes) naming what is wrong
         */
        List<Event> read();
    }

    /**
     * Reads the batch and records all of its events in the feature store; when this returns they are
     * durable. Nothing is read without a feature store.
     *
     * @return how many events were recorded
     * @throws ServalException UNIMPLEMENTED without a feature store (before the batch is read); the
     *                         batch's own error when it cannot be read (nothing recorded);
     *                         UNAVAILABLE when the store could not record it (nothing acknowledged)
     */
    public int record(Batch batch) {
        if (store == null) {
            throw new ServalException(ErrorCode.UNIMPLEMENTED, "this server has no feature store, so it records no "
                    + "events; start it with one to use POST /v2/events and RecordEvents");
        }
        List<Event> events;
        try {
            events = batch.read();
        } catch (ServalException e) {
            metrics.rejected(e.code());
            throw e;
        } catch (RuntimeException e) {
            metrics.rejected(ErrorCode.INTERNAL);
            throw e;
        }
        if (events.isEmpty()) {
            metrics.recorded(0);
            return 0;
        }
        try {
            store.record(events);
        } catch (FeatureStoreException e) {
            metrics.rejected(ErrorCode.UNAVAILABLE);
            log.warn("the feature store could not record a batch of {} events: {}", events.size(), e.getMessage());
            throw new ServalException(ErrorCode.UNAVAILABLE, "the feature store could not record the " + events.size()
                    + " events: " + e.getMessage() + NOTHING_RECORDED + "; retry later", e);
        } catch (RuntimeException e) {
            metrics.rejected(ErrorCode.INTERNAL);
            throw e;
        }
        metrics.recorded(events.size());
        return events.size();
    }

    /**
     * The error for an event that cannot be recorded, in the words every transport uses.
     *
     * @param event   which event: {@code events[3]} (0-based) or {@code line 4} (NDJSON, 1-based)
     * @param problem what is wrong with it: {@code amount is "12"; expected a finite number}
     */
    public static ServalException invalid(String event, String problem) {
        return ServalException.invalidArgument("%s: %s%s", event, problem, NOTHING_RECORDED);
    }

    /** {@link #invalid} for a required field that is absent. */
    public static ServalException missing(String event, String field) {
        return invalid(event, "has no " + field + "; every event needs " + FIELDS);
    }

    /**
     * {@link #invalid} for a card_id or merchant that is blank: the feature store keys and counts
     * by them, and a blank one is a producer bug, not a card.
     */
    public static ServalException blank(String event, String field, String value) {
        return invalid(event, field + " is " + quote(value) + "; expected a non-blank string");
    }

    /** {@link #invalid} for an amount that is NaN or infinite. */
    public static ServalException notFinite(String event, String value) {
        return invalid(event, "amount is " + value + "; expected a finite number");
    }

    /** {@link #invalid} for a timestamp before 1970. */
    public static ServalException negativeTimestamp(String event, long value) {
        return invalid(event, "timestamp is " + value + "; expected epoch milliseconds, not negative");
    }

    /** Longest text of a value quoted in a message; the rest is elided. */
    private static final int MAX_QUOTED = 64;

    /** A string value as JSON would write it, cut at {@value #MAX_QUOTED} characters. */
    public static String quote(String value) {
        StringBuilder out = new StringBuilder(Math.min(value.length(), MAX_QUOTED) + 16).append('"');
        int end = Math.min(value.length(), MAX_QUOTED);
        for (int i = 0; i < end; i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
        if (value.length() > end) {
            out.append("... (").append(value.length()).append(" characters)");
        }
        return out.toString();
    }
}
