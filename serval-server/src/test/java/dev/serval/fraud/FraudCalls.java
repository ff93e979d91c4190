package dev.serval.fraud;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.protocol.grpc.InferParameter;
import dev.serval.protocol.grpc.InferTensorContents;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/** The fraud model's calls as a client makes them: events over REST, scoring over REST JSON and gRPC. */
final class FraudCalls {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Set<String> DECISIONS = Set.of("approve", "review", "decline");

    private FraudCalls() {
    }

    /** One transaction to score, or one event to record: the same fields. */
    record Txn(String cardId, float amount, String merchant, long timestamp) {
        String json() {
            return "{\"card_id\":\"" + cardId + "\",\"amount\":" + amount + ",\"merchant\":\"" + merchant
                    + "\",\"timestamp\":" + timestamp + "}";
        }
    }

    /** A scored batch: a score and a decision per row, and whether the feature lookup was degraded. */
    record Scores(float[] scores, List<String> decisions, boolean degraded) {
        /** Every score in [0, 1], every decision one of the three, one of each per row. */
        Scores checked(int rows) {
            assertThat(scores).hasSize(rows);
            assertThat(decisions).hasSize(rows);
            for (int i = 0; i < rows; i++) {
                assertThat(scores[i]).as("score of row %d", i).isBetween(0f, 1f);
                assertThat(decisions.get(i)).as("decision of row %d", i).isIn(DECISIONS);
            }
            return this;
        }
    }

    /** The body of {@code POST /v2/events}: a JSON array. */
    static String eventsBody(List<Txn> events) {
        StringBuilder body = new StringBuilder("[");
        for (Txn event : events) {
            body.append(body.length() > 1 ? "," : "").append(event.json());
        }
        return body.append(']').toString();
    }

    /** The body of a REST JSON infer request for {@code rows}. */
    static String inferBody(List<Txn> rows) {
        StringBuilder cards = new StringBuilder();
        StringBuilder amounts = new StringBuilder();
        StringBuilder merchants = new StringBuilder();
        StringBuilder times = new StringBuilder();
        for (Txn row : rows) {
            String sep = cards.isEmpty() ? "" : ",";
            cards.append(sep).append('"').append(row.cardId()).append('"');
            amounts.append(sep).append(row.amount());
            merchants.append(sep).append('"').append(row.merchant()).append('"');
            times.append(sep).append(row.timestamp());
        }
        int n = rows.size();
        return "{\"inputs\":["
                + "{\"name\":\"card_id\",\"shape\":[" + n + "],\"datatype\":\"BYTES\",\"data\":[" + cards + "]},"
                + "{\"name\":\"amount\",\"shape\":[" + n + "],\"datatype\":\"FP32\",\"data\":[" + amounts + "]},"
                + "{\"name\":\"merchant\",\"shape\":[" + n + "],\"datatype\":\"BYTES\",\"data\":[" + merchants + "]},"
                + "{\"name\":\"timestamp\",\"shape\":[" + n + "],\"datatype\":\"INT64\",\"data\":[" + times + "]}]}";
    }

    /** Records {@code events} and checks the server acknowledged all of them. */
    static void record(TestServer server, List<Txn> events) {
        Reply reply = server.post("/v2/events", eventsBody(events));
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        assertThat(reply.body()).isEqualTo("{\"recorded\":" + events.size() + "}");
    }

    /** Parses a 200 REST infer response of the fraud model. */
    static Scores parseRest(String body) {
        try {
            JsonNode root = JSON.readTree(body);
            float[] scores = null;
            List<String> decisions = new ArrayList<>();
            for (JsonNode output : root.get("outputs")) {
                JsonNode data = output.get("data");
                if (output.get("name").asText().equals("score")) {
                    scores = new float[data.size()];
                    for (int i = 0; i < data.size(); i++) {
                        scores[i] = (float) data.get(i).asDouble();
                    }
                } else if (output.get("name").asText().equals("decision")) {
                    data.forEach(d -> decisions.add(d.asText()));
                }
            }
            JsonNode parameters = root.get("parameters");
            boolean degraded = parameters != null && parameters.path("degraded").asBoolean(false);
            return new Scores(scores, decisions, degraded);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Scores {@code rows} over REST JSON; fails the test on any status but 200. */
    static Scores scoreRest(TestServer server, List<Txn> rows) {
        Reply reply = server.post("/v2/models/fraud/infer", inferBody(rows));
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        return parseRest(reply.body()).checked(rows.size());
    }

    /** Scores {@code rows} over gRPC ModelInfer with typed contents. */
    static Scores scoreGrpc(ManagedChannel channel, List<Txn> rows) {
        InferTensorContents.Builder cards = InferTensorContents.newBuilder();
        InferTensorContents.Builder amounts = InferTensorContents.newBuilder();
        InferTensorContents.Builder merchants = InferTensorContents.newBuilder();
        InferTensorContents.Builder times = InferTensorContents.newBuilder();
        for (Txn row : rows) {
            cards.addBytesContents(ByteString.copyFromUtf8(row.cardId()));
            amounts.addFp32Contents(row.amount());
            merchants.addBytesContents(ByteString.copyFromUtf8(row.merchant()));
            times.addInt64Contents(row.timestamp());
        }
        ModelInferRequest.Builder request = ModelInferRequest.newBuilder().setModelName("fraud");
        addInput(request, "card_id", "BYTES", rows.size(), cards);
        addInput(request, "amount", "FP32", rows.size(), amounts);
        addInput(request, "merchant", "BYTES", rows.size(), merchants);
        addInput(request, "timestamp", "INT64", rows.size(), times);
        ModelInferResponse response = GRPCInferenceServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(request.build());
        float[] scores = null;
        List<String> decisions = new ArrayList<>();
        boolean raw = response.getRawOutputContentsCount() > 0;
        for (int o = 0; o < response.getOutputsCount(); o++) {
            String name = response.getOutputs(o).getName();
            InferTensorContents typed = response.getOutputs(o).getContents();
            ByteBuffer bytes = raw ? response.getRawOutputContents(o).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN) : null;
            if (name.equals("score")) {
                scores = new float[raw ? bytes.remaining() / 4 : typed.getFp32ContentsCount()];
                for (int i = 0; i < scores.length; i++) {
                    scores[i] = raw ? bytes.getFloat() : typed.getFp32Contents(i);
                }
            } else if (name.equals("decision") && raw) {
                while (bytes.hasRemaining()) {
                    byte[] text = new byte[bytes.getInt()];
                    bytes.get(text);
                    decisions.add(new String(text, StandardCharsets.UTF_8));
                }
            } else if (name.equals("decision")) {
                typed.getBytesContentsList().forEach(b -> decisions.add(b.toStringUtf8()));
            }
        }
        InferParameter degraded = response.getParametersMap().get("degraded");
        return new Scores(scores, decisions, degraded != null && degraded.getBoolParam()).checked(rows.size());
    }

    private static void addInput(ModelInferRequest.Builder request, String name, String type, int rows,
                                 InferTensorContents.Builder contents) {
        request.addInputsBuilder().setName(name).setDatatype(type).addShape(rows).setContents(contents);
    }
}
