package dev.serval.features;

/** The store could not do what was asked: a local tier failed, or its configuration is invalid. */
public class FeatureStoreException extends RuntimeException {

    public FeatureStoreException(String message) {
        super(message);
    }

    public FeatureStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
