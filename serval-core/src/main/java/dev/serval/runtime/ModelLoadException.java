package dev.serval.runtime;

/** A model could not be loaded; the message says why in terms a model author can act on. */
public final class ModelLoadException extends Exception {
    private static final long serialVersionUID = 1L;

    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
