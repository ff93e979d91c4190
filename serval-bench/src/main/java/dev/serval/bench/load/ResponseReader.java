package dev.serval.bench.load;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads HTTP/1.1 responses one after another from a keep-alive connection: the status line, the
 * headers that frame the body (Content-Length, Transfer-Encoding: chunked, Connection), and the
 * body, which is skipped or copied to a sink. Interim 1xx responses are skipped.
 *
 * <p>Design note: the generator must cost little CPU per request, so this works on one reusable
 * byte buffer, compares header names as bytes and allocates nothing per response. It reads exactly
 * the bytes of one response, so the next response on the connection starts where this one ended.
 *
 * <p>Not thread-safe: one reader per connection. After {@link #read} the fields {@link #status},
 * {@link #bodyLength} and {@link #keepAlive} describe the response just read.
 */
final class ResponseReader {
    /** The stream ended before the first byte of a status line: the peer closed an idle connection. */
    static final class ClosedBeforeResponse extends EOFException {
        private static final long serialVersionUID = 1L;

        ClosedBeforeResponse() {
            super("the server closed the connection before answering");
        }
    }

    private static final int MAX_LINE = 16 * 1024;
    private static final byte[] CONTENT_LENGTH = ascii("content-length");
    private static final byte[] TRANSFER_ENCODING = ascii("transfer-encoding");
    private static final byte[] CONNECTION = ascii("connection");
    private static final byte[] RETRY_AFTER = ascii("retry-after");
    private static final byte[] CHUNKED = ascii("chunked");
    private static final byte[] CLOSE = ascii("close");
    private static final byte[] KEEP_ALIVE = ascii("keep-alive");

    private final InputStream in;
    private final byte[] buffer;
    private final byte[] line = new byte[MAX_LINE];
    private int position;
    private int limit;
    private boolean http11;

    /** The status code of the last response. */
    int status;
    /** The body bytes of the last response (decoded length for chunked bodies). */
    long bodyLength;
    /** Whether the connection may carry another request. */
    boolean keepAlive;
    /** The Retry-After header of the last response in seconds, or -1 (absent, or an HTTP date). */
    long retryAfterSeconds;

    ResponseReader(InputStream in, int bufferSize) {
        this.in = in;
        this.buffer = new byte[Math.max(bufferSize, 1024)];
    }

    /**
     * Reads one full response (after any 1xx interim ones).
     *
     * @param headRequest the request was HEAD: the response has no body whatever its headers say
     * @param body        receives the body bytes, or null to skip them
     * @return the status code
     * @throws ClosedBeforeResponse if the stream ended before any byte of the response
     * @throws IOException          on a malformed response, a stream that ends inside one, or I/O failure
     */
    int read(boolean headRequest, OutputStream body) throws IOException {
        boolean first = true;
        while (true) {
            int length = readLine(first);
            first = false;
            parseStatusLine(length);
            long contentLength = -1;
            boolean chunked = false;
            Boolean connectionKeepAlive = null;
            retryAfterSeconds = -1;
            while ((length = readLine(false)) > 0) {
                int colon = indexOf(line, length, (byte) ':');
                if (colon <= 0) {
                    throw new IOException("malformed header line: " + text(length));
                }
                int valueStart = skipSpaces(colon + 1, length);
                if (nameIs(CONTENT_LENGTH, colon)) {
                    contentLength = parseDecimal(valueStart, trimEnd(length));
                } else if (nameIs(TRANSFER_ENCODING, colon)) {
                    chunked |= containsIgnoreCase(valueStart, length, CHUNKED);
                } else if (nameIs(RETRY_AFTER, colon)) {
                    retryAfterSeconds = parseSeconds(valueStart, trimEnd(length));
                } else if (nameIs(CONNECTION, colon)) {
                    if (containsIgnoreCase(valueStart, length, CLOSE)) {
                        connectionKeepAlive = false;
                    } else if (containsIgnoreCase(valueStart, length, KEEP_ALIVE)) {
                        connectionKeepAlive = true;
                    }
                }
            }
            if (status >= 100 && status < 200 && status != 101) {
                continue; // interim response (100 Continue, 103 Early Hints): the real one follows
            }
            keepAlive = connectionKeepAlive != null ? connectionKeepAlive : http11;
            bodyLength = 0;
            if (headRequest || status == 204 || status == 304 || (status >= 100 && status < 200)) {
                return status;
            }
            if (chunked) {
                readChunked(body);
            } else if (contentLength >= 0) {
                bodyLength = contentLength;
                transfer(contentLength, body);
            } else { // no framing: the body runs to the end of the stream
                keepAlive = false;
                bodyLength = transferToEnd(body);
            }
            return status;
        }
    }

    private void parseStatusLine(int length) throws IOException {
        // HTTP/1.x SSS reason
        if (length < 12 || line[0] != 'H' || line[1] != 'T' || line[2] != 'T' || line[3] != 'P' || line[4] != '/'
                || line[8] != ' ' || !digit(line[9]) || !digit(line[10]) || !digit(line[11])
                || (length > 12 && line[12] != ' ')) {
            throw new IOException("malformed status line: " + text(length));
        }
        http11 = !(line[5] == '1' && line[6] == '.' && line[7] == '0');
        status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    }

    private void readChunked(OutputStream body) throws IOException {
        long total = 0;
        while (true) {
            int length = readLine(false);
            long size = 0;
            int digits = 0;
            for (int i = 0; i < length; i++) {
                int d = Character.digit(line[i], 16);
                if (d < 0) {
                    if (line[i] == ';' || line[i] == ' ' || line[i] == '\t') {
                        break; // chunk extensions follow
                    }
                    throw new IOException("malformed chunk size line: " + text(length));
                }
                if (++digits > 15) {
                    throw new IOException("chunk size too large: " + text(length));
                }
                size = size * 16 + d;
            }
            if (digits == 0) {
                throw new IOException("malformed chunk size line: " + text(length));
            }
            if (size == 0) {
                while (readLine(false) > 0) {
                    // trailer fields: ignored
                }
                bodyLength = total;
                return;
            }
            transfer(size, body);
            total += size;
            if (readLine(false) != 0) {
                throw new IOException("a chunk is not followed by CRLF");
            }
        }
    }

    /** Reads a line without its CRLF (a bare LF is accepted) into {@link #line}; returns its length. */
    private int readLine(boolean startOfResponse) throws IOException {
        int length = 0;
        while (true) {
            if (position == limit && !fill()) {
                if (startOfResponse && length == 0) {
                    throw new ClosedBeforeResponse();
                }
                throw new EOFException("the stream ended inside a response header");
            }
            byte b = buffer[position++];
            if (b == '\n') {
                return length > 0 && line[length - 1] == '\r' ? length - 1 : length;
            }
            if (length == MAX_LINE) {
                throw new IOException("a header line is longer than " + MAX_LINE + " bytes");
            }
            line[length++] = b;
        }
    }

    private void transfer(long count, OutputStream body) throws IOException {
        long left = count;
        while (left > 0) {
            if (position == limit && !fill()) {
                throw new EOFException("the stream ended " + left + " bytes before the end of the body");
            }
            int n = (int) Math.min(left, limit - position);
            if (body != null) {
                body.write(buffer, position, n);
            }
            position += n;
            left -= n;
        }
    }

    private long transferToEnd(OutputStream body) throws IOException {
        long total = 0;
        while (position < limit || fill()) {
            int n = limit - position;
            if (body != null) {
                body.write(buffer, position, n);
            }
            position = limit;
            total += n;
        }
        return total;
    }

    private boolean fill() throws IOException {
        int n = in.read(buffer, 0, buffer.length);
        if (n <= 0) {
            return false;
        }
        position = 0;
        limit = n;
        return true;
    }

    private boolean nameIs(byte[] lowerName, int nameEnd) {
        int end = nameEnd;
        while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) {
            end--;
        }
        if (end != lowerName.length) {
            return false;
        }
        for (int i = 0; i < end; i++) {
            if (lower(line[i]) != lowerName[i]) {
                return false;
            }
        }
        return true;
    }

    private boolean containsIgnoreCase(int from, int to, byte[] lowerWord) {
        outer:
        for (int i = from; i + lowerWord.length <= to; i++) {
            for (int j = 0; j < lowerWord.length; j++) {
                if (lower(line[i + j]) != lowerWord[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private long parseDecimal(int from, int to) throws IOException {
        if (from >= to || to - from > 18) {
            throw new IOException("malformed Content-Length: '" + new String(line, from, Math.max(0, to - from),
                    StandardCharsets.ISO_8859_1) + "'");
        }
        long value = 0;
        for (int i = from; i < to; i++) {
            if (!digit(line[i])) {
                throw new IOException("malformed Content-Length: '" + new String(line, from, to - from,
                        StandardCharsets.ISO_8859_1) + "'");
            }
            value = value * 10 + (line[i] - '0');
        }
        return value;
    }

    /** Delta-seconds, or -1 for anything else (an HTTP date, garbage). */
    private long parseSeconds(int from, int to) {
        if (from >= to || to - from > 9) {
            return -1;
        }
        long value = 0;
        for (int i = from; i < to; i++) {
            if (!digit(line[i])) {
                return -1;
            }
            value = value * 10 + (line[i] - '0');
        }
        return value;
    }

    private int skipSpaces(int from, int to) {
        while (from < to && (line[from] == ' ' || line[from] == '\t')) {
            from++;
        }
        return from;
    }

    private int trimEnd(int to) {
        while (to > 0 && (line[to - 1] == ' ' || line[to - 1] == '\t')) {
            to--;
        }
        return to;
    }

    private static int indexOf(byte[] bytes, int length, byte b) {
        for (int i = 0; i < length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private static boolean digit(byte b) {
        return b >= '0' && b <= '9';
    }

    private static byte lower(byte b) {
        return b >= 'A' && b <= 'Z' ? (byte) (b + 32) : b;
    }

    private String text(int length) {
        return new String(line, 0, Math.min(length, 200), StandardCharsets.ISO_8859_1);
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
