package dev.serval.bench.load;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * A minimal HTTP/1.1 server for the generator's tests: reads each request (headers and a
 * Content-Length body), waits a fixed delay, and writes the response the test chose for the
 * request's number. With capacity 1 it serves one connection at a time on one thread, so it can
 * answer at most 1000 / delay requests per second, whatever the client does.
 */
final class FakeHttpServer implements AutoCloseable {
    private final ServerSocket server;
    private final int delayMillis;
    private final IntFunction<byte[]> responses;
    private final AtomicInteger requests = new AtomicInteger();
    private final Thread acceptor;

    /**
     * @param capacity   1: one connection at a time, on one thread; more: a thread per connection
     * @param responses  the full response bytes for request number n (0-based, across connections)
     */
    FakeHttpServer(int capacity, int delayMillis, IntFunction<byte[]> responses) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.delayMillis = delayMillis;
        this.responses = responses;
        this.acceptor = Thread.ofPlatform().daemon().name("fake-http").start(() -> accept(capacity));
    }

    static byte[] ok(String body) {
        return response(200, body);
    }

    static byte[] response(int status, String body) {
        return ("HTTP/1.1 " + status + " X\r\nContent-Type: text/plain\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8);
    }

    int port() {
        return server.getLocalPort();
    }

    /** Requests read so far. */
    int requests() {
        return requests.get();
    }

    private void accept(int capacity) {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                if (capacity == 1) {
                    serve(socket);
                } else {
                    Thread.ofVirtual().start(() -> serve(socket));
                }
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            socket.setTcpNoDelay(true);
            InputStream in = new BufferedInputStream(socket.getInputStream());
            OutputStream out = socket.getOutputStream();
            while (true) {
                long length = readHead(in);
                if (length < 0) {
                    return; // the client closed
                }
                in.readNBytes((int) length);
                int n = requests.getAndIncrement();
                if (delayMillis > 0) {
                    Thread.sleep(delayMillis);
                }
                byte[] response = responses.apply(n);
                out.write(response);
                out.flush();
                if (new String(response, 0, Math.min(response.length, 512), StandardCharsets.ISO_8859_1)
                        .toLowerCase(Locale.ROOT).contains("connection: close")) {
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Reads a request head; returns its Content-Length (0 if none), or -1 at the end of the stream. */
    private static long readHead(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        long length = 0;
        boolean any = false;
        int c;
        while ((c = in.read()) >= 0) {
            any = true;
            if (c == '\n') {
                String header = line.toString().trim();
                if (header.isEmpty()) {
                    return length;
                }
                if (header.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                    length = Long.parseLong(header.substring(15).trim());
                }
                line.setLength(0);
            } else {
                line.append((char) c);
            }
        }
        if (any) {
            throw new IOException("the request ended inside its head");
        }
        return -1;
    }

    @Override
    public void close() throws IOException {
        server.close();
        acceptor.interrupt();
    }
}
