package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model over 2 GB, served over HTTP: one float32 table of 524,800 x 1,024 (2,149,580,800 bytes)
 * in weights.bin beside model.onnx (examples/test-models/over_2gb, made by export_models.py), and
 * rows = table[ids]. The test writes weights.bin itself as a sparse file, holes except for three
 * known rows, one of them starting exactly at 2 GiB and one the last: a 32-bit offset anywhere on
 * the way (protobuf, the external data check, ONNX Runtime) would answer the wrong row or none.
 */
class OverTwoGigabyteModelTest {
    private static final int ROW = 1024;
    private static final long ROWS = 524_800;
    private static final long AT_2_GIB = (1L << 31) / (ROW * Float.BYTES);
    private static final long LAST = ROWS - 1;

    @TempDir
    static Path dir;
    private static TestServer server;

    @BeforeAll
    static void start() throws IOException {
        Path version = Files.createDirectories(dir.resolve("repository/over_2gb/1"));
        Files.copy(Examples.root().resolve("examples/test-models/over_2gb/model.onnx"), version.resolve("model.onnx"));
        try (RandomAccessFile weights = new RandomAccessFile(version.resolve("weights.bin").toFile(), "rw")) {
            weights.setLength(ROWS * ROW * Float.BYTES);
            for (long row : new long[] {0, AT_2_GIB, LAST}) {
                ByteBuffer values = ByteBuffer.allocate(ROW * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                for (int j = 0; j < ROW; j++) {
                    values.putFloat(value(row, j));
                }
                weights.seek(row * ROW * Float.BYTES);
                weights.write(values.array());
            }
        }
        server = TestServer.start(ServerOptions.defaults(dir.resolve("repository")).withGrpcPort(ServerOptions.GRPC_OFF));
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    /** Element j of a written row: distinct per row, exact in float32 and in JSON text. */
    private static float value(long row, int j) {
        return row == 0 ? 1 + j : row == AT_2_GIB ? -0.5f * j : j / 4f + 1_000;
    }

    @Test
    void answersRowsOnBothSidesOf2GiB() {
        Reply reply = server.post("/v2/models/over_2gb/infer", "{\"inputs\": [{\"name\": \"ids\", \"shape\": [4], "
                + "\"datatype\": \"INT64\", \"data\": [" + AT_2_GIB + ", " + LAST + ", 0, 300000]}]}");

        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        JsonNode rows = reply.json().get("outputs").get(0);
        assertThat(rows.get("shape").toString()).isEqualTo("[4,1024]");
        JsonNode data = rows.get("data");
        long[] asked = {AT_2_GIB, LAST, 0};
        for (int i = 0; i < asked.length; i++) {
            for (int j = 0; j < ROW; j++) {
                assertThat(data.get(i * ROW + j).floatValue()).as("row %d, element %d", asked[i], j)
                        .isEqualTo(value(asked[i], j));
            }
        }
        for (int j = 0; j < ROW; j++) {
            assertThat(data.get(3 * ROW + j).floatValue()).as("a row never written").isZero();
        }
    }

    @Test
    void metadata_describesTheModelFromItsGraph() {
        Reply reply = server.get("/v2/models/over_2gb");

        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        assertThat(reply.json().get("inputs").get(0).get("datatype").asText()).isEqualTo("INT64");
        assertThat(reply.json().get("outputs").get(0).get("shape").toString()).isEqualTo("[-1,1024]");
    }
}
