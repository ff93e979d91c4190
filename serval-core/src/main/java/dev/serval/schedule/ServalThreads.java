package dev.serval.schedule;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one place Serval creates threads. Inference threads are platform threads: a virtual thread
 * inside a JNI call pins its carrier, and two pinned carriers on a two-core machine stop all I/O.
 */
public final class ServalThreads {
    private ServalThreads() {
    }

    /** Named daemon platform threads: {@code prefix-1}, {@code prefix-2} ... */
    public static ThreadFactory platform(String prefix) {
        AtomicInteger counter = new AtomicInteger();
        return runnable -> {
            Thread thread = Thread.ofPlatform()
                    .name(prefix + "-" + counter.incrementAndGet())
                    .daemon(true)
                    .unstarted(runnable);
            return thread;
        };
    }

    /** Virtual threads for request handling, named {@code prefix-N}. */
    public static ThreadFactory virtual(String prefix) {
        return Thread.ofVirtual().name(prefix + "-", 1).factory();
    }
}
