package dev.serval.bench.features;

import dev.serval.features.TieredFeatureStore;
import java.nio.file.Path;

/** The end of a feature store benchmark's trial, shared by its benchmarks. */
final class Trials {
    private Trials() {
    }

    /**
     * Prints the store's counters and closes it, stops the Redis server, and deletes the trial's
     * files; each may be null (a set-up that failed part way).
     */
    static void end(TieredFeatureStore store, LocalRedis redis, Path dir) {
        if (store != null) {
            System.out.println();
            System.out.println("# store after the trial: " + store.stats());
            store.close();
        }
        if (redis != null) {
            redis.close();
        }
        if (dir != null) {
            LocalRedis.delete(dir);
        }
    }
}
