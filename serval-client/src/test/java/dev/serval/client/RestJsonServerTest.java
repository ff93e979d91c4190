package dev.serval.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.serval.client.ServalClientException.Status;
import dev.serval.server.ServalServer;
import dev.serval.server.ServerOptions;
import dev.serval.testing.Certificates;
import dev.serval.testing.Examples;
import dev.serval.testing.GatedRuntime;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The client over REST with JSON tensors, against a real Serval on the example models. */
class RestJsonServerTest {
    private static ServalServer bundled;
    private static ServalServer testModels;
    private static ServalClient client;
    private static ServalClient testClient;

    @BeforeAll
    static void start() {
        bundled = TestServers.bundled();
        testModels = TestServers.testModels();
        client = ServalClient.rest(TestServers.http(bundled));
        testClient = ServalClient.rest(TestServers.http(testModels));
    }

    @AfterAll
    static void stop() {
        client.close();
        testClient.close();
        bundled.close();
        testModels.close();
    }

    static List<References.Case> iris() {
        return References.cases("iris");
    }

    static List<References.Case> datatypes() {
        return References.cases("datatypes");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("iris")
    void infer_irisMatchesReferenceOutputs(References.Case reference) {
        References.assertMatches(reference, client.infer(reference.inferRequest()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("datatypes")
    void infer_everyDatatypeRoundTripsExactly(References.Case reference) {
        References.assertMatches(reference, testClient.infer(reference.inferRequest()));
    }

    @Test
    void readmeExample_works() {
        try (ServalClient client = ServalClient.rest(TestServers.http(bundled))) {
            InferResult result = client.infer(InferRequest.builder("iris")
                    .input(InferInput.fp32("input", new long[] {1, 4}, new float[] {5.1f, 3.5f, 1.4f, 0.2f})).build());
            float[] probabilities = result.output("probabilities").toFloatArray();
            assertThat(probabilities).containsExactly(new float[] {0.9999993f, 1.408476E-10f, 7.435616E-7f},
                    org.assertj.core.data.Offset.offset(1e-6f));
        }
    }

    @Test
    void health_liveAndReady() {
        assertThat(client.live()).isTrue();
        assertThat(client.ready()).isTrue();
        assertThat(client.modelReady("iris")).isTrue();
        assertThat(client.modelReady("iris", "1")).isTrue();
    }

    @Test
    void serverMetadata_namesServerAndExtensions() {
        ServerMetadata metadata = client.serverMetadata();
        assertThat(metadata.name()).isEqualTo("serval");
        assertThat(metadata.version()).isNotEmpty();
        assertThat(metadata.extensions()).contains("classification");
    }

    @Test
    void modelMetadata_describesIris() {
        ModelMetadata metadata = client.modelMetadata("iris");
        assertThat(metadata.name()).isEqualTo("iris");
        assertThat(metadata.versions()).containsExactly("1");
        assertThat(metadata.platform()).isEqualTo("onnxruntime_onnx");
        assertThat(metadata.inputs()).containsExactly(new ModelMetadata.Tensor("input", DataType.FP32, new long[] {-1, 4}));
        assertThat(metadata.outputs()).extracting(ModelMetadata.Tensor::name).containsExactly("logits", "probabilities");
        assertThat(client.modelMetadata("iris", "1")).isEqualTo(metadata);
    }

    @Test
    void infer_echoesIdAndReturnsOnlyTheOutputsAskedFor() {
        InferResult result = client.infer(InferRequest.builder("iris").id("req-7")
                .input(InferInput.fp32("input", new long[] {1, 4}, new float[] {5.1f, 3.5f, 1.4f, 0.2f}))
                .output("probabilities")
                .priority(1)
                .scheduleTimeout(Duration.ofSeconds(30))
                .build());
        assertThat(result.id()).contains("req-7");
        assertThat(result.outputs()).extracting(InferOutput::name).containsExactly("probabilities");
        InferOutput probabilities = result.output("probabilities");
        assertThat(probabilities.shape()).containsExactly(1, 3);
        assertThat(probabilities.asFloatBuffer().get(0)).isGreaterThan(0.99f);
        assertThat(result.degraded()).isFalse();
    }

    @Test
    void infer_classificationGivesLabelledTopClasses() {
        InferResult result = client.infer(InferRequest.builder("iris")
                .input(InferInput.fp32("input", new long[] {1, 4}, new float[] {6.7f, 3.0f, 5.2f, 2.3f}))
                .output("probabilities", 2)
                .build());
        InferOutput top = result.output("probabilities");
        assertThat(top.datatype()).isEqualTo(DataType.BYTES);
        assertThat(top.shape()).containsExactly(1, 2);
        assertThat(top.toStringArray()[0]).endsWith(":2:virginica");
    }

    @Test
    void infer_unknownModelIsNotFound() {
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> client.infer(
                InferRequest.builder("no_such_model").input(InferInput.fp32("input", new long[] {1}, new float[] {1})).build()));
        assertThat(e.status()).isEqualTo(Status.NOT_FOUND);
        assertThat(e.getMessage()).contains("no_such_model");
        assertThatThrownBy(() -> client.modelReady("no_such_model"))
                .isInstanceOfSatisfying(ServalClientException.class, x -> assertThat(x.status()).isEqualTo(Status.NOT_FOUND));
        assertThatThrownBy(() -> client.modelMetadata("iris", "99"))
                .isInstanceOfSatisfying(ServalClientException.class, x -> assertThat(x.status()).isEqualTo(Status.NOT_FOUND));
    }

    @Test
    void infer_wrongShapeIsInvalidArgumentWithTheServersMessage() {
        ServalClientException e = catchThrowableOfType(ServalClientException.class, () -> client.infer(
                InferRequest.builder("iris").input(InferInput.fp32("input", new long[] {1, 3}, new float[] {1, 2, 3})).build()));
        assertThat(e.status()).isEqualTo(Status.INVALID_ARGUMENT);
        assertThat(e.getMessage()).isEqualTo("input 'input' has shape [1,3] but model 'iris' expects [-1,4]");
        assertThat(e.toString()).contains("INVALID_ARGUMENT");
    }

    @Test
    void infer_callTimeoutAndScheduleTimeoutAreDeadlineExceeded() throws Exception {
        GatedRuntime gated = new GatedRuntime();
        gated.close("iris");
        try (ServalServer server = TestServers.start(ServerOptions.defaults(Examples.repository()), gated);
             ServalClient gatedClient = ServalClient.rest(TestServers.http(server))) {
            InferRequest request = InferRequest.builder("iris")
                    .input(InferInput.fp32("input", new long[] {1, 4}, new float[] {5.1f, 3.5f, 1.4f, 0.2f}))
                    .build();
            // The first request holds iris's only instance at the gate.
            CompletableFuture<InferResult> first = CompletableFuture.supplyAsync(() -> gatedClient.infer(request));
            gated.awaitBlocked("iris");

            ServalClientException call = catchThrowableOfType(ServalClientException.class,
                    () -> gatedClient.infer(request, Duration.ofMillis(200)));
            assertThat(call.status()).isEqualTo(Status.DEADLINE_EXCEEDED);

            ServalClientException scheduled = catchThrowableOfType(ServalClientException.class, () -> gatedClient.infer(
                    InferRequest.builder("iris").input(request.inputs().get(0)).scheduleTimeout(Duration.ofMillis(1)).build()));
            assertThat(scheduled.status()).isEqualTo(Status.DEADLINE_EXCEEDED);
            assertThat(scheduled.getMessage()).isNotEmpty();

            gated.open("iris");
            assertThat(first.get().output("probabilities").elementCount()).isEqualTo(3);
        }
    }

    @Test
    void bearerToken_isSentAndItsAbsenceIsUnauthenticated() {
        ServerOptions options = ServerOptions.defaults(Examples.repository())
                .withTokens(Optional.of("secret-token"), Optional.empty());
        try (ServalServer server = TestServers.start(options);
             ServalClient anonymous = ServalClient.rest(TestServers.http(server));
             ServalClient wrong = ServalClient.builder().endpoint(TestServers.http(server)).bearerToken("guess").build();
             ServalClient authorized = ServalClient.builder().endpoint(TestServers.http(server)).bearerToken("secret-token").build()) {
            assertThatThrownBy(anonymous::serverMetadata).isInstanceOfSatisfying(ServalClientException.class,
                    e -> assertThat(e.status()).isEqualTo(Status.UNAUTHENTICATED));
            assertThatThrownBy(wrong::serverMetadata).isInstanceOfSatisfying(ServalClientException.class,
                    e -> assertThat(e.status()).isIn(Status.UNAUTHENTICATED, Status.PERMISSION_DENIED));
            assertThat(authorized.serverMetadata().name()).isEqualTo("serval");
            assertThat(authorized.modelMetadata("iris").name()).isEqualTo("iris");
        }
    }

    @Test
    void tls_trustsTheGivenCertificate() throws Exception {
        Certificates.Pair pair = Certificates.selfSigned();
        ServerOptions options = ServerOptions.defaults(Examples.repository()).withTls(pair.certificate(), pair.key());
        try (ServalServer server = TestServers.start(options)) {
            URI https = URI.create("https://127.0.0.1:" + server.httpPort());
            try (ServalClient trusting = ServalClient.builder().endpoint(https).trustCertificate(pair.certificate()).build()) {
                References.Case reference = References.cases("iris").get(0);
                References.assertMatches(reference, trusting.infer(reference.inferRequest()));
            }
            try (ServalClient untrusting = ServalClient.builder().endpoint(https).build()) {
                assertThatThrownBy(untrusting::live).isInstanceOfSatisfying(ServalClientException.class,
                        e -> assertThat(e.status()).isEqualTo(Status.UNAVAILABLE));
            }
        }
    }

    @Test
    void unreachableServerIsUnavailable() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        try (ServalClient nowhere = ServalClient.rest(URI.create("http://127.0.0.1:" + port))) {
            assertThatThrownBy(nowhere::live).isInstanceOfSatisfying(ServalClientException.class,
                    e -> assertThat(e.status()).isEqualTo(Status.UNAVAILABLE));
        }
    }

    @Test
    void closedClientRefusesCalls() {
        ServalClient closing = ServalClient.rest(TestServers.http(bundled));
        assertThat(closing.live()).isTrue();
        closing.close();
        closing.close();
        assertThatThrownBy(closing::live).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }
}
