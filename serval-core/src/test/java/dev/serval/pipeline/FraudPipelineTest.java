package dev.serval.pipeline;

import static dev.serval.testing.TestTensors.floats;
import static dev.serval.testing.TestTensors.fp32;
import static dev.serval.testing.TestTensors.fp64;
import static dev.serval.testing.TestTensors.int64;
import static dev.serval.testing.TestTensors.strings;
import static dev.serval.testing.TestTensors.texts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.ModelMetadata;
import dev.serval.api.Parameters;
import dev.serval.api.RequestedOutput;
import dev.serval.api.ServalException;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.features.Event;
import dev.serval.features.Feature;
import dev.serval.features.Lookup;
import dev.serval.metrics.ServalMetrics;
import dev.serval.model.ModelControl;
import dev.serval.model.ModelRegistry;
import dev.serval.model.ModelRepository;
import dev.serval.model.ModelStatus;
import dev.serval.model.RegistryOptions;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.testing.Examples;
import dev.serval.testing.InMemoryFeatureStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bundled fraud model served through the registry with a feature store: its pipeline
 * reproduces what examples/fraud/train.py computed (features and scores), batches a request's
 * rows into one lookup, flags degraded lookups, validates against the pipeline's inputs, and
 * without a store the model fails to load while the others serve.
 */
class FraudPipelineTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static OnnxBackend backend;
    private static JsonNode reference;

    private InMemoryFeatureStore store;
    private ModelRegistry registry;

    @BeforeAll
    static void open() throws IOException {
        backend = new OnnxBackend();
        reference = JSON.readTree(Examples.root().resolve("examples/fraud/reference.json").toFile());
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    @BeforeEach
    void start() throws IOException {
        store = new InMemoryFeatureStore();
        registry = registry(new RegistryOptions(1, false).withFeatureStore(store), List.of("fraud"));
    }

    @AfterEach
    void stop() {
        registry.close();
    }

    private static ModelRegistry registry(RegistryOptions options, List<String> models) throws IOException {
        return ModelRegistry.start(new ModelRepository(Examples.repository()), backend, options,
                ServalMetrics.withoutJvm(), ModelControl.explicit(models));
    }

    /** Every reference case's transaction as one request of N rows. */
    private static List<Tensor> transactions(JsonNode cases) {
        int rows = cases.size();
        String[] cards = new String[rows];
        String[] merchants = new String[rows];
        float[] amounts = new float[rows];
        long[] times = new long[rows];
        for (int i = 0; i < rows; i++) {
            JsonNode transaction = cases.get(i).get("transaction");
            cards[i] = transaction.get("card_id").asText();
            merchants[i] = transaction.get("merchant").asText();
            amounts[i] = (float) transaction.get("amount").asDouble();
            times[i] = transaction.get("timestamp").asLong();
        }
        long[] shape = {rows};
        return List.of(strings("card_id", shape, cards), fp32("amount", shape, amounts),
                strings("merchant", shape, merchants), int64("timestamp", shape, times));
    }

    private void recordHistory() {
        List<Event> events = new ArrayList<>();
        for (JsonNode event : reference.get("history")) {
            events.add(new Event(event.get("card_id").asText(), event.get("merchant").asText(),
                    event.get("amount").asDouble(), event.get("timestamp").asLong()));
        }
        store.record(events);
    }

    private InferenceResponse infer(List<Tensor> inputs, List<RequestedOutput> outputs) {
        return registry.resolve("fraud", null).infer(
                new InferenceRequest("fraud", null, "t-1", Parameters.empty(), inputs, outputs));
    }

    @Test
    void fraud_showsClientsThePipelinesInputsAndOutputs() {
        ModelMetadata metadata = registry.resolve("fraud", null).metadata();

        assertThat(metadata.inputs()).extracting(TensorSpec::toString).containsExactly(
                "card_id BYTES [-1]", "amount FP32 [-1]", "merchant BYTES [-1]", "timestamp INT64 [-1]");
        assertThat(metadata.outputs()).extracting(TensorSpec::toString).containsExactly(
                "score FP32 [-1,1]", "decision BYTES [-1,1]");
    }

    @Test
    void fraud_reproducesThePythonFeaturesAndScores() {
        recordHistory();
        JsonNode cases = reference.get("cases");
        double tolerance = reference.get("tolerance").get("absolute").asDouble();
        assertThat(reference.get("features")).extracting(JsonNode::asText)
                .containsExactly(Arrays.stream(Feature.values()).map(Feature::wireName).toArray(String[]::new));

        // The test store computes the features Python computed.
        List<String> cards = new ArrayList<>();
        long[] times = new long[cases.size()];
        for (int i = 0; i < cases.size(); i++) {
            cards.add(cases.get(i).get("transaction").get("card_id").asText());
            times[i] = cases.get(i).get("transaction").get("timestamp").asLong();
        }
        Lookup lookup = store.lookup(cards, times);
        for (int i = 0; i < cases.size(); i++) {
            for (Feature feature : Feature.values()) {
                assertThat(lookup.get(i, feature)).as("case %d %s", i, feature.wireName())
                        .isEqualTo((float) cases.get(i).get("features").get(feature.ordinal()).asDouble());
            }
        }

        int before = store.lookups();
        InferenceResponse response = infer(transactions(cases), List.of());

        assertThat(store.lookups() - before).as("one lookup for the whole request").isEqualTo(1);
        assertThat(response.parameters().asMap()).doesNotContainKey("degraded");
        assertThat(response.outputs()).extracting(Tensor::name).containsExactly("score", "decision");
        float[] scores = floats(response.outputs().get(0));
        String[] decisions = texts(response.outputs().get(1));
        assertThat(response.outputs().get(0).shape()).containsExactly(cases.size(), 1);
        for (int i = 0; i < cases.size(); i++) {
            JsonNode expected = cases.get(i);
            assertThat((double) scores[i]).as("score of case %d (%s)", i, expected.get("pattern"))
                    .isCloseTo(expected.get("score").asDouble(), within(tolerance));
            assertThat(decisions[i]).as("decision of case %d", i).isEqualTo(expected.get("decision").asText());
        }
        assertThat(decisions).contains("approve", "decline");
    }

    @Test
    void fraud_answersTheOutputsAskedFor() {
        InferenceResponse response = infer(transactions(reference.get("cases")),
                List.of(new RequestedOutput("decision", Parameters.empty())));

        assertThat(response.outputs()).extracting(Tensor::name).containsExactly("decision");
    }

    @Test
    void fraud_flagsAResponseWhoseLookupWasDegraded() {
        store.degrade(true);

        InferenceResponse response = infer(transactions(reference.get("cases")), List.of());

        assertThat(response.parameters().asMap()).containsEntry("degraded", Boolean.TRUE);
        assertThat(response.outputs()).hasSize(2);
    }

    @Test
    void fraud_concurrentRequests_eachGetTheirOwnRowsBack() throws Exception {
        recordHistory();
        JsonNode cases = reference.get("cases");
        List<Future<InferenceResponse>> answers = new ArrayList<>();
        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int round = 0; round < 4; round++) {
                for (int i = 0; i < cases.size(); i++) {
                    List<Tensor> one = transactions(JSON.createArrayNode().add(cases.get(i)));
                    answers.add(threads.submit(() -> infer(one, List.of())));
                }
            }
        }
        for (int i = 0; i < answers.size(); i++) {
            JsonNode expected = cases.get(i % cases.size());
            InferenceResponse response = answers.get(i).get();
            assertThat((double) floats(response.outputs().get(0))[0]).as("request %d", i)
                    .isCloseTo(expected.get("score").asDouble(), within(1e-5));
            assertThat(texts(response.outputs().get(1))).containsExactly(expected.get("decision").asText());
        }
    }

    @Test
    void fraud_whenTheStoreFails_answersUnavailable_namingTheModel() {
        store.fail("rocksdb: disk full");

        assertThatThrownBy(() -> infer(transactions(reference.get("cases")), List.of()))
                .isInstanceOfSatisfying(ServalException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                    assertThat(e.getMessage())
                            .isEqualTo("the feature lookup for model 'fraud' failed: rocksdb: disk full");
                });
    }

    @Test
    void fraud_warmsUpThroughItsPipeline(@TempDir Path folder)
            throws IOException {
        Path model = Files.createDirectories(folder.resolve("fraud/1"));
        Files.copy(Examples.repository().resolve("fraud/1/model.onnx"), model.resolve("model.onnx"));
        Files.writeString(folder.resolve("fraud/config.yaml"),
                Files.readString(Examples.repository().resolve("fraud/config.yaml"))
                        + "warmup: {count: 2, batch_size: 4}\n");
        try (ModelRegistry warmed = ModelRegistry.load(new ModelRepository(folder), backend,
                new RegistryOptions(1, false).withFeatureStore(store))) {
            assertThat(warmed.allReady()).isTrue();
            assertThat(store.lookups()).as("each warm-up run looks its rows up").isEqualTo(2);
        }
    }

    @Test
    void fraud_rejectsInputsThatDoNotFitThePipeline_namingThem() {
        List<Tensor> inputs = new ArrayList<>(transactions(reference.get("cases")));
        int rows = (int) inputs.get(1).shape()[0];
        inputs.set(1, fp64("amount", new long[] {rows}, new double[rows]));
        assertThatThrownBy(() -> infer(inputs, List.of())).isInstanceOfSatisfying(ServalException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
            assertThat(e.getMessage()).contains("input 'amount' has datatype FP64 but model 'fraud' expects FP32");
        });

        inputs.remove(1);
        assertThatThrownBy(() -> infer(inputs, List.of())).hasMessageContaining("missing input 'amount'");

        String[] cards = new String[65];
        Arrays.fill(cards, "c1");
        long[] shape = {65};
        List<Tensor> tooMany = List.of(strings("card_id", shape, cards), fp32("amount", shape, new float[65]),
                strings("merchant", shape, cards), int64("timestamp", shape, new long[65]));
        assertThatThrownBy(() -> infer(tooMany, List.of()))
                .hasMessageContaining("the request has a batch of 65 but model 'fraud' takes at most 64");
        assertThat(store.lookups()).as("nothing looked up for requests refused").isZero();
    }

    @Test
    void fraud_withoutAFeatureStore_failsToLoad_whileOthersServe() throws IOException {
        try (ModelRegistry bare = registry(new RegistryOptions(1, false), List.of("fraud", "iris"))) {
            assertThat(bare.index()).extracting(s -> s.name() + ":" + s.version() + ":" + s.state())
                    .contains("fraud:1:UNAVAILABLE", "iris:1:READY");
            ModelStatus fraud = bare.index().stream().filter(s -> s.name().equals("fraud")).findFirst().orElseThrow();
            assertThat(fraud.reason()).hasValueSatisfying(reason -> assertThat(reason).contains(
                    "model 'fraud' looks up features (setting 'pipeline.features') but the server has no feature "
                            + "store configured"));
            assertThatThrownBy(() -> bare.resolve("fraud", null)).isInstanceOfSatisfying(ServalException.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
            assertThat(bare.resolve("iris", null).name()).isEqualTo("iris");
        }
    }
}
