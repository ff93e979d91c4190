package dev.serval.api;

import java.util.Locale;

/**
 * A failure with a code that transports map to a protocol status, and a message meant for the
 * client: it names the field, the value received and what was expected.
 */
public final class ServalException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    public ServalException(ErrorCode code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public ServalException(ErrorCode code, String message, Throwable cause) {
        super(message, cause, false, false);
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }

    public static ServalException invalidArgument(String format, Object... args) {
        return new ServalException(ErrorCode.INVALID_ARGUMENT, format(format, args));
    }

    public static ServalException notFound(String format, Object... args) {
        return new ServalException(ErrorCode.NOT_FOUND, format(format, args));
    }

    public static ServalException unavailable(String format, Object... args) {
        return new ServalException(ErrorCode.UNAVAILABLE, format(format, args));
    }

    public static ServalException internal(String message, Throwable cause) {
        return new ServalException(ErrorCode.INTERNAL, message, cause);
    }

    private static String format(String format, Object... args) {
        return args.length == 0 ? format : String.format(Locale.ROOT, format, args);
    }
}
