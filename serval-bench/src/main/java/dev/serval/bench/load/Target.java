package dev.serval.bench.load;

import java.net.InetSocketAddress;

/**
 * Where the load goes: a plain-HTTP host, port and path. Immutable.
 *
 * @param host the host name or address (the Host header carries it)
 * @param port the TCP port
 * @param path the request target, starting with {@code /}
 */
record Target(String host, int port, String path) {

    Target {
        if (host.isEmpty()) {
            throw new IllegalArgumentException("the URL has no host");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not in 1..65535");
        }
        if (!path.startsWith("/") || path.chars().anyMatch(c -> c <= ' ' || c >= 127)) {
            throw new IllegalArgumentException("path '" + path + "' must start with / and hold no spaces or control characters");
        }
    }

    /**
     * Parses {@code http://host:port/path}, {@code host:port/path} or {@code host:port}.
     *
     * @throws IllegalArgumentException saying what was wrong; https is refused (plain sockets only)
     */
    static Target parse(String url) {
        String rest = url;
        if (rest.regionMatches(true, 0, "https://", 0, 8)) {
            throw new IllegalArgumentException("--url " + url + ": https is not supported (the generator speaks plain HTTP/1.1)");
        }
        if (rest.regionMatches(true, 0, "http://", 0, 7)) {
            rest = rest.substring(7);
        }
        int slash = rest.indexOf('/');
        String authority = slash < 0 ? rest : rest.substring(0, slash);
        String path = slash < 0 ? "/" : rest.substring(slash);
        int colon = authority.lastIndexOf(':');
        if (colon < 0 || authority.endsWith("]")) {
            return new Target(strip(authority), 80, path);
        }
        int port;
        try {
            port = Integer.parseInt(authority.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--url " + url + ": '" + authority.substring(colon + 1) + "' is not a port number");
        }
        return new Target(strip(authority.substring(0, colon)), port, path);
    }

    private static String strip(String host) { // [::1] -> ::1
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /** The Host header's value. */
    String authority() {
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return port == 80 ? h : h + ":" + port;
    }

    InetSocketAddress address() {
        return new InetSocketAddress(host, port);
    }
}
