package dev.serval.features;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link RemoteTier} in a map, with fault injection: {@link Mode#DOWN} fails every call at once,
 * {@link Mode#HANG} blocks every call (ignoring its timeout, like a client stuck reconnecting) until
 * the mode changes or the calling thread is interrupted. Survives {@link #close} so a test can hand
 * the same "remote store" to a second store after a restart.
 */
final class InMemoryRemoteTier implements RemoteTier {
    enum Mode { UP, DOWN, HANG }

    private final Map<String, byte[]> values = new ConcurrentHashMap<>();
    private volatile Mode mode = Mode.UP;
    final AtomicInteger gets = new AtomicInteger();
    final AtomicInteger puts = new AtomicInteger();
    final AtomicInteger closes = new AtomicInteger();

    void mode(Mode mode) {
        synchronized (this) {
            this.mode = mode;
            notifyAll();
        }
    }

    /** The stored state of {@code entity}, decoded, or null. */
    EntityState state(String entity) {
        byte[] bytes = values.get(entity);
        return bytes == null ? null : StateCodec.decode(bytes, entity);
    }

    /** The count_total of every stored entity, summed: exact event accounting. */
    long eventsStored() {
        long total = 0;
        for (byte[] bytes : values.values()) {
            total += StateCodec.decode(bytes, "a stored entity").countTotal;
        }
        return total;
    }

    void seed(String entity, EntityState state) {
        values.put(entity, StateCodec.encode(state));
    }

    int size() {
        return values.size();
    }

    @Override
    public String name() {
        return "memory";
    }

    @Override
    public List<byte[]> getAll(List<String> keys, Duration timeout) {
        gets.incrementAndGet();
        fault();
        List<byte[]> result = new ArrayList<>(keys.size());
        for (String key : keys) {
            result.add(values.get(key));
        }
        return result;
    }

    @Override
    public void putAll(Map<String, byte[]> entries, Duration timeout) {
        puts.incrementAndGet();
        fault();
        values.putAll(entries);
    }

    private void fault() {
        synchronized (this) {
            while (mode == Mode.HANG) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new RemoteTierException("interrupted while hanging", e);
                }
            }
        }
        if (mode == Mode.DOWN) {
            throw new RemoteTierException("the in-memory tier is down", null);
        }
    }

    @Override
    public void close() {
        closes.incrementAndGet();
    }
}
