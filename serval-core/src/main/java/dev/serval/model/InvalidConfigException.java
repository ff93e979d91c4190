package dev.serval.model;

/** A model's configuration file is unreadable or has a bad setting; the message names it. */
public final class InvalidConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidConfigException(String message) {
        super(message);
    }
}
