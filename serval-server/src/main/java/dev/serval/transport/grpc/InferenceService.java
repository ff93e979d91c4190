package dev.serval.transport.grpc;

import dev.serval.api.ErrorCode;
import dev.serval.api.InferenceRequest;
import dev.serval.api.InferenceResponse;
import dev.serval.api.ServalException;
import dev.serval.api.ServerMetadata;
import dev.serval.api.TensorSpec;
import dev.serval.metrics.ServalMetrics;
import dev.serval.model.ModelRegistry;
import dev.serval.model.ModelVersion;
import dev.serval.protocol.grpc.GRPCInferenceServiceGrpc;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.protocol.grpc.ModelInferResponse;
import dev.serval.protocol.grpc.ModelMetadataRequest;
import dev.serval.protocol.grpc.ModelMetadataResponse;
import dev.serval.protocol.grpc.ModelReadyRequest;
import dev.serval.protocol.grpc.ModelReadyResponse;
import dev.serval.protocol.grpc.RepositoryIndexRequest;
import dev.serval.protocol.grpc.RepositoryIndexResponse;
import dev.serval.protocol.grpc.RepositoryModelLoadRequest;
import dev.serval.protocol.grpc.RepositoryModelLoadResponse;
import dev.serval.protocol.grpc.RepositoryModelUnloadRequest;
import dev.serval.protocol.grpc.RepositoryModelUnloadResponse;
import dev.serval.protocol.grpc.ServerLiveRequest;
import dev.serval.protocol.grpc.ServerLiveResponse;
import dev.serval.protocol.grpc.ServerMetadataRequest;
import dev.serval.protocol.grpc.ServerMetadataResponse;
import dev.serval.protocol.grpc.ServerReadyRequest;
import dev.serval.protocol.grpc.ServerReadyResponse;
import dev.serval.schedule.ModelScheduler;
import dev.serval.transport.BodyArrays;
import dev.serval.transport.BodyBudget;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The Open Inference Protocol's gRPC service, {@code inference.GRPCInferenceService}, with
 * Triton's model repository calls ({@link RepositoryCalls}).
 *
 * <p>Handlers run on the transport's virtual threads and block: inference resolves the model,
 * announces the request to the model's batcher (a full queue is refused before the tensors are
 * decoded), decodes, queues and parks until the answer, exactly as the REST endpoint does.
 *
 * <p>Deadlines: the call's deadline becomes the request's {@code timeout} parameter (microseconds,
 * the REST one), or tightens the one the request sets; the model then drops the request unrun if
 * it is still queued when the deadline passes. A call the client cancels interrupts its handler,
 * which takes its request out of the queue. (A model's {@code default_timeout_microseconds}
 * applies only to calls without a deadline or timeout.)
 *
 * <p>Thread-safe.
 */
final class InferenceService implements GRPCInferenceServiceGrpc.AsyncService {
    private final ModelRegistry registry;
    private final ServalMetrics metrics;
    private final ServerMetadata server;
    private final BooleanSupplier ready;
    private final AliasingMarshaller marshaller;
    private final BodyBudget bodies;
    private final RepositoryCalls repository;

    InferenceService(ModelRegistry registry, ServalMetrics metrics, ServerMetadata server, BooleanSupplier ready,
                     BodyArrays arrays, BodyBudget bodies) {
        this.metrics = metrics;
        this.registry = registry;
        this.server = server;
        this.ready = ready;
        this.marshaller = new AliasingMarshaller(arrays);
        this.bodies = bodies;
        this.repository = new RepositoryCalls(registry);
    }

    /**
     * The service: the generated binding for every call but ModelInfer, whose messages
     * {@link AliasingMarshaller} parses and {@link BudgetedCalls} counts against the body budget.
     */
    ServerServiceDefinition definition() {
        MethodDescriptor<ModelInferRequest, ModelInferResponse> stockInfer = GRPCInferenceServiceGrpc.getModelInferMethod();
        ServerServiceDefinition.Builder builder = ServerServiceDefinition.builder(GRPCInferenceServiceGrpc.SERVICE_NAME);
        for (ServerMethodDefinition<?, ?> method : GRPCInferenceServiceGrpc.bindService(this).getMethods()) {
            if (!method.getMethodDescriptor().getFullMethodName().equals(stockInfer.getFullMethodName())) {
                builder.addMethod(method);
            }
        }
        MethodDescriptor<AliasingMarshaller.Parsed, ModelInferResponse> infer =
                stockInfer.toBuilder(marshaller, stockInfer.getResponseMarshaller()).build();
        builder.addMethod(infer, new BudgetedCalls<>(
                ServerCalls.asyncUnaryCall((parsed, out) -> respond(out, () -> infer(parsed))), bodies,
                GrpcTransport.STREAM_WINDOW, parsed -> parsed.error() == null ? parsed.size() : -1));
        return builder.build();
    }

    @Override
    public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> out) {
        respond(out, () -> ServerLiveResponse.newBuilder().setLive(true).build());
    }

    @Override
    public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> out) {
        respond(out, () -> ServerReadyResponse.newBuilder().setReady(ready.getAsBoolean()).build());
    }

    /** Ready true when the model (version) can serve, false when it exists but cannot; NOT_FOUND otherwise. */
    @Override
    public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> out) {
        respond(out, () -> {
            boolean isReady;
            try {
                registry.resolve(request.getName(), request.getVersion());
                isReady = true;
            } catch (ServalException e) {
                if (e.code() != ErrorCode.UNAVAILABLE) {
                    throw e;
                }
                isReady = false;
            }
            return ModelReadyResponse.newBuilder().setReady(isReady).build();
        });
    }

    @Override
    public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> out) {
        respond(out, () -> ServerMetadataResponse.newBuilder()
                .setName(server.name())
                .setVersion(server.version())
                .addAllExtensions(server.extensions())
                .build());
    }

    @Override
    public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> out) {
        respond(out, () -> {
            dev.serval.api.ModelMetadata metadata = registry.resolve(request.getName(), request.getVersion()).metadata();
            ModelMetadataResponse.Builder response = ModelMetadataResponse.newBuilder()
                    .setName(metadata.name())
                    .addAllVersions(metadata.versions())
                    .setPlatform(metadata.platform());
            tensors(metadata.inputs(), response::addInputsBuilder);
            tensors(metadata.outputs(), response::addOutputsBuilder);
            return response.build();
        });
    }

    private static void tensors(List<TensorSpec> specs, Supplier<ModelMetadataResponse.TensorMetadata.Builder> add) {
        for (TensorSpec spec : specs) {
            ModelMetadataResponse.TensorMetadata.Builder tensor = add.get()
                    .setName(spec.name())
                    .setDatatype(spec.type().name());
            for (long dim : spec.shape()) {
                tensor.addShape(dim);
            }
        }
    }

    @Override
    public void repositoryIndex(RepositoryIndexRequest request, StreamObserver<RepositoryIndexResponse> out) {
        respond(out, () -> repository.index(request));
    }

    @Override
    public void repositoryModelLoad(RepositoryModelLoadRequest request,
                                    StreamObserver<RepositoryModelLoadResponse> out) {
        respond(out, () -> repository.load(request));
    }

    @Override
    public void repositoryModelUnload(RepositoryModelUnloadRequest request,
                                      StreamObserver<RepositoryModelUnloadResponse> out) {
        respond(out, () -> repository.unload(request));
    }

    /**
     * Decodes, runs and encodes one ModelInfer. The message's array goes back to the pool as soon as
     * its tensors are decoded (on every path): nothing reads the message after that, since its
     * {@code bytes} and string fields may be views of the array.
     */
    private ModelInferResponse infer(AliasingMarshaller.Parsed parsed) {
        ModelVersion model = null;
        boolean raw;
        InferenceResponse response;
        ModelScheduler.Arrival arrival = null;
        InferenceRequest request;
        try {
            ModelInferRequest proto = parsed.get();
            model = registry.resolve(proto.getModelName(), proto.getModelVersion());
            raw = RequestDecoder.usesRawContents(proto);
            // The arrival tells the model's batcher a request is on its way while it is decoded; a
            // full queue refuses it here, before decoding.
            arrival = model.arrive();
            request = withDeadline(RequestDecoder.decode(proto, model.name(), model.version()));
        } catch (RuntimeException e) {
            if (arrival != null) {
                model.failed(arrival, e instanceof ServalException s ? s.code() : ErrorCode.INTERNAL);
                arrival.close();
            }
            throw e;
        } finally {
            parsed.release();
        }
        try (ModelScheduler.Arrival queued = arrival) {
            response = inferUntilCancelled(model, request, queued);
        }
        return ResponseEncoder.encode(response, raw);
    }

    /** The request with the call's deadline as its timeout when that is the tighter of the two. */
    static InferenceRequest withDeadline(InferenceRequest request) {
        Deadline deadline = Context.current().getDeadline();
        if (deadline == null) {
            return request;
        }
        long remaining = deadline.timeRemaining(TimeUnit.MICROSECONDS);
        if (remaining <= 0) {
            throw new ServalException(ErrorCode.DEADLINE_EXCEEDED, "the call's deadline passed before model '"
                    + request.modelName() + "' could queue it");
        }
        OptionalLong timeout = request.parameters().getLong(ModelVersion.TIMEOUT);
        if (timeout.isPresent() && (timeout.getAsLong() < 0 || (timeout.getAsLong() > 0 && timeout.getAsLong() <= remaining))) {
            return request; // already tighter, or invalid and refused by the model with its own message
        }
        return new InferenceRequest(request.modelName(), request.modelVersion(), request.id(),
                request.parameters().with(ModelVersion.TIMEOUT, remaining), request.inputs(), request.outputs());
    }

    /**
     * Runs the request; a client that cancels the call interrupts the wait, and the model takes the
     * request out of its queue. Deadlines are left to the request's timeout, which ends the wait
     * with DEADLINE_EXCEEDED on its own.
     */
    private InferenceResponse inferUntilCancelled(ModelVersion model, InferenceRequest request,
                                                  ModelScheduler.Arrival arrival) {
        Context context = Context.current();
        Thread handler = Thread.currentThread();
        AtomicBoolean clientCancelled = new AtomicBoolean();
        Context.CancellationListener onCancel = cancelled -> {
            if (!(cancelled.cancellationCause() instanceof TimeoutException)) {
                clientCancelled.set(true);
                handler.interrupt();
            }
        };
        context.addListener(onCancel, Runnable::run);
        try {
            return model.infer(request, arrival);
        } catch (ServalException e) {
            if (clientCancelled.get()) {
                metrics.cancelled(model.name(), ServalMetrics.CLIENT_CANCELLED);
            }
            throw e;
        } finally {
            context.removeListener(onCancel);
            if (context.isCancelled()) {
                Thread.interrupted(); // the call is over: the flag must not leak to whatever runs next here
            }
        }
    }

    /** Answers with {@code handler}'s result, or its failure mapped by {@link GrpcErrors}. */
    private static <T> void respond(StreamObserver<T> out, Supplier<T> handler) {
        T result;
        try {
            result = handler.get();
        } catch (RuntimeException e) {
            if (!cancelled(out)) {
                out.onError(GrpcErrors.toStatus(e));
            }
            return;
        }
        if (!cancelled(out)) {
            out.onNext(result);
            out.onCompleted();
        }
    }

    private static boolean cancelled(StreamObserver<?> out) {
        return out instanceof ServerCallStreamObserver<?> call && call.isCancelled();
    }
}
