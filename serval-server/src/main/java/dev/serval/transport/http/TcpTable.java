package dev.serval.transport.http;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/**
 * The kernel's table of TCP connections (Linux: {@code /proc/net/tcp} and {@code /proc/net/tcp6}),
 * read for the states of the connections to a few local ports.
 *
 * <p>Design note: this is how {@link ClientDepartures} learns that a client closed its connection
 * without touching the socket. Reading the socket would take the bytes of a pipelined next
 * request from under Helidon's connection reader, and Helidon's own idle probe
 * ({@code HelidonSocket.idle()}) reports a live connection as closed after 101 ms on a socket
 * without read timeout, which is what server sockets have. A scan costs the kernel a walk of its
 * connection hash (milliseconds), so it is done only while a request has waited long enough to be
 * worth it, a few times a second.
 *
 * <p>Not thread-safe: one scanner thread owns an instance (it reuses its read buffer).
 */
final class TcpTable {
    /** The kernel's TCP_ESTABLISHED. */
    static final int ESTABLISHED = 0x01;
    private static final Path[] FILES = {Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6")};
    /** An IPv4 peer of a dual-stack (IPv6) socket: ::ffff:a.b.c.d, as the table prints it. */
    private static final String MAPPED_PREFIX = "0000000000000000FFFF0000";

    /**
     * One connection, as the table names it: the local port, the peer's port and the peer's
     * address in the table's hex (an IPv4 address, mapped or not, as its 8 hex digits).
     */
    record Peer(int localPort, int remotePort, String remoteHex) {
        static Peer of(int localPort, InetAddress remote, int remotePort) {
            return new Peer(localPort, remotePort, hex(remote));
        }
    }

    private byte[] buffer = new byte[64 * 1024];
    /**
     * The files read: both until the watched ports' connections are found in one of them (a
     * listener's connections are all IPv4 or all IPv6), then that one. Each read costs the kernel
     * a walk of its whole connection hash (measured at about 6 ms on this project's machine, with
     * a few hundred connections), so the other file is not read for nothing.
     */
    private Path[] files = FILES;

    /** True when this machine has the table (Linux). */
    static boolean available() {
        return Files.isReadable(FILES[0]);
    }

    /**
     * Reads the states of the connections whose local port is in {@code localPorts} into
     * {@code states} (peer to the kernel's state number, {@link #ESTABLISHED} for an open one).
     */
    void read(Set<Integer> localPorts, Map<Peer, Integer> states) throws IOException {
        Path found = null;
        int foundIn = 0;
        for (Path file : files) {
            int length;
            try (InputStream in = Files.newInputStream(file)) {
                length = readAll(in);
            } catch (NoSuchFileException e) {
                continue; // no IPv6 on this machine
            }
            int before = states.size();
            parse(buffer, length, localPorts, states);
            if (states.size() > before) {
                found = file;
                foundIn++;
            }
        }
        if (foundIn == 1 && files.length > 1) {
            files = new Path[] {found};
        }
    }

    private int readAll(InputStream in) throws IOException {
        int length = 0;
        while (true) {
            if (length == buffer.length) {
                buffer = Arrays.copyOf(buffer, buffer.length * 2);
            }
            int read = in.read(buffer, length, buffer.length - length);
            if (read < 0) {
                return length;
            }
            length += read;
        }
    }

    /**
     * Parses a table's text: a header line, then per connection
     * {@code "sl: LOCALHEX:PORT REMOTEHEX:PORT ST ..."}. Lines of other local ports are skipped
     * before their addresses are decoded.
     */
    static void parse(byte[] text, int length, Set<Integer> localPorts, Map<Peer, Integer> states) {
        int at = nextLine(text, 0, length); // the header
        int[] fields = new int[8];
        while (at < length) {
            int end = nextLine(text, at, length);
            int count = fields(text, at, end, fields);
            at = end;
            if (count < 4) {
                continue;
            }
            // fields: [0,1) "sl:", [2,3) local, [4,5) remote, [6,7) state
            int localColon = lastColon(text, fields[2], fields[3]);
            int remoteColon = lastColon(text, fields[4], fields[5]);
            if (localColon < 0 || remoteColon < 0) {
                continue;
            }
            int localPort = (int) hexValue(text, localColon + 1, fields[3]);
            if (!localPorts.contains(localPort)) {
                continue;
            }
            int remotePort = (int) hexValue(text, remoteColon + 1, fields[5]);
            int state = (int) hexValue(text, fields[6], fields[7]);
            String remote = new String(text, fields[4], remoteColon - fields[4], StandardCharsets.US_ASCII);
            if (remote.length() == 32 && remote.startsWith(MAPPED_PREFIX)) {
                remote = remote.substring(24);
            }
            states.put(new Peer(localPort, remotePort, remote), state);
        }
    }

    private static int nextLine(byte[] text, int from, int length) {
        for (int i = from; i < length; i++) {
            if (text[i] == '\n') {
                return i + 1;
            }
        }
        return length;
    }

    /** Start and end offsets of the first {@code fields.length / 2} space-separated fields. */
    private static int fields(byte[] text, int from, int to, int[] fields) {
        int count = 0;
        int i = from;
        while (count < fields.length / 2) {
            while (i < to && (text[i] == ' ' || text[i] == '\n')) {
                i++;
            }
            if (i >= to) {
                break;
            }
            fields[2 * count] = i;
            while (i < to && text[i] != ' ' && text[i] != '\n') {
                i++;
            }
            fields[2 * count + 1] = i;
            count++;
        }
        return count;
    }

    private static int lastColon(byte[] text, int from, int to) {
        for (int i = to - 1; i >= from; i--) {
            if (text[i] == ':') {
                return i;
            }
        }
        return -1;
    }

    private static long hexValue(byte[] text, int from, int to) {
        long value = 0;
        for (int i = from; i < to; i++) {
            value = (value << 4) | Character.digit(text[i], 16);
        }
        return value;
    }

    /**
     * An address as the table prints it: each 32-bit word in the machine's byte order, in upper
     * case hex; an IPv4 address as its one word.
     */
    static String hex(InetAddress address) {
        byte[] bytes = address.getAddress();
        boolean little = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (int word = 0; word < bytes.length; word += 4) {
            for (int k = 0; k < 4; k++) {
                int b = bytes[word + (little ? 3 - k : k)] & 0xFF;
                out.append(Character.toUpperCase(Character.forDigit(b >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xF, 16)));
            }
        }
        return out.toString();
    }
}
