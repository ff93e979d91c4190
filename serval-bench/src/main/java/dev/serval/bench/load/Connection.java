package dev.serval.bench.load;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * One keep-alive HTTP/1.1 connection of the generator: connects, writes a pre-built request,
 * reads its response, and reconnects when the server closed the connection.
 *
 * <p>Thread-safety: one worker (virtual) thread sends and receives; the run's watchdog may call
 * {@link #abort} from another thread to unblock a request that outlived its timeout or the run.
 */
final class Connection {
    private final InetSocketAddress address;
    private final int connectTimeoutMillis;
    private final int bufferSize;
    private volatile Socket socket;
    private OutputStream out;
    private ResponseReader reader;
    private int exchanges;
    /** When the request in flight started (System.nanoTime), or 0 when idle; read by the watchdog. */
    volatile long busySince;
    /** Set by {@link #abort}: the in-flight request was cut off on purpose. */
    volatile boolean aborted;
    /** Set by the worker before an exchange: the socket had answered before (a failure may be a stale keep-alive). */
    boolean reusedBeforeFailure;

    Connection(InetSocketAddress address, int connectTimeoutMillis, int bufferSize) {
        this.address = address;
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.bufferSize = bufferSize;
    }

    boolean isOpen() {
        return socket != null;
    }

    /** Opens the socket unless it is open. */
    void connect() throws IOException {
        if (socket != null) {
            return;
        }
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            s.connect(address, connectTimeoutMillis);
            InputStream in = s.getInputStream();
            out = s.getOutputStream();
            reader = new ResponseReader(in, bufferSize);
            exchanges = 0;
            socket = s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Requests answered on the current socket so far; 0 for a fresh socket. */
    int exchangesOnSocket() {
        return exchanges;
    }

    /**
     * Writes the request and reads the whole response. The connection is closed afterwards if the
     * server said so, and on any failure.
     *
     * @return the status code
     */
    int exchange(byte[] request, boolean headRequest) throws IOException {
        try {
            try {
                out.write(request);
                out.flush();
            } catch (IOException writeFailed) {
                // A server may answer early (e.g. 429 before reading a large body) and close; its
                // answer can still be waiting in our receive buffer.
                try {
                    int status = reader.read(headRequest, null);
                    close();
                    return status;
                } catch (IOException noAnswer) {
                    throw writeFailed;
                }
            }
            int status = reader.read(headRequest, null);
            exchanges++;
            if (!reader.keepAlive) {
                close();
            }
            return status;
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The Retry-After of the last response, in seconds, or -1. */
    long retryAfterSeconds() {
        return reader == null ? -1 : reader.retryAfterSeconds;
    }

    /** Closes the socket; the next {@link #connect} opens a new one. */
    void close() {
        Socket s = socket;
        socket = null;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing: nothing to do
            }
        }
    }

    /** Closes the socket from another thread, unblocking a read or write in progress. */
    void abort() {
        aborted = true;
        Socket s = socket;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing: nothing to do
            }
        }
    }
}
