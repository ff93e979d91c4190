package dev.serval.features;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Lock;

/**
 * Recording without L2 (remote tier only, with or without L1): synchronous write-through, failing
 * with {@link FeatureStoreException} when the remote tier cannot be read or written.
 */
final class WriteThrough {
    private WriteThrough() {
    }

    /** Reads the entities' remote states (L1 first), applies the events and writes them back before returning. */
    static void record(EntityLocks locks, MemoryTier memory, RemoteCalls remote, List<Event> events,
                       Map<String, EntityState> states) {
        List<Lock> held = locks.lockAll(states.keySet());
        try {
            List<String> unknown = new ArrayList<>();
            for (Map.Entry<String, EntityState> entry : states.entrySet()) {
                EntityState state = memory == null ? null : memory.get(entry.getKey());
                if (state == null) {
                    unknown.add(entry.getKey());
                }
                entry.setValue(state);
            }
            if (!unknown.isEmpty()) {
                List<byte[]> found = remote.getAll(unknown);
                if (found == null) {
                    throw new FeatureStoreException("cannot record: the " + remote.name()
                            + " tier (the only durable tier) could not be read");
                }
                for (int i = 0; i < unknown.size(); i++) {
                    byte[] value = found.get(i);
                    states.put(unknown.get(i), value == null ? new EntityState()
                            : StateCodec.decode(value, "entity '" + unknown.get(i) + "' from " + remote.name()));
                }
            }
            for (Event event : events) {
                states.get(event.entity()).add(event);
            }
            Map<String, byte[]> entries = new LinkedHashMap<>();
            for (Map.Entry<String, EntityState> entry : states.entrySet()) {
                entries.put(entry.getKey(), StateCodec.encode(entry.getValue()));
            }
            try {
                remote.putAll(entries);
            } catch (RemoteTierException e) {
                throw new FeatureStoreException("cannot record: " + e.getMessage(), e);
            }
            if (memory != null) {
                for (Map.Entry<String, EntityState> entry : states.entrySet()) {
                    memory.put(entry.getKey(), entry.getValue());
                }
            }
        } catch (RuntimeException e) {
            if (memory != null) { // L1's states may hold the unacknowledged events: reload them next time
                states.keySet().forEach(memory::invalidate);
            }
            throw e;
        } finally {
            EntityLocks.unlockAll(held);
        }
    }
}
