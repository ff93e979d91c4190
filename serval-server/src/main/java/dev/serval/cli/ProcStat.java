package dev.serval.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads Linux {@code /proc/.../stat} and {@code comm} files (proc(5)) into one reused buffer and
 * parses their fields in place.
 *
 * <p>Design note: the samplers read a file per thread every second (the heap tuner) or every 10 s
 * (the compiler threads), and {@code Files.readString} allocated about 14 KB per file, since a proc
 * file reports no size: 0.5 MB/s that alone grew an idle server's heap from 22 to 36 MB in 30 s, and
 * with ZGC's proactive collections off nothing collects an idle heap short of its soft target. One
 * instance per sampling thread: not thread-safe.
 */
final class ProcStat {
    /** A stat line has 52 numeric fields and a command of at most 64 bytes: well under this. */
    private final byte[] buffer = new byte[2048];
    private int length;

    /** Reads {@code file}; false when it cannot be read (e.g. the thread ended meanwhile). */
    boolean read(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            length = 0;
            for (int n; length < buffer.length && (n = in.read(buffer, length, buffer.length - length)) > 0; ) {
                length += n;
            }
            return true;
        } catch (IOException e) {
            length = 0;
            return false;
        }
    }

    /** A line read from elsewhere (tests). */
    static ProcStat of(String line) {
        ProcStat stat = new ProcStat();
        byte[] bytes = line.getBytes(StandardCharsets.US_ASCII);
        stat.length = Math.min(bytes.length, stat.buffer.length);
        System.arraycopy(bytes, 0, stat.buffer, 0, stat.length);
        return stat;
    }

    /** Whether what was read starts with the ASCII {@code prefix} (for {@code comm} files). */
    boolean startsWith(String prefix) {
        if (prefix.length() > length) {
            return false;
        }
        for (int i = 0; i < prefix.length(); i++) {
            if (buffer[i] != prefix.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Field {@code n} (numbered as in proc(5), from 3: the state is field 3) of the stat line read, as
     * a decimal number. The fields are counted past the command's last ')', since the command is in
     * parentheses and may itself hold spaces and parentheses.
     *
     * @throws IllegalStateException when the line has no such numeric field
     */
    long field(int n) {
        int at = length - 1;
        while (at >= 0 && buffer[at] != ')') {
            at--;
        }
        if (at < 0 || n < 3) {
            throw new IllegalStateException("no field " + n + " in a stat line of " + length + " bytes");
        }
        at += 2; // past ") ": at field 3
        for (int field = 3; field < n; field++) {
            while (at < length && buffer[at] != ' ') {
                at++;
            }
            at++;
        }
        boolean negative = at < length && buffer[at] == '-';
        if (negative) {
            at++;
        }
        long value = 0;
        int digits = 0;
        for (; at < length && buffer[at] >= '0' && buffer[at] <= '9'; at++, digits++) {
            value = value * 10 + (buffer[at] - '0');
        }
        if (digits == 0) {
            throw new IllegalStateException("field " + n + " of a stat line is not a number");
        }
        return negative ? -value : value;
    }
}
