package dev.serval.transport.grpc;

import dev.serval.protocol.events.EventServiceGrpc;
import dev.serval.protocol.events.RecordEventsRequest;
import dev.serval.protocol.events.RecordEventsResponse;
import dev.serval.transport.BodyBudget;
import dev.serval.transport.EventIngest;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;

/**
 * Serval's event ingest over gRPC, {@code serval.events.EventService} (serval_events.proto): the
 * REST endpoint's batches ({@code POST /v2/events}) with the same rules, the same all-or-nothing
 * policy ({@link EventIngest}) and the same messages, an event named by its 0-based index
 * ({@code events[3]}). Errors become statuses in {@link GrpcErrors}: INVALID_ARGUMENT for a malformed
 * event, UNAVAILABLE when the store could not record the batch, UNIMPLEMENTED without a feature
 * store; a message over {@code --max-request-size} is refused by grpc-java (RESOURCE_EXHAUSTED).
 *
 * <p>Handlers run on the transport's virtual threads and block until the store has recorded the
 * batch. Thread-safe.
 */
final class EventService implements EventServiceGrpc.AsyncService {
    private final EventIngest ingest;
    private final BodyBudget bodies;

    /** @param bodies the in-flight budget each batch counts against ({@link BudgetedCalls}), with REST bodies */
    EventService(EventIngest ingest, BodyBudget bodies) {
        this.ingest = ingest;
        this.bodies = bodies;
    }

    ServerServiceDefinition bindService() {
        ServerServiceDefinition stock = EventServiceGrpc.bindService(this);
        ServerServiceDefinition.Builder service = ServerServiceDefinition.builder(stock.getServiceDescriptor());
        for (ServerMethodDefinition<?, ?> method : stock.getMethods()) {
            if (method.getMethodDescriptor().getFullMethodName()
                    .equals(EventServiceGrpc.getRecordEventsMethod().getFullMethodName())) {
                service.addMethod(budgeted(method));
            } else {
                service.addMethod(method);
            }
        }
        return service.build();
    }

    @SuppressWarnings("unchecked") // the method is RecordEvents, checked by name
    private ServerMethodDefinition<RecordEventsRequest, RecordEventsResponse> budgeted(ServerMethodDefinition<?, ?> method) {
        ServerMethodDefinition<RecordEventsRequest, RecordEventsResponse> recordEvents =
                (ServerMethodDefinition<RecordEventsRequest, RecordEventsResponse>) method;
        return recordEvents.withServerCallHandler(new BudgetedCalls<>(recordEvents.getServerCallHandler(), bodies,
                GrpcTransport.STREAM_WINDOW, RecordEventsRequest::getSerializedSize));
    }

    @Override
    public void recordEvents(RecordEventsRequest request, StreamObserver<RecordEventsResponse> out) {
        int recorded;
        try {
            recorded = ingest.record(() -> decode(request));
        } catch (RuntimeException e) {
            if (!cancelled(out)) {
                out.onError(GrpcErrors.toStatus(e));
            }
            return;
        }
        if (!cancelled(out)) {
            out.onNext(RecordEventsResponse.newBuilder().setRecorded(recorded).build());
            out.onCompleted();
        }
    }

    /** The request's events, checked as the REST decoder checks them. */
    static List<dev.serval.features.Event> decode(RecordEventsRequest request) {
        List<dev.serval.features.Event> events = new ArrayList<>(request.getEventsCount());
        for (int i = 0; i < request.getEventsCount(); i++) {
            dev.serval.protocol.events.Event event = request.getEvents(i);
            String cardId = event.getCardId();
            if (cardId.isBlank()) {
                throw EventIngest.blank(at(i), "card_id", cardId);
            }
            String merchant = event.getMerchant();
            if (merchant.isBlank()) {
                throw EventIngest.blank(at(i), "merchant", merchant);
            }
            if (!event.hasAmount()) {
                throw EventIngest.missing(at(i), "amount");
            }
            double amount = event.getAmount();
            if (!Double.isFinite(amount)) {
                throw EventIngest.notFinite(at(i), Double.toString(amount));
            }
            if (!event.hasTimestamp()) {
                throw EventIngest.missing(at(i), "timestamp");
            }
            long timestamp = event.getTimestamp();
            if (timestamp < 0) {
                throw EventIngest.negativeTimestamp(at(i), timestamp);
            }
            events.add(new dev.serval.features.Event(cardId, merchant, amount, timestamp));
        }
        return events;
    }

    private static String at(int index) {
        return "events[" + index + "]";
    }

    private static boolean cancelled(StreamObserver<?> out) {
        return out instanceof ServerCallStreamObserver<?> call && call.isCancelled();
    }
}
