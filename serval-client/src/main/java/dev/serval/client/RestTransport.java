package dev.serval.client;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import javax.net.ssl.SSLContext;

/**
 * The REST wire on the JDK's {@link HttpClient}: JSON tensors, or Triton's binary tensor data
 * extension when {@code binary} is set. HTTP/1.1 over plain connections (no h2c upgrade round trip),
 * HTTP/2 where TLS negotiates it.
 */
final class RestTransport implements Transport {
    static final String HEADER_LENGTH = "Inference-Header-Content-Length";

    private final HttpClient http;
    private final URI base;
    private final boolean binary;
    private final String authorization;

    RestTransport(URI endpoint, boolean binary, Optional<String> bearerToken, Optional<SSLContext> tls, Duration connectTimeout) {
        String path = endpoint.getRawPath() == null || endpoint.getRawPath().isEmpty() ? "/" : endpoint.getRawPath();
        this.base = endpoint.resolve(path.endsWith("/") ? path : path + "/");
        this.binary = binary;
        this.authorization = bearerToken.map(token -> "Bearer " + token).orElse(null);
        HttpClient.Builder builder = HttpClient.newBuilder()
                .connectTimeout(connectTimeout)
                .version("https".equals(endpoint.getScheme()) ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1);
        tls.ifPresent(builder::sslContext);
        this.http = builder.build();
    }

    @Override
    public boolean live(Duration timeout) {
        return health(get("v2/health/live", timeout));
    }

    @Override
    public boolean ready(Duration timeout) {
        return health(get("v2/health/ready", timeout));
    }

    @Override
    public ServerMetadata serverMetadata(Duration timeout) {
        return JsonCodec.decodeServerMetadata(ok(get("v2", timeout)));
    }

    @Override
    public ModelMetadata modelMetadata(String model, String version, Duration timeout) {
        return JsonCodec.decodeModelMetadata(ok(get(modelPath(model, version), timeout)));
    }

    @Override
    public boolean modelReady(String model, String version, Duration timeout) {
        return health(get(modelPath(model, version) + "/ready", timeout));
    }

    @Override
    public InferResult infer(InferRequest request, Duration timeout) {
        JsonCodec.Body body = binary ? JsonCodec.encodeBinary(request) : JsonCodec.encodeJson(request);
        HttpRequest.Builder post = request(modelPath(request.model(), request.version().orElse(null)) + "/infer", timeout)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.bytes()));
        if (binary) {
            post.header("Content-Type", "application/octet-stream")
                    .header(HEADER_LENGTH, Integer.toString(body.headerLength()));
        } else {
            post.header("Content-Type", "application/json");
        }
        HttpResponse<byte[]> response = send(post.build(), "infer on model '" + request.model() + "'");
        byte[] bytes = ok(response);
        OptionalLong headerLength = OptionalLong.empty();
        Optional<String> header = response.headers().firstValue(HEADER_LENGTH);
        if (header.isPresent()) {
            try {
                headerLength = OptionalLong.of(Long.parseLong(header.get().trim()));
            } catch (NumberFormatException e) {
                throw Errors.invalidResponse(HEADER_LENGTH + " is '" + header.get() + "', not a number", e);
            }
        }
        long length = headerLength.orElse(bytes.length);
        if (length < 0 || length > bytes.length) {
            throw Errors.invalidResponse(HEADER_LENGTH + " is " + length + " but the body has " + bytes.length + " bytes", null);
        }
        return JsonCodec.decodeInfer(bytes, (int) length);
    }

    @Override
    public List<ModelIndexEntry> repositoryIndex(Duration timeout) {
        return JsonCodec.decodeIndex(ok(post("v2/repository/index", timeout)));
    }

    @Override
    public void loadModel(String model, Duration timeout) {
        ok(post("v2/repository/models/" + segment(model) + "/load", timeout));
    }

    @Override
    public void unloadModel(String model, Duration timeout) {
        ok(post("v2/repository/models/" + segment(model) + "/unload", timeout));
    }

    /** A repository call: POST with an empty JSON object (no parameters; the index of every model). */
    private HttpResponse<byte[]> post(String path, Duration timeout) {
        HttpRequest request = request(path, timeout).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build();
        return send(request, "POST /" + path);
    }

    private HttpResponse<byte[]> get(String path, Duration timeout) {
        return send(request(path, timeout).GET().build(), "GET /" + path);
    }

    private HttpRequest.Builder request(String path, Duration timeout) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve(path)).timeout(timeout);
        if (authorization != null) {
            builder.header("Authorization", authorization);
        }
        return builder;
    }

    private HttpResponse<byte[]> send(HttpRequest request, String what) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw Errors.fromIo(e, what);
        } catch (InterruptedException e) {
            throw Errors.interrupted(e, what);
        }
    }

    private static byte[] ok(HttpResponse<byte[]> response) {
        if (response.statusCode() / 100 != 2) {
            throw Errors.fromHttp(response.statusCode(), response.headers(), response.body());
        }
        return response.body();
    }

    /** 200 is yes; 503 is the server saying no (Serval and Triton answer "not ready" so); else a failure. */
    private static boolean health(HttpResponse<byte[]> response) {
        if (response.statusCode() == 200) {
            return true;
        }
        if (response.statusCode() == 503) {
            return false;
        }
        throw Errors.fromHttp(response.statusCode(), response.headers(), response.body());
    }

    private static String modelPath(String model, String version) {
        String path = "v2/models/" + segment(model);
        return version == null ? path : path + "/versions/" + segment(version);
    }

    /**
     * One path segment, percent-encoded; "." and ".." too, which would otherwise be resolved away
     * and send the request to another path (the server then judges the name).
     */
    private static String segment(String text) {
        if (text.equals(".") || text.equals("..")) {
            return text.replace(".", "%2E");
        }
        return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Override
    public void close() {
        http.close();
    }
}
