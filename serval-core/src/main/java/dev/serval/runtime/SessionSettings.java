package dev.serval.runtime;

/**
 * How a session uses the CPU.
 *
 * @param intraOpThreads threads one run may use (the caller counts as one); at least 1
 * @param allowSpinning  whether idle pool threads spin; off by default because spinning steals
 *                       cores from request handling on small machines
 */
public record SessionSettings(int intraOpThreads, boolean allowSpinning) {

    public SessionSettings {
        if (intraOpThreads < 1) {
            throw new IllegalArgumentException("intraOpThreads must be at least 1, was " + intraOpThreads);
        }
    }
}
