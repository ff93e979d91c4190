package dev.serval.client;

/** The wire a {@link ServalClient} speaks; every one carries the same requests and results. */
public enum Protocol {
    /** REST with tensors as JSON arrays: readable, and what any HTTP tool can send. */
    REST_JSON,
    /**
     * REST with Triton's binary tensor data extension: a JSON header, then the raw little-endian
     * tensors. Needs a server that advertises {@code binary_tensor_data}.
     */
    REST_BINARY,
    /** gRPC ({@code inference.GRPCInferenceService}) with tensors in raw_input/output_contents. */
    GRPC
}
