package dev.serval.runtime.onnx;

import ai.onnxruntime.OrtException;
import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;

/** Turns ONNX Runtime's exceptions into Serval's, in one place. */
final class OnnxErrors {
    private OnnxErrors() {
    }

    /** ORT's message without its status-code prefix. */
    static String describe(OrtException e) {
        String message = e.getMessage() == null ? e.getCode().name() : e.getMessage();
        // ORT prefixes "Error code - ORT_INVALID_PROTOBUF - message: "; the code is not news to users.
        int start = message.startsWith("Error code - ") ? message.indexOf(" - message: ") : -1;
        return start > 0 ? message.substring(start + " - message: ".length()) : message;
    }

    /**
     * A failed run. ORT reports inputs it rejects as ORT_INVALID_ARGUMENT: that is the client's
     * mistake (400). Anything else is a fault on our side (500).
     */
    static ServalException runFailed(OrtException e) {
        if (e.getCode() == OrtException.OrtErrorCode.ORT_INVALID_ARGUMENT) {
            return new ServalException(ErrorCode.INVALID_ARGUMENT,
                    "the model rejected the inputs: " + describe(e));
        }
        return ServalException.internal("the model failed to run: " + describe(e), e);
    }
}
