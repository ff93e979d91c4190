package dev.serval.client;

import dev.serval.server.ServalServer;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The client over one wire against real Servals (the bundled and the test models), beside a
 * REST JSON client on the same servers: every reference output through the wire matches the
 * references and the JSON answer bit for bit. Subclasses name the wire and add what is its own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ServerWireTest {
    ServalServer bundled;
    ServalServer testModels;
    ServalClient json;
    ServalClient testJson;
    /** The client under test, on the bundled models and on the test models. */
    ServalClient wire;
    ServalClient testWire;

    /** A client of the wire under test for {@code server}. */
    abstract ServalClient connect(ServalServer server);

    @BeforeAll
    void start() {
        bundled = TestServers.bundled();
        testModels = TestServers.testModels();
        json = ServalClient.rest(TestServers.http(bundled));
        testJson = ServalClient.rest(TestServers.http(testModels));
        wire = connect(bundled);
        testWire = connect(testModels);
    }

    @AfterAll
    void stop() {
        for (AutoCloseable closeable : new AutoCloseable[] {json, wire, testJson, testWire, bundled, testModels}) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    static List<References.Case> iris() {
        return References.cases("iris");
    }

    static List<References.Case> datatypes() {
        return References.cases("datatypes");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("iris")
    void infer_irisMatchesReferencesAndJsonBitForBit(References.Case reference) {
        InferResult result = wire.infer(reference.inferRequest());
        References.assertMatches(reference, result);
        References.assertIdentical(result, json.infer(reference.inferRequest()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("datatypes")
    void infer_everyDatatypeMatchesReferencesAndJsonBitForBit(References.Case reference) {
        InferResult result = testWire.infer(reference.inferRequest());
        References.assertMatches(reference, result);
        References.assertIdentical(result, testJson.infer(reference.inferRequest()));
    }
}
