package dev.serval.features;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one place the feature store creates threads: named daemon platform threads. Platform, not
 * virtual, because they spend their time in JNI (RocksDB) and blocking client calls, which would pin
 * a virtual thread's carrier.
 */
final class FeatureThreads {
    private FeatureThreads() {
    }

    /** Threads named {@code prefix-1}, {@code prefix-2} ... */
    static ThreadFactory platform(String prefix) {
        AtomicInteger counter = new AtomicInteger();
        return runnable -> Thread.ofPlatform()
                .name(prefix + "-" + counter.incrementAndGet())
                .daemon(true)
                .unstarted(runnable);
    }
}
