package dev.serval.transport.http;

import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.ServalException;
import dev.serval.api.ServerMetadata;
import dev.serval.metrics.ServalMetrics;
import dev.serval.model.ModelRegistry;
import dev.serval.model.ModelStatus;
import dev.serval.model.ModelVersion;
import dev.serval.schedule.ModelScheduler;
import io.helidon.http.HeaderNames;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.BooleanSupplier;

/**
 * The Open Inference Protocol's REST endpoints (health, server and model metadata, readiness,
 * inference with JSON tensors).
 *
 * <p>Handlers run on Helidon's virtual threads. Inference resolves the model before reading the
 * body, so an unknown model costs nothing, then decodes, hands the request to the model's own
 * threads and parks until the answer is ready.
 */
final class RestApi implements HttpService {
    private static final String JSON = "application/json";
    private static final byte[] LIVE = "{\"live\":true}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] READY = "{\"ready\":true}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NOT_READY = "{\"ready\":false}".getBytes(StandardCharsets.US_ASCII);

    private static final PrometheusTextFormatWriter METRICS_FORMAT = PrometheusTextFormatWriter.create();

    private final ModelRegistry registry;
    private final ServalMetrics metrics;
    private final BooleanSupplier ready;
    private final AccessControl access;
    private final BodyBudget bodies;
    private final BodyArrays arrays = new BodyArrays(64L << 20);
    private final byte[] serverMetadata;

    RestApi(ModelRegistry registry, ServalMetrics metrics, ServerMetadata server, BooleanSupplier ready,
            AccessControl access, BodyBudget bodies) {
        this.registry = registry;
        this.metrics = metrics;
        this.ready = ready;
        this.access = access;
        this.bodies = bodies;
        this.serverMetadata = JsonResponseEncoder.write(256, json -> {
            json.writeStartObject();
            json.writeStringField("name", server.name());
            json.writeStringField("version", server.version());
            json.writeArrayFieldStart("extensions");
            for (String extension : server.extensions()) {
                json.writeString(extension);
            }
            json.writeEndArray();
            json.writeEndObject();
        });
    }

    @Override
    public void routing(HttpRules rules) {
        rules.get("/v2/health/live", (req, res) -> json(res, 200, LIVE))
                .get("/v2/health/ready", (req, res) -> {
                    boolean isReady = ready.getAsBoolean();
                    json(res, isReady ? 200 : 503, isReady ? READY : NOT_READY);
                })
                .get("/v2", this::serverMetadata)
                .get("/v2/models/{model}", this::modelMetadata)
                .get("/v2/models/{model}/versions/{version}", this::modelMetadata)
                .get("/v2/models/{model}/ready", this::modelReady)
                .get("/v2/models/{model}/versions/{version}/ready", this::modelReady)
                .post("/v2/models/{model}/infer", this::infer)
                .post("/v2/models/{model}/versions/{version}/infer", this::infer)
                .post("/v2/repository/index", this::repositoryIndex)
                .get("/metrics", this::metrics)
                .any(this::noRoute);
    }

    private void serverMetadata(ServerRequest req, ServerResponse res) {
        access.requireInference(req);
        json(res, 200, serverMetadata);
    }

    private void modelMetadata(ServerRequest req, ServerResponse res) {
        access.requireInference(req);
        json(res, 200, JsonResponseEncoder.modelMetadata(resolve(req).metadata()));
    }

    private void modelReady(ServerRequest req, ServerResponse res) {
        access.requireInference(req);
        ModelVersion model = resolve(req);
        byte[] body = JsonResponseEncoder.write(64, json -> {
            json.writeStartObject();
            json.writeStringField("name", model.name());
            json.writeStringField("version", model.version());
            json.writeBooleanField("ready", true);
            json.writeEndObject();
        });
        json(res, 200, body);
    }

    private void infer(ServerRequest req, ServerResponse res) {
        access.requireInference(req);
        ModelVersion model = resolve(req);
        InferenceResponse response;
        Body body = null;
        // The arrival tells the model's batcher a request is on its way while the body is read and
        // decoded; a full queue refuses it here, before the body is read.
        try (ModelScheduler.Arrival arrival = model.arrive()) {
            InferenceRequest request;
            try {
                body = readBody(req);
                request = JsonRequestDecoder.decode(body.bytes(), 0, body.length(), model.name(), model.version(),
                        model.inputs());
            } catch (ServalException e) {
                model.failed(arrival, e.code());
                throw e;
            } finally {
                if (body != null) {
                    arrays.release(body.bytes());
                }
            }
            response = model.infer(request, arrival);
        } finally {
            if (body != null) {
                bodies.release(body.length());
            }
        }
        json(res, 200, JsonResponseEncoder.inference(response));
    }

    private void metrics(ServerRequest req, ServerResponse res) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        METRICS_FORMAT.write(out, metrics.scrape());
        res.status(200);
        res.header(HeaderNames.CONTENT_TYPE, METRICS_FORMAT.getContentType());
        res.send(out.toByteArray());
    }

    /** Triton's repository index: every model and version with its state, and why if unavailable. */
    private void repositoryIndex(ServerRequest req, ServerResponse res) {
        access.requireAdmin(req);
        List<ModelStatus> index = registry.index();
        json(res, 200, JsonResponseEncoder.write(64 + 96 * index.size(), json -> {
            json.writeStartArray();
            for (ModelStatus status : index) {
                json.writeStartObject();
                json.writeStringField("name", status.name());
                if (!status.version().isEmpty()) {
                    json.writeStringField("version", status.version());
                }
                json.writeStringField("state", status.state());
                if (status.reason().isPresent()) {
                    json.writeStringField("reason", status.reason().get());
                }
                json.writeEndObject();
            }
            json.writeEndArray();
        }));
    }

    private void noRoute(ServerRequest req, ServerResponse res) {
        throw ServalException.notFound("no endpoint %s %s; see the Open Inference Protocol's REST paths under /v2",
                req.prologue().method().text(), req.path().rawPath());
    }

    private ModelVersion resolve(ServerRequest req) {
        var parameters = req.path().pathParameters();
        String model = parameters.get("model");
        String version = parameters.contains("version") ? parameters.get("version") : null;
        return registry.resolve(model, version);
    }

    /** A request body: the first {@code length} bytes of {@code bytes} (a pooled array). */
    private record Body(byte[] bytes, int length) {
    }

    /**
     * Reads the whole body, refusing it with 413 past the size limit and 429 past the in-flight
     * budget, in both cases without reading further. The caller gives the array back to
     * {@link #arrays} once decoded and releases {@code length} bytes from the budget when done.
     */
    private Body readBody(ServerRequest req) {
        long max = bodies.maxRequestBytes();
        OptionalLong declared = req.headers().contentLength();
        if (declared.isPresent() && declared.getAsLong() > max) {
            throw tooLarge(declared.getAsLong() + " bytes");
        }
        if (declared.isEmpty()) {
            return readUnsized(req, max);
        }
        int length = (int) declared.getAsLong();
        bodies.reserve(length);
        byte[] bytes = arrays.acquire(length);
        try (InputStream in = req.content().inputStream()) {
            int read = in.readNBytes(bytes, 0, length);
            if (read < length) {
                throw ServalException.invalidArgument("the body ended after %d of its %d bytes", read, length);
            }
            return new Body(bytes, length);
        } catch (IOException | RuntimeException e) {
            bodies.release(length);
            arrays.release(bytes);
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
    }

    /** A chunked body: read up to one byte past the limit to know whether it is over. */
    private Body readUnsized(ServerRequest req, long max) {
        byte[] bytes;
        try (InputStream in = req.content().inputStream()) {
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (bytes.length > max) {
            throw tooLarge("more than " + max + " bytes");
        }
        bodies.reserve(bytes.length);
        return new Body(bytes, bytes.length);
    }

    private ServalException tooLarge(String size) {
        return new ServalException(ErrorCode.PAYLOAD_TOO_LARGE, "the request body is " + size
                + "; the limit is " + bodies.maxRequestBytes() + " bytes (--max-request-size)");
    }

    private static void json(ServerResponse res, int status, byte[] body) {
        res.status(status);
        res.header(HeaderNames.CONTENT_TYPE, JSON);
        res.send(body);
    }
}
