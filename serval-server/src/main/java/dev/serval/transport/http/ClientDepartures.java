package dev.serval.transport.http;

import dev.serval.schedule.ServalThreads;
import io.helidon.webserver.http.ServerRequest;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notices HTTP clients that closed their connection while their request waits for a model, and
 * interrupts the wait: the model then drops the request from its queue before computing it (the
 * path a cancelled gRPC call takes).
 *
 * <p>Design note: under overload a closed-loop client gives up (times out, is killed, or a load
 * test ends) and closes its connection, but its request sits in the model's queue and would be
 * computed for no one: measured after a 2,000-client run, the server spent minutes on ~1,900 such
 * requests while new clients waited behind them. HTTP/1.1 gives no signal for this: the connection's
 * thread is parked in the handler and nobody reads the socket, and reading it from another thread
 * would steal a pipelined next request. So one scanner thread looks at the kernel's connection
 * table ({@link TcpTable}) every {@value #PERIOD_MS} ms, for the requests that have waited longer
 * than {@value #GRACE_MS} ms (quick requests cost only a map insert and remove): a watched
 * connection the client closed is in CLOSE_WAIT, or gone from the table after a reset. The period
 * is a trade: a read of the table costs the kernel about 6 ms (it walks the whole connection
 * hash), and a departed request found late has usually not reached the model yet. With a fixed
 * 250 ms the scanner took 2.3% of the server's CPU under 64 closed-loop MobileNetV2 clients (perf,
 * 2026-12-07), whose requests always wait long enough to be watched; so the scanner now waits
 * {@value #PERIOD_MS} ms or {@value #COST_FACTOR} times as long as its last read took, whichever
 * is longer: at most 1% of a core. A client
 * that half-closes its connection after sending the request (shutdown of its output, rare for
 * HTTP clients) looks the same and is cancelled too. A request still being prepared when its
 * client leaves (a pipeline's feature lookup) is interrupted there, as a shutdown's abandonment
 * interrupts it; a request already in a run is not stopped, its answer is dropped.
 *
 * <p>Where the table does not exist (not Linux) nothing is watched. Thread-safe.
 */
final class ClientDepartures implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClientDepartures.class);
    static final long GRACE_MS = 50;
    static final long PERIOD_MS = 250;
    /** The wait between scans is at least this many times the last read's time. */
    static final long COST_FACTOR = 100;

    private final Set<Watch> watches = ConcurrentHashMap.newKeySet();
    private final LongSupplier nanoTime;
    private final Thread scanner;
    private volatile boolean closed;

    /** Starts the scanner thread when this machine has a connection table. */
    ClientDepartures() {
        this(System::nanoTime, TcpTable.available());
    }

    ClientDepartures(LongSupplier nanoTime, boolean enabled) {
        this.nanoTime = nanoTime;
        if (enabled) {
            scanner = ServalThreads.platform("serval-client-departures").newThread(this::scan);
            scanner.start();
        } else {
            scanner = null;
        }
    }

    /**
     * Watches the client of {@code req} on behalf of the current thread until the returned watch
     * is closed; if the client leaves meanwhile, the current thread is interrupted (once).
     * Close the watch on the same thread: that clears an interrupt it delivered.
     */
    Watch watch(ServerRequest req) {
        if (scanner == null) {
            return Watch.NONE;
        }
        SocketAddress local = req.localPeer().address();
        SocketAddress remote = req.remotePeer().address();
        if (!(local instanceof InetSocketAddress localInet) || !(remote instanceof InetSocketAddress remoteInet)
                || remoteInet.getAddress() == null) {
            return Watch.NONE;
        }
        Watch watch = new Watch(this, localInet.getPort(), remoteInet, Thread.currentThread(), nanoTime.getAsLong());
        watches.add(watch);
        return watch;
    }

    /** Requests watched now (for tests). */
    int watched() {
        return watches.size();
    }

    private void scan() {
        TcpTable table = new TcpTable();
        Map<TcpTable.Peer, Integer> states = new HashMap<>();
        Set<Integer> ports = new HashSet<>();
        List<Watch> due = new ArrayList<>();
        long wait = TimeUnit.MILLISECONDS.toNanos(PERIOD_MS);
        while (!closed) {
            LockSupport.parkNanos(wait);
            wait = TimeUnit.MILLISECONDS.toNanos(PERIOD_MS);
            if (watches.isEmpty()) {
                continue;
            }
            long now = nanoTime.getAsLong();
            due.clear();
            ports.clear();
            for (Watch watch : watches) {
                if (now - watch.startedNanos >= TimeUnit.MILLISECONDS.toNanos(GRACE_MS)) {
                    due.add(watch);
                    ports.add(watch.localPort);
                }
            }
            if (due.isEmpty()) {
                continue;
            }
            states.clear();
            long reading = System.nanoTime();
            try {
                table.read(ports, states);
                wait = Math.max(wait, (System.nanoTime() - reading) * COST_FACTOR);
            } catch (IOException | RuntimeException e) {
                log.warn("cannot read the kernel's TCP table; requests of departed HTTP clients are no longer "
                        + "cancelled", e);
                return;
            }
            for (Watch watch : due) {
                Integer state = states.get(watch.peer());
                if (state == null ? watch.seenOpen : state != TcpTable.ESTABLISHED) {
                    watch.depart();
                } else if (state != null) {
                    watch.seenOpen = true;
                }
            }
        }
    }

    /** Stops the scanner thread; watches still open are left alone. */
    @Override
    public void close() {
        closed = true;
        if (scanner != null) {
            LockSupport.unpark(scanner);
        }
    }

    /** One request's watch, from {@link #watch} until {@link #close()}. */
    static final class Watch implements AutoCloseable {
        static final Watch NONE = new Watch(null, 0, null, null, 0);

        private final ClientDepartures owner;
        private final int localPort;
        private final InetSocketAddress remote;
        private final long startedNanos;
        /** The table's name for the connection, made by the scanner when it first needs it. */
        private TcpTable.Peer peer;
        /** Written by the scanner only: the table listed the connection as open once. */
        private boolean seenOpen;
        /** Guarded by this. */
        private Thread thread;
        /** Guarded by this. */
        private boolean departed;

        private Watch(ClientDepartures owner, int localPort, InetSocketAddress remote, Thread thread, long startedNanos) {
            this.owner = owner;
            this.localPort = localPort;
            this.remote = remote;
            this.thread = thread;
            this.startedNanos = startedNanos;
        }

        private TcpTable.Peer peer() {
            if (peer == null) {
                peer = TcpTable.Peer.of(localPort, remote.getAddress(), remote.getPort());
            }
            return peer;
        }

        private synchronized void depart() {
            if (thread != null && !departed) {
                departed = true;
                thread.interrupt();
            }
        }

        /** True when the client left while watched (its thread was interrupted for it). */
        synchronized boolean departed() {
            return departed;
        }

        /** Ends the watch; clears the interrupt it delivered, if any. Call on the watched thread. */
        @Override
        public void close() {
            if (owner == null) {
                return;
            }
            owner.watches.remove(this);
            synchronized (this) {
                thread = null;
                if (departed) {
                    Thread.interrupted();
                }
            }
        }
    }
}
