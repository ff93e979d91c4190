package dev.serval.features;

/** A remote tier failed or did not answer in time; the tiered store counts it against the tier's breaker. */
public class RemoteTierException extends RuntimeException {

    public RemoteTierException(String message, Throwable cause) {
        super(message, cause);
    }
}
