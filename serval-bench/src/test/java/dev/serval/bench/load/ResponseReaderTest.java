package dev.serval.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ResponseReaderTest {

    private static ResponseReader reader(String bytes, int bufferSize) {
        return new ResponseReader(new ByteArrayInputStream(bytes.getBytes(StandardCharsets.ISO_8859_1)), bufferSize);
    }

    private static String body(ResponseReader reader) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        reader.read(false, body);
        return body.toString(StandardCharsets.ISO_8859_1);
    }

    @Test
    void read_decodesAChunkedBodyWithExtensionsAndTrailers_andTheNextResponseFollows() throws IOException {
        String chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                + "5\r\nhello\r\n"
                + "1A;name=value\r\n" + "abcdefghijklmnopqrstuvwxyz\r\n"
                + "0\r\nX-Trailer: yes\r\n\r\n";
        String next = "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 4\r\nRetry-After: 1\r\n\r\nbusy";
        ResponseReader reader = reader(chunked + next, 1024);

        assertThat(body(reader)).isEqualTo("helloabcdefghijklmnopqrstuvwxyz");
        assertThat(reader.status).isEqualTo(200);
        assertThat(reader.bodyLength).isEqualTo(31);
        assertThat(reader.keepAlive).isTrue();
        assertThat(reader.retryAfterSeconds).isEqualTo(-1);

        assertThat(body(reader)).isEqualTo("busy");
        assertThat(reader.status).isEqualTo(429);
        assertThat(reader.retryAfterSeconds).isEqualTo(1);
    }

    @Test
    void read_handlesChunksAndHeadersSplitAcrossTinyReads() throws IOException {
        String response = "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, CHUNKED\r\n\r\n"
                + "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        // A stream that returns one byte per read, and the smallest buffer the reader allows.
        InputStream trickle = new InputStream() {
            private final byte[] bytes = response.getBytes(StandardCharsets.ISO_8859_1);
            private int next;

            @Override
            public int read() {
                return next < bytes.length ? bytes[next++] : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (next >= bytes.length) {
                    return -1;
                }
                b[off] = bytes[next++];
                return 1;
            }
        };
        ResponseReader reader = new ResponseReader(trickle, 1);
        ByteArrayOutputStream body = new ByteArrayOutputStream();

        assertThat(reader.read(false, body)).isEqualTo(200);
        assertThat(body.toString(StandardCharsets.ISO_8859_1)).isEqualTo("abc0123456789abcdef");
    }

    @Test
    void read_skipsInterimResponses_andHonoursConnectionClose() throws IOException {
        ResponseReader reader = reader("HTTP/1.1 100 Continue\r\n\r\n"
                + "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno", 64);

        assertThat(body(reader)).isEqualTo("no");
        assertThat(reader.status).isEqualTo(503);
        assertThat(reader.keepAlive).isFalse();
    }

    @Test
    void read_takesAnUnframedBodyToTheEndOfTheStream() throws IOException {
        ResponseReader reader = reader("HTTP/1.0 200 OK\r\n\r\nall of it", 64);

        assertThat(body(reader)).isEqualTo("all of it");
        assertThat(reader.keepAlive).isFalse();
    }

    @Test
    void read_readsNoBodyForHeadOr204() throws IOException {
        ResponseReader reader = reader("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
                + "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 64);

        assertThat(reader.read(true, null)).isEqualTo(200);
        assertThat(reader.read(false, null)).isEqualTo(204);
        assertThat(reader.read(false, null)).isEqualTo(200);
        assertThat(reader.bodyLength).isEqualTo(1);
    }

    @Test
    void read_tellsAClosedIdleConnectionFromATruncatedResponse() {
        assertThatThrownBy(() -> reader("", 64).read(false, null))
                .isInstanceOf(ResponseReader.ClosedBeforeResponse.class);
        assertThatThrownBy(() -> reader("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 64).read(false, null))
                .isInstanceOf(EOFException.class).isNotInstanceOf(ResponseReader.ClosedBeforeResponse.class)
                .hasMessageContaining("5 bytes before the end");
        assertThatThrownBy(() -> reader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc", 64)
                .read(false, null)).isInstanceOf(EOFException.class);
    }

    @Test
    void read_rejectsMalformedResponses() {
        assertThatThrownBy(() -> reader("HTTP/1.1 2x0 OK\r\n\r\n", 64).read(false, null))
                .hasMessageContaining("malformed status line");
        assertThatThrownBy(() -> reader("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", 64).read(false, null))
                .hasMessageContaining("malformed Content-Length");
        assertThatThrownBy(() -> reader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 64)
                .read(false, null)).hasMessageContaining("malformed chunk size");
        assertThatThrownBy(() -> reader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 64)
                .read(false, null)).hasMessageContaining("not followed by CRLF");
    }
}
