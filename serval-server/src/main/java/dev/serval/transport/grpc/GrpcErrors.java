package dev.serval.transport.grpc;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become gRPC statuses: the code from the {@link ErrorCode}, the
 * description the exception's message (it names the field, the value and what was expected).
 * {@link Status.Code#INTERNAL} is for our own faults only, and those are logged with their trace.
 */
final class GrpcErrors {
    private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

    private GrpcErrors() {
    }

    static Status.Code code(ErrorCode code) {
        return switch (code) {
            case INVALID_ARGUMENT, UNSUPPORTED_MEDIA_TYPE -> Status.Code.INVALID_ARGUMENT;
            case NOT_FOUND -> Status.Code.NOT_FOUND;
            case UNAVAILABLE -> Status.Code.UNAVAILABLE;
            // A body over the size limit is refused by grpc-java itself (RESOURCE_EXHAUSTED, as here).
            case RESOURCE_EXHAUSTED, PAYLOAD_TOO_LARGE -> Status.Code.RESOURCE_EXHAUSTED;
            case DEADLINE_EXCEEDED -> Status.Code.DEADLINE_EXCEEDED;
            case UNAUTHENTICATED -> Status.Code.UNAUTHENTICATED;
            case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
            case INTERNAL -> Status.Code.INTERNAL;
            case UNIMPLEMENTED -> Status.Code.UNIMPLEMENTED;
        };
    }

    /** The status a failure is answered with; anything but a {@link ServalException} is our fault. */
    static StatusRuntimeException toStatus(Throwable error) {
        if (error instanceof StatusRuntimeException status) {
            return status;
        }
        if (error instanceof ServalException serval) {
            if (serval.code() == ErrorCode.INTERNAL) {
                log.error("internal error: {}", serval.getMessage(), serval.getCause());
            }
            return Status.fromCode(code(serval.code())).withDescription(serval.getMessage()).asRuntimeException();
        }
        log.error("unexpected failure while handling a gRPC call", error);
        return Status.INTERNAL.withDescription("internal error: " + error).asRuntimeException();
    }
}
