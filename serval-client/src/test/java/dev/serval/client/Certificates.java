package dev.serval.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Self-signed certificates for 127.0.0.1 and localhost, made with openssl. */
final class Certificates {
    private Certificates() {
    }

    /** A PEM certificate and its PKCS#8 PEM key. */
    record Pair(Path certificate, Path key) {
    }

    static Pair selfSigned() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("serval-client-tls");
        dir.toFile().deleteOnExit();
        Path certificate = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", certificate.toString(), "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
                .redirectErrorStream(true).start();
        String output = new String(openssl.getInputStream().readAllBytes());
        assertThat(openssl.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(openssl.exitValue()).as(output).isZero();
        certificate.toFile().deleteOnExit();
        key.toFile().deleteOnExit();
        return new Pair(certificate, key);
    }
}
