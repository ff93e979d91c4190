package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.serval.server.ServerOptions;
import dev.serval.testing.Certificates;
import dev.serval.testing.Examples;
import dev.serval.testing.Reply;
import dev.serval.testing.TestServer;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bearer tokens for inference and administration, and TLS with a PEM certificate and key. */
class AccessControlTest {
    private static final String IRIS = """
            {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}""";

    @Test
    void inferenceToken_isRequiredForInferenceAndMetadata_notForHealth() {
        ServerOptions options = ServerOptions.defaults(Examples.repository())
                .withTokens(Optional.of("infer-secret"), Optional.of("admin-secret"));
        try (TestServer server = TestServer.start(options)) {
            Reply anonymous = server.post("/v2/models/iris/infer", IRIS);
            assertThat(anonymous.status()).isEqualTo(401);
            assertThat(anonymous.headers().firstValue("www-authenticate")).hasValue("Bearer");
            assertThat(anonymous.error()).contains("Authorization: Bearer");
            assertThat(server.post("/v2/models/iris/infer", IRIS, "Authorization", "Bearer wrong").status()).isEqualTo(401);
            assertThat(server.get("/v2/models/iris").status()).isEqualTo(401);
            assertThat(server.get("/v2").status()).isEqualTo(401);

            assertThat(server.post("/v2/models/iris/infer", IRIS, "Authorization", "Bearer infer-secret").status())
                    .isEqualTo(200);
            assertThat(server.post("/v2/models/iris/infer", IRIS, "Authorization", "bearer admin-secret").status())
                    .as("the admin token also grants inference").isEqualTo(200);
            assertThat(server.get("/v2/models/iris", "Authorization", "Bearer infer-secret").status()).isEqualTo(200);

            Reply index = server.post("/v2/repository/index", "", "Authorization", "Bearer infer-secret");
            assertThat(index.status()).as("administration needs the admin token").isEqualTo(403);
            assertThat(server.post("/v2/repository/index", "").status()).isEqualTo(401);
            assertThat(server.post("/v2/repository/index", "", "Authorization", "Bearer admin-secret").status())
                    .isEqualTo(200);

            assertThat(server.get("/v2/health/live").status()).isEqualTo(200);
            assertThat(server.get("/v2/health/ready").status()).isEqualTo(200);
        }
    }

    @Test
    void tls_servesOverHttpsWithPemCertificateAndKey(@TempDir Path dir) throws Exception {
        Certificates.Pair pair = Certificates.selfSigned(dir);
        Path certificate = pair.certificate();
        Path key = pair.key();

        ServerOptions options = ServerOptions.defaults(Examples.repository()).withTls(certificate, key);
        try (TestServer server = TestServer.start(options, HttpClient.newBuilder().sslContext(trusting(certificate)).build())) {
            assertThat(server.uri("/").getScheme()).isEqualTo("https");
            Reply reply = server.post("/v2/models/iris/infer", IRIS);
            assertThat(reply.status()).as(reply.body()).isEqualTo(200);
            assertThat(reply.json().get("model_name").asText()).isEqualTo("iris");
        }
    }

    private static SSLContext trusting(Path certificate) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(certificate)) {
            trust.setCertificateEntry("serval", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        return context;
    }
}
