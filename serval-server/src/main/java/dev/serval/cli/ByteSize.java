package dev.serval.cli;

import java.util.Locale;
import picocli.CommandLine;

/** Parses sizes such as {@code 1048576}, {@code 64m}, {@code 64MB}, {@code 1g} (powers of 1024). */
final class ByteSize implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        String text = value.strip().toLowerCase(Locale.ROOT);
        if (text.endsWith("b")) {
            text = text.substring(0, text.length() - 1);
        }
        int shift = 0;
        if (!text.isEmpty()) {
            switch (text.charAt(text.length() - 1)) {
                case 'k' -> shift = 10;
                case 'm' -> shift = 20;
                case 'g' -> shift = 30;
                default -> { }
            }
        }
        if (shift > 0) {
            text = text.substring(0, text.length() - 1);
        }
        try {
            long number = Long.parseLong(text.strip());
            if (number <= 0 || number > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return number << shift;
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException(
                    "'" + value + "' is not a size; expected bytes or a number with k, m or g, e.g. 64m");
        }
    }
}
