package dev.serval.bench.load;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Builds the bytes of one HTTP/1.1 request once, so that every send is a single write of a shared,
 * never modified array (no per-request formatting or copying).
 */
final class RequestTemplate {
    private static final Set<String> RESERVED = Set.of("host", "content-length", "transfer-encoding", "connection");

    private RequestTemplate() {
    }

    /**
     * @param method      e.g. GET or POST (upper-case letters only)
     * @param headers     extra headers as {@code Name: value}; Host, Content-Length, Transfer-Encoding
     *                    and Connection are the generator's and are refused
     * @param contentType the Content-Type of {@code body}, or null for none
     * @param body        the body, or null for none (then no Content-Length is sent unless the
     *                    method is POST or PUT, which get {@code Content-Length: 0})
     * @throws IllegalArgumentException for a malformed method or header
     */
    static byte[] build(String method, Target target, List<String> headers, String contentType, byte[] body) {
        if (method.isEmpty() || !method.chars().allMatch(c -> c >= 'A' && c <= 'Z')) {
            throw new IllegalArgumentException("--method '" + method + "' must be upper-case letters, e.g. GET or POST");
        }
        StringBuilder head = new StringBuilder(256);
        head.append(method).append(' ').append(target.path()).append(" HTTP/1.1\r\n");
        head.append("Host: ").append(target.authority()).append("\r\n");
        for (String header : headers) {
            int colon = header.indexOf(':');
            if (colon <= 0 || header.indexOf('\r') >= 0 || header.indexOf('\n') >= 0
                    || header.substring(0, colon).chars().anyMatch(c -> c <= ' ' || c >= 127)) {
                throw new IllegalArgumentException("--header '" + header + "' must be 'Name: value' on one line");
            }
            String name = header.substring(0, colon).trim();
            if (RESERVED.contains(name.toLowerCase(Locale.ROOT))) {
                throw new IllegalArgumentException("--header " + name + " is set by the generator itself");
            }
            head.append(name).append(": ").append(header.substring(colon + 1).trim()).append("\r\n");
        }
        if (contentType != null) {
            head.append("Content-Type: ").append(contentType).append("\r\n");
        }
        if (body != null || method.equals("POST") || method.equals("PUT")) {
            head.append("Content-Length: ").append(body == null ? 0 : body.length).append("\r\n");
        }
        head.append("\r\n");
        ByteArrayOutputStream out = new ByteArrayOutputStream(head.length() + (body == null ? 0 : body.length));
        out.writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (body != null) {
            out.writeBytes(body);
        }
        return out.toByteArray();
    }
}
