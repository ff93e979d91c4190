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
import dev.serval.transport.BodyArrays;
import dev.serval.transport.BodyBudget;
import dev.serval.transport.http.UnsizedBodies.Body;
import io.helidon.common.buffers.DataReader;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.http.Method;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.BooleanSupplier;

/**
 * The Open Inference Protocol's REST endpoints (health, server and model metadata, readiness,
 * inference with JSON tensors, and with raw tensors after the JSON: Triton's binary tensor data
 * extension, see {@link BinaryRequestDecoder} and {@link BinaryResponse}).
 *
 * <p>Handlers run on Helidon's virtual threads. Inference resolves the model before reading the
 * body, so an unknown model costs nothing, then decodes, hands the request to the model's own
 * threads and parks until the answer is ready.
 */
final class RestApi implements HttpService {
    private static final byte[] LIVE = "{\"live\":true}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] READY = "{\"ready\":true}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NOT_READY = "{\"ready\":false}".getBytes(StandardCharsets.US_ASCII);

    /** The largest repository index request body read. */
    private static final int MAX_INDEX_BODY = 4096;

    private static final PrometheusTextFormatWriter METRICS_FORMAT = PrometheusTextFormatWriter.create();

    private final ModelRegistry registry;
    private final ServalMetrics metrics;
    private final BooleanSupplier ready;
    private final AccessControl access;
    private final BodyBudget bodies;
    private final BodyArrays arrays;
    private final ClientDepartures departures;
    private final byte[] serverMetadata;

    RestApi(ModelRegistry registry, ServalMetrics metrics, ServerMetadata server, BooleanSupplier ready,
            AccessControl access, BodyBudget bodies, BodyArrays arrays, ClientDepartures departures) {
        this.registry = registry;
        this.metrics = metrics;
        this.ready = ready;
        this.access = access;
        this.bodies = bodies;
        this.arrays = arrays;
        this.departures = departures;
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

    /** Every endpoint but inference's, which go first ({@link #inferenceRoutes}). */
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
                .post("/v2/repository/index", this::repositoryIndex)
                .post("/v2/repository/models/{model}/load", this::repositoryLoad)
                .post("/v2/repository/models/{model}/unload", this::repositoryUnload)
                .get("/metrics", this::metrics)
                .any(this::noRoute);
    }

    /**
     * The inference routes, for the top of the server's routing, ahead of every service: they are
     * matched at every inference request, so without Helidon's regular expressions
     * ({@link InferencePaths}) and without a service's prefix to match first.
     */
    void inferenceRoutes(HttpRouting.Builder routing) {
        routing.route(Method.POST, InferencePaths.LATEST, this::infer)
                .route(Method.POST, InferencePaths.VERSIONED, this::infer);
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

    private void infer(ServerRequest req, ServerResponse res) throws IOException {
        access.requireInference(req);
        ModelVersion model = resolve(req);
        InferenceRequest request;
        InferenceResponse response;
        long reserved = 0;
        // The arrival tells the model's batcher a request is on its way while the body is read and
        // decoded; a full queue refuses it here, before the body is read.
        try (ModelScheduler.Arrival arrival = model.arrive()) {
            try {
                long headerLength = inferenceHeaderLength(req);
                if (headerLength < 0) {
                    Body body = readBody(req);
                    reserved = body.length();
                    try {
                        request = JsonRequestDecoder.decode(body.bytes(), 0, body.length(), model.name(),
                                model.version(), model.inputs());
                    } finally {
                        arrays.release(body.bytes());
                    }
                } else {
                    OptionalLong declared = req.headers().contentLength();
                    if (declared.isPresent()) {
                        long length = declared.getAsLong();
                        if (length > bodies.maxRequestBytes()) {
                            throw tooLarge(length + " bytes");
                        }
                        requireHeaderWithin(headerLength, length);
                        bodies.reserve(length);
                        reserved = length;
                        request = readBinary(req, model, (int) headerLength, length);
                    } else {
                        Body body = UnsizedBodies.read(req, bodies, bodies.maxRequestBytes(), this::tooLarge);
                        reserved = body.length();
                        requireHeaderWithin(headerLength, body.length());
                        request = decodeBinary(body, model, (int) headerLength);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // Every failure before the request is queued ends its arrival here, a client that
                // went away mid-body included: otherwise the version it leased could not close.
                model.failed(arrival, e instanceof ServalException s ? s.code()
                        : e instanceof IOException || e instanceof UncheckedIOException ? ErrorCode.INVALID_ARGUMENT
                        : ErrorCode.INTERNAL);
                throw e;
            }
            response = inferWhileConnected(req, model, request, arrival);
        } finally {
            bodies.release(reserved);
        }
        boolean[] binary = BinaryResponse.select(request, response);
        if (binary == null) {
            json(res, 200, JsonResponseEncoder.inference(response));
        } else {
            BinaryResponse.send(res, response, binary);
        }
    }

    /**
     * Runs the request unless its client closes the connection first ({@link ClientDepartures}):
     * then the wait is interrupted, the model drops the queued request unrun, and the request
     * counts as cancelled.
     */
    private InferenceResponse inferWhileConnected(ServerRequest req, ModelVersion model, InferenceRequest request,
                                                  ModelScheduler.Arrival arrival) {
        ClientDepartures.Watch watch = departures.watch(req);
        try {
            return model.infer(request, arrival);
        } catch (ServalException e) {
            if (watch.departed()) {
                metrics.cancelled(model.name(), ServalMetrics.CLIENT_CLOSED);
            }
            throw e;
        } finally {
            watch.close();
        }
    }

    /**
     * The binary tensor data extension's {@code Inference-Header-Content-Length}: how many bytes of
     * the body are JSON; -1 when the header is absent (the body is all JSON).
     */
    private static long inferenceHeaderLength(ServerRequest req) {
        var value = req.headers().first(BinaryResponse.INFERENCE_HEADER_CONTENT_LENGTH);
        if (value.isEmpty()) {
            return -1;
        }
        String text = value.get().trim();
        long length;
        try {
            length = Long.parseLong(text);
        } catch (NumberFormatException e) {
            length = -1;
        }
        if (length < 0 || length > Integer.MAX_VALUE - 8) {
            throw ServalException.invalidArgument("header Inference-Header-Content-Length is \"%s\"; expected the "
                    + "length in bytes of the JSON at the start of the body, a non-negative integer", value.get());
        }
        return length;
    }

    private static void requireHeaderWithin(long headerLength, long bodyLength) {
        if (headerLength > bodyLength) {
            throw ServalException.invalidArgument("header Inference-Header-Content-Length is %d, but the body has only "
                    + "%d bytes; it must give the length of the JSON at the body's start", headerLength, bodyLength);
        }
    }

    /**
     * Reads a body of {@code length} bytes (its budget already reserved) whose first
     * {@code headerLength} bytes are JSON: the JSON into a pooled array, the binary inputs after it
     * straight from the stream into their tensors' buffers ({@link BinaryRequestDecoder}).
     */
    private InferenceRequest readBinary(ServerRequest req, ModelVersion model, int headerLength, long length)
            throws IOException {
        try (InputStream in = req.content().inputStream()) {
            try {
                JsonRequestDecoder.Header header;
                byte[] json = arrays.acquire(headerLength);
                try {
                    int read = in.readNBytes(json, 0, headerLength);
                    if (read < headerLength) {
                        throw ServalException.invalidArgument("the body ended after %d of its %d bytes", read, length);
                    }
                    header = JsonRequestDecoder.decodeHeader(json, 0, headerLength, model.inputs());
                } finally {
                    arrays.release(json);
                }
                return BinaryRequestDecoder.decode(header, in, length - headerLength, headerLength, model.name(),
                        model.version());
            } catch (DataReader.InsufficientDataAvailableException e) {
                throw endedEarly(length);
            } catch (ServalException e) {
                // Read what is left (the budget already holds it) so that the client, still sending,
                // reads the 400 instead of a reset connection.
                try {
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (IOException | DataReader.InsufficientDataAvailableException ignored) {
                    // The client is gone or sent less: the 400 stands.
                }
                throw e;
            }
        }
    }

    /** Helidon's answer to a connection that closes before the body's Content-Length arrived. */
    private static ServalException endedEarly(long length) {
        return ServalException.invalidArgument("the body ended before the %d bytes its Content-Length announced",
                length);
    }

    /** A body read whole (sent without Content-Length) whose first {@code headerLength} bytes are JSON. */
    private InferenceRequest decodeBinary(Body body, ModelVersion model, int headerLength) throws IOException {
        try {
            JsonRequestDecoder.Header header = JsonRequestDecoder.decodeHeader(body.bytes(), 0, headerLength,
                    model.inputs());
            return BinaryRequestDecoder.decode(header,
                    new ByteArrayInputStream(body.bytes(), headerLength, body.length() - headerLength),
                    body.length() - headerLength, headerLength, model.name(), model.version());
        } finally {
            arrays.release(body.bytes());
        }
    }

    private void metrics(ServerRequest req, ServerResponse res) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        METRICS_FORMAT.write(out, metrics.scrape());
        res.status(200);
        res.header(HeaderNames.CONTENT_TYPE, METRICS_FORMAT.getContentType());
        res.send(out.toByteArray());
    }

    /**
     * Triton's repository index: every model and version with its state, and why if unavailable;
     * with the body {@code {"ready": true}} only the versions that serve.
     */
    private void repositoryIndex(ServerRequest req, ServerResponse res) throws IOException {
        access.requireAdmin(req);
        boolean readyOnly = readyOnly(req);
        List<ModelStatus> index = registry.index();
        json(res, 200, statusRows(readyOnly ? index.stream().filter(ModelStatus::isReady).toList() : index));
    }

    /** The index request's {@code ready} field: false when the body is empty or does not set it. */
    private static boolean readyOnly(ServerRequest req) throws IOException {
        byte[] body;
        try (InputStream in = req.content().inputStream()) {
            body = in.readNBytes(MAX_INDEX_BODY + 1);
        } catch (DataReader.InsufficientDataAvailableException e) {
            throw ServalException.invalidArgument("the body ended before its Content-Length or last chunk");
        }
        if (body.length > MAX_INDEX_BODY) {
            throw ServalException.invalidArgument("the repository index request body is over %d bytes; expected "
                    + "{\"ready\": true|false} or nothing", MAX_INDEX_BODY);
        }
        int start = 0;
        while (start < body.length && (body[start] == ' ' || body[start] == '\t' || body[start] == '\r' || body[start] == '\n')) {
            start++;
        }
        if (start == body.length) {
            return false;
        }
        JsonReader json = new JsonReader(body, 0, body.length);
        if (json.nextToken() != JsonReader.Token.START_OBJECT) {
            throw ServalException.invalidArgument("the repository index request body must be a JSON object, "
                    + "{\"ready\": true|false}");
        }
        boolean ready = false;
        for (JsonReader.Token token = json.nextToken(); token == JsonReader.Token.FIELD_NAME; token = json.nextToken()) {
            String field = json.currentName();
            JsonReader.Token value = json.nextToken();
            if (field.equals("ready")) {
                if (value != JsonReader.Token.TRUE && value != JsonReader.Token.FALSE) {
                    throw ServalException.invalidArgument("field 'ready' of the repository index request is %s; "
                            + "expected true or false", json.getText());
                }
                ready = value == JsonReader.Token.TRUE;
            } else {
                json.skipChildren(); // Triton's index request has no other field: ignored, as Triton does
            }
        }
        return ready;
    }

    /**
     * Triton's repository load: (re)loads the model from its folder, in explicit model control
     * mode; answers with the model's index rows. The body (Triton's load parameters) is ignored.
     * Runs on the registry's lifecycle thread: this request thread parks until the model is ready
     * or has failed (400 with the reasons; what served before serves on).
     */
    private void repositoryLoad(ServerRequest req, ServerResponse res) {
        access.requireAdmin(req);
        String model = req.path().pathParameters().get("model");
        json(res, 200, statusRows(registry.load(model)));
    }

    /** Triton's repository unload: requests in flight finish, then the model's versions close. */
    private void repositoryUnload(ServerRequest req, ServerResponse res) {
        access.requireAdmin(req);
        String model = req.path().pathParameters().get("model");
        registry.unload(model);
        json(res, 200, statusRows(registry.index().stream().filter(row -> row.name().equals(model)).toList()));
    }

    private static byte[] statusRows(List<ModelStatus> index) {
        return JsonResponseEncoder.write(64 + 96 * index.size(), json -> {
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
        });
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
            return UnsizedBodies.read(req, bodies, max, this::tooLarge); // reserved as it is read
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
            if (e instanceof DataReader.InsufficientDataAvailableException) {
                throw endedEarly(length);
            }
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
    }

    private ServalException tooLarge(String size) {
        return new ServalException(ErrorCode.PAYLOAD_TOO_LARGE, "the request body is " + size
                + "; the limit is " + bodies.maxRequestBytes() + " bytes (--max-request-size)");
    }

    private static void json(ServerResponse res, int status, byte[] body) {
        res.status(status);
        // A cached header: its HTTP/1.1 bytes are made once, not per response.
        res.header(HeaderValues.CONTENT_TYPE_JSON);
        res.send(body);
    }
}
