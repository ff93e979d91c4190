package dev.serval.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Self-signed certificates for 127.0.0.1 and localhost, made with openssl (the TLS tests of every module). */
public final class Certificates {
    private Certificates() {
    }

    /** A PEM certificate and its PKCS#8 PEM key. */
    public record Pair(Path certificate, Path key) {
    }

    /** A fresh pair in a temporary folder, deleted when the JVM exits. */
    public static Pair selfSigned() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("serval-tls");
        dir.toFile().deleteOnExit();
        Pair pair = selfSigned(dir);
        pair.certificate().toFile().deleteOnExit();
        pair.key().toFile().deleteOnExit();
        return pair;
    }

    /** A fresh pair written as {@code cert.pem} and {@code key.pem} in {@code dir}. */
    public static Pair selfSigned(Path dir) throws IOException, InterruptedException {
        Path certificate = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", certificate.toString(), "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
                .redirectErrorStream(true).start();
        String output = new String(openssl.getInputStream().readAllBytes());
        assertThat(openssl.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(openssl.exitValue()).as(output).isZero();
        return new Pair(certificate, key);
    }
}
