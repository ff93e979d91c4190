package dev.serval.runtime;

/**
 * Lets another thread stop a run in progress (its deadline passed).
 *
 * <p>Design note: the runtime's cancel hook touches native state (ONNX Runtime's RunOptions) that
 * is freed when the run ends. Attach, detach and cancel are serialized on this object so a cancel
 * can never reach a hook whose native state is gone, and a cancel that comes before the run starts
 * stops it from starting.
 *
 * <p>Thread-safe.
 */
public final class RunControl {
    private Runnable hook;
    private boolean cancelled;

    /**
     * Installs the runtime's way of stopping the run.
     *
     * @return false if the run was cancelled already and must not start
     */
    public synchronized boolean attach(Runnable cancelHook) {
        if (cancelled) {
            return false;
        }
        this.hook = cancelHook;
        return true;
    }

    /** Called by the runtime when the run ends, before it frees what the hook uses. */
    public synchronized void detach() {
        hook = null;
    }

    /** Stops the run if it is in progress, or keeps it from starting. Idempotent. */
    public synchronized void cancel() {
        cancelled = true;
        Runnable stop = hook;
        hook = null;
        if (stop != null) {
            stop.run();
        }
    }

    public synchronized boolean isCancelled() {
        return cancelled;
    }
}
