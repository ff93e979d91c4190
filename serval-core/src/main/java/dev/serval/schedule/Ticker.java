package dev.serval.schedule;

/**
 * A source of monotonic time in nanoseconds, injected so that queue waits, delays and deadlines
 * can be tested without sleeping.
 */
@FunctionalInterface
public interface Ticker {
    /** {@link System#nanoTime()}. */
    Ticker SYSTEM = System::nanoTime;

    long nanoTime();
}
