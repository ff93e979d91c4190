package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import dev.serval.features.Event;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The event decoder against generated and mutated bodies (seeded, so every run is the same): valid
 * batches decode to exactly the events written, as a JSON array and as NDJSON alike; mutated ones
 * decode or fail with INVALID_ARGUMENT ending in "no event of this batch was recorded", never with
 * anything else (which would be a 500 for a producer's typo).
 */
class EventDecoderFuzzTest {
    /** Deterministic by default; {@code -Dserval.fuzz.iterations=1000000 -Dserval.fuzz.seed=N} digs deeper. */
    private static final int ITERATIONS = Integer.getInteger("serval.fuzz.iterations", 20_000);
    private static final long SEED = Long.getLong("serval.fuzz.seed", 20261123L);

    private static final String[] TOKENS = {
            "{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "false", "-", "0", "-1", "1e999", "-1e999",
            "1.5", "99999999999999999999999999", "-9223372036854775809", "\"card_id\"", "\"amount\"", "\"merchant\"",
            "\"timestamp\"", "\"other\"", "\"\"", "\" \"", "\n", "\r\n", " ", "\u0000", "\u00e9", "\ud83d\udc31",
            "[[[[[[[[", "{\"a\":", "1" + "0".repeat(400), "NaN", "\"NaN\"", "\\u0000", "\\ud800"};

    @Test
    void validBatches_decodeToTheEventsWritten_asArrayAndAsLines() {
        Random random = new Random(SEED);
        for (int i = 0; i < ITERATIONS / 10; i++) {
            List<Event> events = new ArrayList<>();
            int count = random.nextInt(6);
            for (int e = 0; e < count; e++) {
                events.add(new Event(id(random), id(random), amount(random), random.nextLong(Long.MAX_VALUE)));
            }
            StringBuilder array = new StringBuilder("[");
            StringBuilder lines = new StringBuilder();
            for (Event event : events) {
                String json = json(event, random);
                array.append(array.length() > 1 ? ",\n " : "").append(json);
                lines.append(json).append(random.nextBoolean() ? "\n" : "\r\n").append(random.nextInt(4) == 0 ? "\n" : "");
            }
            array.append(']');
            byte[] arrayBytes = array.toString().getBytes(StandardCharsets.UTF_8);
            byte[] lineBytes = lines.toString().getBytes(StandardCharsets.UTF_8);

            assertThat(EventDecoder.array(arrayBytes, arrayBytes.length)).as(array.toString()).isEqualTo(events);
            assertThat(EventDecoder.lines(lineBytes, lineBytes.length)).as(lines.toString()).isEqualTo(events);
        }
    }

    @Test
    void mutatedBodies_decodeOrFailWithInvalidArgument() {
        Random random = new Random(SEED);
        List<String> failures = new ArrayList<>();
        String seed = "[{\"card_id\": \"c1\", \"amount\": 12.5, \"merchant\": \"m7\", \"timestamp\": 1732390000000},\n"
                + " {\"timestamp\": 1, \"merchant\": \"Grüße \\\"q\\\"\", \"amount\": -0.25e2, \"card_id\": \"\\u00e9\"}]";
        for (int i = 0; i < ITERATIONS && failures.size() < 10; i++) {
            String body = mutate(seed, random);
            boolean lines = random.nextBoolean();
            if (lines) {
                body = body.replace("[", "").replace("]", "").replace("},", "}");
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            int length = random.nextInt(8) == 0 ? random.nextInt(bytes.length + 1) : bytes.length;
            try {
                List<Event> events = lines ? EventDecoder.lines(bytes, length) : EventDecoder.array(bytes, length);
                assertThat(events).doesNotContainNull();
            } catch (ServalException e) {
                if (e.code() != ErrorCode.INVALID_ARGUMENT || !e.getMessage().endsWith("no event of this batch was recorded")) {
                    failures.add(e.code() + " " + e.getMessage() + " for " + body);
                }
            } catch (RuntimeException e) {
                failures.add(e + " for " + body);
            }
        }
        assertThat(failures).isEmpty();
    }

    private static String mutate(String text, Random random) {
        StringBuilder out = new StringBuilder(text);
        int edits = 1 + random.nextInt(3);
        for (int e = 0; e < edits; e++) {
            int at = random.nextInt(out.length() + 1);
            switch (random.nextInt(3)) {
                case 0 -> out.insert(at, TOKENS[random.nextInt(TOKENS.length)]);
                case 1 -> out.delete(at, Math.min(out.length(), at + 1 + random.nextInt(8)));
                default -> {
                    if (at < out.length()) {
                        out.setCharAt(at, (char) (32 + random.nextInt(95)));
                    }
                }
            }
        }
        return out.toString();
    }

    private static String id(Random random) {
        String[] parts = {"c", "card-", "m", "Grüße", "世界", "\"", "\\", "x y", "\u00e9", "\ud83d\udc31"};
        StringBuilder id = new StringBuilder("k");
        for (int i = random.nextInt(4); i > 0; i--) {
            id.append(parts[random.nextInt(parts.length)]);
        }
        return id.toString();
    }

    private static double amount(Random random) {
        return switch (random.nextInt(4)) {
            case 0 -> random.nextInt(10_000) - 5_000;
            case 1 -> random.nextDouble() * 1e6;
            case 2 -> {
                double any = Double.longBitsToDouble(random.nextLong()); // any bits: subnormals, huge, -0.0
                yield Double.isFinite(any) ? any : 0;
            }
            default -> -random.nextDouble();
        };
    }

    /** The event as a JSON object, its fields in a random order. */
    private static String json(Event event, Random random) {
        List<String> fields = new ArrayList<>(List.of(
                "\"card_id\": " + quote(event.entity()),
                "\"amount\": " + event.amount(),
                "\"merchant\": " + quote(event.counterparty()),
                "\"timestamp\": " + event.timestampMillis()));
        Collections.shuffle(fields, random);
        return "{" + String.join(", ", fields) + "}";
    }

    private static String quote(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
