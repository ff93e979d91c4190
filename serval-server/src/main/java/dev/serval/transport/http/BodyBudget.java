package dev.serval.transport.http;

import dev.serval.api.ErrorCode;
import dev.serval.api.ServalException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Limits on request bodies: the largest one accepted, and the bytes of all bodies being handled
 * at once.
 *
 * <p>Design note: each model's queue is bounded in requests, but requests are not all the same
 * size: two thousand clients each sending a 1 MB image would need 2 GB of heap before any queue
 * is reached. The in-flight budget turns that into an immediate 429 for the requests beyond it,
 * so memory stays bounded under any mix of clients. Thread-safe.
 */
public final class BodyBudget {
    private final long maxRequestBytes;
    private final long maxInflightBytes;
    private final AtomicLong inflight = new AtomicLong();

    /**
     * @param maxRequestBytes  the largest body accepted (413 beyond)
     * @param maxInflightBytes the bytes of bodies that may be held at once (429 beyond)
     */
    public BodyBudget(long maxRequestBytes, long maxInflightBytes) {
        if (maxRequestBytes < 1 || maxInflightBytes < 1) {
            throw new IllegalArgumentException("body limits must be positive");
        }
        this.maxRequestBytes = maxRequestBytes;
        this.maxInflightBytes = maxInflightBytes;
    }

    long maxRequestBytes() {
        return maxRequestBytes;
    }

    /**
     * Takes {@code bytes} from the budget; give them back with {@link #release}.
     *
     * @throws ServalException RESOURCE_EXHAUSTED when the budget cannot cover them
     */
    void reserve(long bytes) {
        long now = inflight.addAndGet(bytes);
        // One body alone is always admitted, so a body under --max-request-size is never refused forever.
        if (now > maxInflightBytes && now != bytes) {
            inflight.addAndGet(-bytes);
            throw new ServalException(ErrorCode.RESOURCE_EXHAUSTED, "the server is holding " + (now - bytes)
                    + " bytes of request bodies and this one (" + bytes + " bytes) would pass its limit of "
                    + maxInflightBytes + " (--max-inflight-bytes); retry later");
        }
    }

    void release(long bytes) {
        inflight.addAndGet(-bytes);
    }
}
