package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.api.DataType;
import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.ServalException;
import dev.serval.api.Shapes;
import dev.serval.api.Tensor;
import dev.serval.api.TensorData;
import dev.serval.api.TensorSpec;
import dev.serval.testing.Examples;
import dev.serval.testing.TestServer;
import dev.serval.transport.http.BinaryBodies.Answer;
import dev.serval.transport.http.BinaryBodies.Binary;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Truncates and corrupts valid binary bodies at random (seeded, so every run is the same) and checks
 * the contract: a request whose tensors are consistent, or INVALID_ARGUMENT with a message; over a
 * socket, 200 or 400 and never a 500 or a dead server. Anything else (an index out of bounds, a
 * negative array size, an OutOfMemoryError) would be a 500 for a client's mistake.
 */
class BinaryDecoderFuzzTest {
    /** Deterministic by default; {@code -Dserval.fuzz.iterations=1000000 -Dserval.fuzz.seed=N} digs deeper. */
    private static final int ITERATIONS = Integer.getInteger("serval.fuzz.iterations", 20_000);
    private static final long SEED = Long.getLong("serval.fuzz.seed", 20240611L);
    private static final int MAX_REPORTED = 15;
    private static final String JUNK = "{}[]\":,0123456789-e ";

    private static final List<TensorSpec> SPECS = List.of(
            new TensorSpec("f", DataType.FP32, new long[] {-1, -1}),
            new TensorSpec("s", DataType.BYTES, new long[] {-1}));

    /** A valid body: JSON inputs beside binary ones of every kind of width, BOOL and BYTES. */
    private static byte[][] seed(int variant) {
        String json = switch (variant) {
            case 0 -> "{\"inputs\": [{\"name\": \"f\", \"shape\": [2, 2], \"datatype\": \"FP32\", "
                    + "\"parameters\": {\"binary_data_size\": 16}}]}";
            case 1 -> "{\"id\": \"x\", \"inputs\": [{\"name\": \"s\", \"shape\": [3], \"datatype\": \"BYTES\", "
                    + "\"parameters\": {\"binary_data_size\": 19}}, {\"name\": \"b\", \"shape\": [4], \"datatype\": \"BOOL\", "
                    + "\"parameters\": {\"binary_data_size\": 4}}, {\"name\": \"j\", \"shape\": [2], \"datatype\": \"INT8\", "
                    + "\"data\": [1, -1]}], \"parameters\": {\"binary_data_output\": true}}";
            default -> "{\"inputs\": [{\"name\": \"h\", \"shape\": [3], \"datatype\": \"FP16\", "
                    + "\"parameters\": {\"binary_data_size\": 6}}, {\"name\": \"l\", \"shape\": [1, 1], \"datatype\": \"INT64\", "
                    + "\"parameters\": {\"binary_data_size\": 8}}, {\"name\": \"e\", \"shape\": [0], \"datatype\": \"BYTES\", "
                    + "\"parameters\": {\"binary_data_size\": 0}}], \"outputs\": [{\"name\": \"y\", "
                    + "\"parameters\": {\"binary_data\": true}}]}";
        };
        ByteBuffer raw = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        switch (variant) {
            case 0 -> raw.putFloat(1.5f).putFloat(-0f).putFloat(Float.NaN).putFloat(3e38f);
            case 1 -> raw.putInt(2).put("hi".getBytes(StandardCharsets.UTF_8)).putInt(0).putInt(5)
                    .put("é\u0000c".getBytes(StandardCharsets.UTF_8)).put(new byte[] {1, 0, 0, 1});
            default -> raw.putShort((short) 0x3C00).putShort((short) 0x7C00).putShort((short) 1).putLong(Long.MIN_VALUE);
        }
        return new byte[][] {json.getBytes(StandardCharsets.UTF_8), Arrays.copyOf(raw.array(), raw.position())};
    }

    @Test
    void decode_onlyEverThrowsInvalidArgumentForCorruptedBodies() {
        Random random = new Random(SEED);
        List<String> failures = new ArrayList<>();
        int accepted = 0;
        for (int i = 0; i < ITERATIONS; i++) {
            byte[][] seed = seed(random.nextInt(3));
            int[] headerLength = {seed[0].length};
            byte[] body = corrupt(random, seed[0], seed[1], headerLength);
            String problem = check(body, headerLength[0]);
            if (problem == null) {
                accepted++;
            } else if (!problem.isEmpty() && failures.size() < MAX_REPORTED) {
                failures.add("#" + i + " (header " + headerLength[0] + " of " + body.length + "): " + problem
                        + "\n    body: " + new String(body, StandardCharsets.ISO_8859_1));
            }
        }
        assertThat(failures).as("decoder contract violations (seed %d)", SEED).isEmpty();
        // The corruptions must leave a fair share decodable, or only the first checks are exercised.
        assertThat(accepted).isGreaterThan(ITERATIONS / 20);
    }

    @Test
    void infer_neverAnswers500ToCorruptedBodies() throws IOException {
        Random random = new Random(SEED + 1);
        com.fasterxml.jackson.databind.JsonNode request = BinaryBodies.JSON.readTree(
                Examples.references().resolve("datatypes.json").toFile()).get("cases").get(1).get("request");
        Binary valid = BinaryBodies.toBinary(request);
        valid.json().putObject("parameters").put("binary_data_output", true);
        byte[] json = valid.header().getBytes(StandardCharsets.UTF_8);
        List<String> failures = new ArrayList<>();
        int ok = 0;
        try (TestServer server = TestServer.start(Examples.testRepository())) {
            for (int i = 0; i < 300; i++) {
                int[] headerLength = {json.length};
                byte[] body = corrupt(random, json, valid.bytes(), headerLength);
                String header = random.nextInt(20) == 0 ? " " + headerLength[0] + "x" : Integer.toString(headerLength[0]);
                Answer answer = BinaryBodies.send(server, "/v2/models/datatypes/infer", body, BinaryBodies.HEADER, header);
                if (answer.status() == 200) {
                    ok++;
                } else if (answer.status() != 400 || answer.error().isBlank()) {
                    failures.add("#" + i + ": " + answer);
                }
            }
            Answer after = BinaryBodies.post(server, "/v2/models/datatypes/infer", valid.header(), valid.bytes());
            assertThat(after.status()).as("a valid request after the corrupted ones").isEqualTo(200);
        }
        assertThat(failures).as("answers other than 200 or 400").isEmpty();
        assertThat(ok).as("corruptions that still decode (e.g. flipped data bytes)").isGreaterThan(10);
    }

    /** The seed's JSON and raw bytes, truncated, flipped or with a wrong header length; updates headerLength. */
    private static byte[] corrupt(Random random, byte[] json, byte[] raw, int[] headerLength) {
        byte[] body = BinaryBodies.concat(json, raw);
        switch (random.nextInt(7)) {
            case 0 -> body = Arrays.copyOf(body, random.nextInt(body.length + 1));
            case 1 -> {
                for (int n = 1 + random.nextInt(3); n > 0 && raw.length > 0; n--) {
                    body[json.length + random.nextInt(raw.length)] = (byte) random.nextInt(256);
                }
            }
            case 2 -> body[random.nextInt(json.length)] = (byte) JUNK.charAt(random.nextInt(JUNK.length()));
            case 3 -> headerLength[0] = Math.max(0, json.length + random.nextInt(9) - 4);
            case 4 -> {
                // Another binary_data_size.
                String text = new String(json, StandardCharsets.UTF_8);
                int at = text.indexOf("\"binary_data_size\": ");
                if (at >= 0) {
                    int digits = at + "\"binary_data_size\": ".length();
                    int end = digits;
                    while (Character.isDigit(text.charAt(end))) {
                        end++;
                    }
                    String[] sizes = {"0", "1", "3", "-8", "4294967296", "99999999999999999999", "1.5", "\"4\"", "true"};
                    text = text.substring(0, digits) + sizes[random.nextInt(sizes.length)] + text.substring(end);
                }
                byte[] changed = text.getBytes(StandardCharsets.UTF_8);
                headerLength[0] = changed.length;
                body = BinaryBodies.concat(changed, raw);
            }
            case 5 -> body = BinaryBodies.concat(body, new byte[1 + random.nextInt(8)]);
            default -> {
                // Valid as it is.
            }
        }
        return body;
    }

    /** Null when the outcome honours the contract, "" when RestApi refuses it first, else what went wrong. */
    private static String check(byte[] body, int headerLength) {
        if (headerLength > body.length) {
            return ""; // RestApi answers 400 before any decoder sees it (covered over the socket).
        }
        InferenceRequest request;
        try {
            JsonRequestDecoder.Header header = JsonRequestDecoder.decodeHeader(body, 0, headerLength, SPECS);
            request = BinaryRequestDecoder.decode(header,
                    new ByteArrayInputStream(body, headerLength, body.length - headerLength),
                    body.length - headerLength, headerLength, "m", "1");
        } catch (ServalException e) {
            if (e.code() != ErrorCode.INVALID_ARGUMENT) {
                return "ServalException " + e.code() + ": " + e.getMessage();
            }
            return e.getMessage() == null || e.getMessage().isBlank() ? "ServalException without a message" : null;
        } catch (Throwable t) {
            return t.getClass().getName() + ": " + t.getMessage() + " at " + Arrays.toString(t.getStackTrace()).substring(0,
                    Math.min(400, Arrays.toString(t.getStackTrace()).length()));
        }
        for (Tensor tensor : request.inputs()) {
            if (tensor == null) {
                return "a null input";
            }
            if (tensor.data().elementCount(tensor.type()) != Shapes.elementCount(tensor.shape())) {
                return "tensor " + tensor + " holds " + tensor.data().elementCount(tensor.type()) + " elements";
            }
            if (tensor.data() instanceof TensorData.FixedWidth fixed && !fixed.buffer().isDirect()) {
                return "tensor " + tensor + " is not in a direct buffer";
            }
            if (tensor.type() == DataType.BOOL) {
                for (int i = 0; i < tensor.buffer().limit(); i++) {
                    if ((tensor.buffer().get(i) & 0xFE) != 0) {
                        return "BOOL tensor " + tensor + " holds byte " + tensor.buffer().get(i);
                    }
                }
            }
            tensor.release();
        }
        return null;
    }
}
