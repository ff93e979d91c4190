package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.features.Event;
import dev.serval.server.ServerOptions;
import dev.serval.testing.RecordingFeatureStore;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code POST /v2/events} end to end: a started server, a JDK HTTP client over a loopback socket,
 * and a feature store that shows what the server recorded. Most tests share one server (its store
 * is emptied before each); the ones that need other options start their own.
 */
class EventsApiTest {
    private static final String NDJSON = "application/x-ndjson";
    private static final String JSON = "application/json";

    @TempDir
    static Path repository; // no models: ingest needs none

    private static final RecordingFeatureStore STORE = new RecordingFeatureStore();
    private static TestServer server;
    /** Events the shared store held before this test: each test looks only at what it added. */
    private int baseline;

    @BeforeAll
    static void start() {
        server = TestServer.start(ServerOptions.defaults(repository).withGrpcPort(ServerOptions.GRPC_OFF), STORE);
    }

    @AfterAll
    static void stop() {
        server.close();
        assertThat(STORE.isClosed()).as("the server does not own the store").isFalse();
        STORE.close();
    }

    @BeforeEach
    void healStore() {
        baseline = STORE.events().size();
        STORE.failWith(null);
    }

    private List<Event> recordedHere() {
        List<Event> all = STORE.events();
        return all.subList(baseline, all.size());
    }

    static Reply post(TestServer server, String contentType, String body, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.uri("/v2/events")).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        if (headers.length > 0) {
            request.headers(headers);
        }
        return server.send(request.build());
    }

    @Test
    void jsonArray_isRecordedInOrder_withFieldsMappedToEntityAndCounterparty() {
        Reply reply = post(server, JSON, """
                [{"card_id": "c1", "amount": 12.5, "merchant": "m7", "timestamp": 1732390000000},
                 {"timestamp": 1732390000001, "merchant": "m8", "amount": -3, "card_id": "c2"},
                 {"card_id": "c1", "amount": 0.1, "merchant": "m7", "timestamp": 0}]""");

        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        assertThat(reply.headers().firstValue("content-type")).hasValue(JSON);
        assertThat(reply.json().get("recorded").asInt()).isEqualTo(3);
        assertThat(recordedHere()).containsExactly(
                new Event("c1", "m7", 12.5, 1732390000000L),
                new Event("c2", "m8", -3, 1732390000001L),
                new Event("c1", "m7", 0.1, 0));
    }

    @Test
    void jsonArray_withoutContentType_isReadAsJson() {
        Reply reply = post(server, null, "[{\"card_id\": \"c9\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 5}]");

        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        assertThat(recordedHere()).containsExactly(new Event("c9", "m", 1, 5));
    }

    @Test
    void ndjson_isRecordedInOrder_skippingBlankLines_withAnyLineEnding() {
        String body = "{\"card_id\": \"c1\", \"amount\": 12.5, \"merchant\": \"m7\", \"timestamp\": 1732390000000}\r\n"
                + "\n"
                + "{\"card_id\": \"c2\", \"amount\": 7, \"merchant\": \"m8\", \"timestamp\": 1732390000002}\n"
                + "{\"card_id\": \"c3\", \"amount\": 1e2, \"merchant\": \"m9\", \"timestamp\": 1732390000003}";

        Reply reply = post(server, NDJSON + "; charset=utf-8", body);

        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        assertThat(reply.json().get("recorded").asInt()).isEqualTo(3);
        assertThat(recordedHere()).containsExactly(
                new Event("c1", "m7", 12.5, 1732390000000L),
                new Event("c2", "m8", 7, 1732390000002L),
                new Event("c3", "m9", 100, 1732390000003L));
        assertThat(STORE.batches().getLast()).as("one request, one batch").hasSize(3);
    }

    @Test
    void emptyBatch_recordsNothing_andAnswersZero() {
        for (String[] body : new String[][] {{JSON, "[]"}, {NDJSON, ""}, {NDJSON, "\n\n"}}) {
            Reply reply = post(server, body[0], body[1]);
            assertThat(reply.status()).as(reply.body()).isEqualTo(200);
            assertThat(reply.body()).isEqualTo("{\"recorded\":0}");
        }
        assertThat(recordedHere()).isEmpty();
    }

    @Test
    void oneMalformedEvent_rejectsTheWholeBatch_namingItsIndexFieldAndValue() {
        Reply reply = post(server, JSON, """
                [{"card_id": "c1", "amount": 12.5, "merchant": "m7", "timestamp": 1732390000000},
                 {"card_id": "c2", "amount": "12.5", "merchant": "m7", "timestamp": 1732390000000},
                 {"card_id": "c3", "amount": 1, "merchant": "m7", "timestamp": 1732390000000}]""");

        assertThat(reply.status()).as(reply.body()).isEqualTo(400);
        assertThat(reply.error()).isEqualTo("events[1]: amount is \"12.5\", a string; expected a finite number, "
                + "unquoted; no event of this batch was recorded");
        assertThat(recordedHere()).as("the valid events before and after it are not recorded either").isEmpty();
    }

    @Test
    void oneMalformedNdjsonLine_rejectsTheWholeBatch_namingItsLine() {
        String body = """
                {"card_id": "c1", "amount": 1, "merchant": "m7", "timestamp": 1}

                {"amount": 2, "merchant": "m7", "timestamp": 2}
                {"card_id": "c3", "amount": 3, "merchant": "m7", "timestamp": 3}
                """;

        Reply reply = post(server, NDJSON, body);

        assertThat(reply.status()).as(reply.body()).isEqualTo(400);
        assertThat(reply.error()).isEqualTo("line 3: has no card_id; every event needs card_id, amount, merchant and "
                + "timestamp; no event of this batch was recorded");
        assertThat(recordedHere()).isEmpty();
    }

    static Stream<Arguments> malformedArrays() {
        String ok = "{\"card_id\": \"c0\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}";
        return Stream.of(
                Arguments.of("[" + ok + ", {\"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}]",
                        "events[1]: has no card_id; every event needs card_id, amount, merchant and timestamp"),
                Arguments.of("[{\"card_id\": \"c\", \"merchant\": \"m\", \"timestamp\": 1}]",
                        "events[0]: has no amount"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"timestamp\": 1}]", "events[0]: has no merchant"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\"}]", "events[0]: has no timestamp"),
                Arguments.of("[{\"card_id\": \" \", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}]",
                        "events[0]: card_id is \" \"; expected a non-blank string"),
                Arguments.of("[{\"card_id\": 1234, \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}]",
                        "events[0]: card_id is 1234, a number; expected a string"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": null, \"timestamp\": 1}]",
                        "events[0]: merchant is null; expected a string"),
                Arguments.of("[" + ok + ", " + ok + ", {\"card_id\": \"c\", \"amount\": 1e999, \"merchant\": \"m\", "
                        + "\"timestamp\": 1}]", "events[2]: amount is 1e999, beyond a double's range; expected a finite number"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": true, \"merchant\": \"m\", \"timestamp\": 1}]",
                        "events[0]: amount is true, a boolean; expected a finite number"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1.5}]",
                        "events[0]: timestamp is 1.5, a number; expected an integer, epoch milliseconds"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": \"1732390000000\"}]",
                        "events[0]: timestamp is \"1732390000000\", a string; expected an integer, epoch milliseconds"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": -1}]",
                        "events[0]: timestamp is -1; expected epoch milliseconds, not negative"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 99999999999999999999}]",
                        "events[0]: timestamp is 99999999999999999999; expected epoch milliseconds, at most 9223372036854775807"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1, \"currency\": \"EUR\"}]",
                        "events[0]: has a field \"currency\", which events do not have; expected only card_id, amount, "
                                + "merchant and timestamp"),
                Arguments.of("[{\"card_id\": \"c\", \"amount\": 1, \"amount\": 2, \"merchant\": \"m\", \"timestamp\": 1}]",
                        "events[0]: has amount twice; expected each field once"),
                Arguments.of("[" + ok + ", 42]",
                        "events[1]: is 42, a number; expected an object with card_id, amount, merchant and timestamp"),
                Arguments.of(ok, "the body is an object; expected a JSON array of events"),
                Arguments.of("", "the body is empty; expected a JSON array of events"),
                Arguments.of("[" + ok + "] []", "the body goes on after its array, with an array at line 1, column 67; expected one JSON array of events"),
                Arguments.of("[" + ok + ", {\"card_id\": \"c\", \"amount\": 1,, }]",
                        "malformed JSON at line 1, column 96 (in events[1]): Unexpected character (',' (code 44)): was expecting double-quote to start field name"),
                Arguments.of("[" + ok + ", ", "malformed JSON at line 1, column 67: Unexpected end-of-input within/between Array entries"));
    }

    @ParameterizedTest
    @MethodSource("malformedArrays")
    void malformedJsonArray_is400_namingTheEventFieldAndValue_andRecordsNothing(String body, String message) {
        Reply reply = post(server, JSON, body);

        assertThat(reply.status()).as(reply.body()).isEqualTo(400);
        assertThat(reply.error()).startsWith(message).endsWith("no event of this batch was recorded");
        assertThat(recordedHere()).isEmpty();
    }

    static Stream<Arguments> malformedLines() {
        String ok = "{\"card_id\": \"c0\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}";
        return Stream.of(
                Arguments.of(ok + "\n" + ok + " " + ok + "\n",
                        "line 2: has a second value, an object, after its event; expected one event per line"),
                Arguments.of(ok + "\n{\"card_id\": \"c\", \"amount\": 1,\n \"merchant\": \"m\", \"timestamp\": 1}\n",
                        "line 2: the event runs on to line 3; expected each event on one line (NDJSON)"),
                Arguments.of("[" + ok + "]\n", "line 1: is an array; expected an object with card_id, amount, merchant "
                        + "and timestamp (for a JSON array of events, send Content-Type: application/json)"),
                Arguments.of(ok + "\n" + ok + "\n{\"card_id\": \"c\", \"amount\": \"NaN\", \"merchant\": \"m\", \"timestamp\": 1}\n",
                        "line 3: amount is \"NaN\", a string; expected a finite number, unquoted"),
                Arguments.of(ok + "\nnot json\n", "malformed JSON at line 2, column 1: Unrecognized token 'not'"));
    }

    @ParameterizedTest
    @MethodSource("malformedLines")
    void malformedNdjson_is400_namingTheLine_andRecordsNothing(String body, String message) {
        Reply reply = post(server, NDJSON, body);

        assertThat(reply.status()).as(reply.body()).isEqualTo(400);
        assertThat(reply.error()).startsWith(message).endsWith("no event of this batch was recorded");
        assertThat(recordedHere()).isEmpty();
    }

    @Test
    void otherContentType_is415_namingTheTypesAccepted() {
        Reply reply = post(server, "application/x-www-form-urlencoded", "[]");

        assertThat(reply.status()).as(reply.body()).isEqualTo(415);
        assertThat(reply.error()).isEqualTo("Content-Type is \"application/x-www-form-urlencoded\"; expected "
                + "application/json (a JSON array of events) or application/x-ndjson (one event per line); "
                + "no event of this batch was recorded");
    }

    @Test
    void storeFailure_is503_withRetryAfter_andNothingAcknowledged() {
        STORE.failWith("RocksDB: IO error: No space left on device");

        Reply reply = post(server, JSON, "[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}]");

        assertThat(reply.status()).as(reply.body()).isEqualTo(503);
        assertThat(reply.headers().firstValue("retry-after")).isPresent();
        assertThat(reply.error()).isEqualTo("the feature store could not record the 1 events: RocksDB: IO error: "
                + "No space left on device; no event of this batch was recorded; retry later");
        assertThat(recordedHere()).isEmpty();
    }

    @Test
    void getOnTheEventsPath_isNotAnEndpoint() {
        assertThat(server.get("/v2/events").status()).isEqualTo(404);
    }

    @Test
    void metrics_countRecordedEventsAndEachBatchOutcome() {
        String before = server.get("/metrics").body();
        post(server, JSON, "[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1},"
                + "{\"card_id\": \"d\", \"amount\": 2, \"merchant\": \"m\", \"timestamp\": 2}]");
        post(server, JSON, "[{\"card_id\": \"c\"}]");
        post(server, "text/csv", "card_id,amount\n");
        STORE.failWith("down");
        post(server, NDJSON, "{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}");

        String after = server.get("/metrics").body();
        assertThat(value(after, "serval_events_recorded_total") - value(before, "serval_events_recorded_total"))
                .isEqualTo(2);
        assertThat(value(after, "serval_event_batches_total{outcome=\"recorded\"}")
                - value(before, "serval_event_batches_total{outcome=\"recorded\"}")).isEqualTo(1);
        assertThat(value(after, "serval_event_batches_total{outcome=\"invalid\"}")
                - value(before, "serval_event_batches_total{outcome=\"invalid\"}")).isEqualTo(2);
        assertThat(value(after, "serval_event_batches_total{outcome=\"unavailable\"}")
                - value(before, "serval_event_batches_total{outcome=\"unavailable\"}")).isEqualTo(1);
    }

    /** One sample's value from Prometheus text. */
    static double value(String metrics, String sample) {
        return metrics.lines().filter(line -> line.startsWith(sample + " ")).findFirst()
                .map(line -> Double.parseDouble(line.substring(sample.length() + 1).trim()))
                .orElseThrow(() -> new AssertionError("no sample " + sample + " in\n" + metrics));
    }

    @Test
    void bodyOverTheLimit_is413_namingTheLimit_withOrWithoutContentLength() {
        RecordingFeatureStore own = new RecordingFeatureStore();
        try (TestServer small = TestServer.start(ServerOptions.defaults(repository).withMaxRequestBytes(200)
                .withGrpcPort(ServerOptions.GRPC_OFF), own)) {
            String event = "{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}";
            String body = "[" + event + ", " + event + ", " + event + ", " + event + "]";

            Reply sized = post(small, JSON, body);
            assertThat(sized.status()).as(sized.body()).isEqualTo(413);
            assertThat(sized.error()).isEqualTo("the request body is " + body.length() + " bytes; the limit is 200 bytes "
                    + "(--max-request-size); send the events in smaller batches; no event of this batch was recorded");

            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            Reply chunked = small.send(HttpRequest.newBuilder(small.uri("/v2/events")).timeout(Duration.ofSeconds(60))
                    .header("Content-Type", JSON)
                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(bytes))).build());
            assertThat(chunked.status()).as(chunked.body()).isEqualTo(413);
            assertThat(chunked.error()).startsWith("the request body is more than 200 bytes; the limit is 200 bytes");

            Reply fits = post(small, JSON, "[" + event + "]");
            assertThat(fits.status()).as(fits.body()).isEqualTo(200);
            assertThat(own.events()).containsExactly(new Event("c", "m", 1, 1));
        } finally {
            own.close();
        }
    }

    @Test
    void chunkedBody_withinTheLimit_isRecorded() {
        byte[] bytes = "{\"card_id\": \"c\", \"amount\": 2.5, \"merchant\": \"m\", \"timestamp\": 3}\n"
                .getBytes(StandardCharsets.UTF_8);
        Reply reply = server.send(HttpRequest.newBuilder(server.uri("/v2/events")).timeout(Duration.ofSeconds(60))
                .header("Content-Type", NDJSON)
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(bytes))).build());

        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        assertThat(recordedHere()).containsExactly(new Event("c", "m", 2.5, 3));
    }

    @Test
    void withoutFeatureStore_is501_sayingSo() {
        try (TestServer plain = TestServer.startWithoutFeatureStore(ServerOptions.defaults(repository).withGrpcPort(ServerOptions.GRPC_OFF))) {
            Reply reply = post(plain, JSON, "[]");

            assertThat(reply.status()).as(reply.body()).isEqualTo(501);
            assertThat(reply.error()).isEqualTo("this server has no feature store, so it records no events; start it "
                    + "with one to use POST /v2/events and RecordEvents");
        }
    }

    @Test
    void inferenceToken_isRequired_whenConfigured() {
        RecordingFeatureStore own = new RecordingFeatureStore();
        ServerOptions options = ServerOptions.defaults(repository).withGrpcPort(ServerOptions.GRPC_OFF)
                .withTokens(Optional.of("infer-secret"), Optional.of("admin-secret"));
        String batch = "[{\"card_id\": \"c\", \"amount\": 1, \"merchant\": \"m\", \"timestamp\": 1}]";
        try (TestServer secured = TestServer.start(options, own)) {
            Reply anonymous = post(secured, JSON, batch);
            assertThat(anonymous.status()).isEqualTo(401);
            assertThat(anonymous.error()).contains("Authorization: Bearer");
            assertThat(post(secured, JSON, batch, "Authorization", "Bearer wrong").status()).isEqualTo(401);
            assertThat(own.events()).isEmpty();

            assertThat(post(secured, JSON, batch, "Authorization", "Bearer infer-secret").status()).isEqualTo(200);
            assertThat(post(secured, JSON, batch, "Authorization", "Bearer admin-secret").status()).isEqualTo(200);
            assertThat(own.events()).hasSize(2);
        } finally {
            own.close();
        }
    }
}
