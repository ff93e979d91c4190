package dev.serval.transport.grpc;

import dev.serval.api.ServerMetadata;
import dev.serval.metrics.ServalMetrics;
import dev.serval.model.ModelRegistry;
import dev.serval.transport.BearerTokens;
import dev.serval.transport.BodyArrays;
import dev.serval.transport.BodyBudget;
import dev.serval.transport.EventIngest;
import dev.serval.transport.RequestGate;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The gRPC transport: grpc-java on Netty serving {@code inference.GRPCInferenceService}
 * ({@link InferenceService}, with Triton's repository calls), with the REST transport's tokens,
 * TLS files and size limit.
 *
 * <p>Design note on threads: Netty's event loops only move bytes (TLS, HTTP/2 framing, flow
 * control); protobuf parsing, decoding and the wait for the model happen on the call executor, a
 * virtual thread per task, so a blocked handler never holds an event loop. Netty's default is two
 * event loops per core, which on a 2-core machine means four threads competing with ONNX Runtime
 * for the cores; one loop moves hundreds of MB/s, so this transport runs half a loop per core (at
 * least one, at most four) and lets the same group accept connections, which is rare work.
 *
 * <p>Design note on copies, from the socket to ONNX Runtime and back:
 * <ol>
 *   <li>the kernel copies the bytes into Netty's (pooled, direct) buffers;</li>
 *   <li>{@link AliasingMarshaller} copies the message into one pooled heap array, and parses it
 *       with aliasing: {@code raw_input_contents} and {@code bytes_contents} are views of that
 *       array (grpc-java's stock marshaller would copy each of them once more, and the garbage of
 *       that copy cost MobileNet 3x the CPU of the model itself in collections);</li>
 *   <li>{@link RequestDecoder} copies each raw input once into a pooled direct buffer, or converts
 *       typed {@code contents} element by element into one (protobuf has already unpacked them
 *       into primitive arrays while parsing); ONNX Runtime reads that buffer in place.</li>
 *   <li>Back: ONNX Runtime's Java API copies each output into a buffer (outside this transport);
 *       {@link ResponseEncoder} wraps it without a copy for raw outputs, or converts it into typed
 *       contents; protobuf serializes into Netty's buffers (one copy) and the kernel copies those
 *       to the socket.</li>
 * </ol>
 *
 * <p>Limits: a message over the size limit is refused by grpc-java before it is read
 * (RESOURCE_EXHAUSTED, "gRPC message exceeds maximum size"). ModelInfer messages and RecordEvents
 * batches count against the in-flight body budget ({@code --max-inflight-bytes}) that REST bodies
 * count against: a call waits for room before its message is read, and is refused with
 * RESOURCE_EXHAUSTED when none comes ({@link BudgetedCalls}). What the budget does
 * not cover is what grpc-java holds before a call asks for its message: HTTP/2 lets each call's
 * sender send one flow-control window (1 MB) ahead, and grpc-java refills the connection's window
 * as bytes arrive, so a connection holds up to its calls times that window. Hence the limit on
 * calls per connection ({@link #callsPerConnection}): before it, a thousand MobileNetV2 calls on
 * one connection had Netty read 600 MB ahead and run out of direct memory (measured, 2026-12-07).
 *
 * <p>{@link #start()} once, {@link #close()} once. Thread-safe.
 */
public final class GrpcTransport implements AutoCloseable {
    /** How long {@link #close()} lets calls in flight finish before cancelling them. */
    private static final long DRAIN_SECONDS = 30;
    /**
     * HTTP/2's flow-control window per call, grpc-java's default, fixed: its automatic tuning could
     * let each call's sender push more than this ahead of what is read.
     */
    static final int STREAM_WINDOW = NettyServerBuilder.DEFAULT_FLOW_CONTROL_WINDOW;

    private final Server server;
    private final InetSocketAddress address;
    private final EventLoopGroup eventLoops;
    private final ExecutorService calls;

    /**
     * @param metrics         counts the calls whose client cancelled while their request waited
     * @param ready           whether ServerReady answers true
     * @param inferenceToken  bearer token for every call but ServerLive and ServerReady, if set
     * @param adminToken      required by the repository calls when set; also accepted where the
     *                        inference token is
     * @param host            the address to bind, e.g. {@code 127.0.0.1}
     * @param port            the port, or 0 for any free one
     * @param tlsCertificate  PEM certificate chain; TLS when present (with {@code tlsKey})
     * @param tlsKey          PKCS#8 PEM private key
     * @param maxMessageBytes the largest request message; larger ones get RESOURCE_EXHAUSTED unread
     * @param bodies          the in-flight budget ModelInfer messages count against, with REST bodies
     * @param gate            admits ModelInfer, RepositoryModelLoad and RepositoryModelUnload calls
     *                        until the server shuts down ({@link GatedCalls})
     * @param events          records the batches of {@code serval.events.EventService} ({@link EventService})
     * @throws UncheckedIOException if the TLS files cannot be read
     */
    public GrpcTransport(ModelRegistry registry, ServalMetrics metrics, ServerMetadata metadata, BooleanSupplier ready,
                         Optional<String> inferenceToken, Optional<String> adminToken, String host, int port,
                         Optional<Path> tlsCertificate, Optional<Path> tlsKey, long maxMessageBytes,
                         BodyArrays arrays, BodyBudget bodies, RequestGate gate, EventIngest events) {
        InferenceService service = new InferenceService(registry, metrics, metadata, ready, arrays, bodies);
        this.address = new InetSocketAddress(host, port);
        NettyServerBuilder builder = tlsCertificate.isPresent() && tlsKey.isPresent()
                ? NettyServerBuilder.forAddress(address, credentials(tlsCertificate.get(), tlsKey.get()))
                : NettyServerBuilder.forAddress(address);
        int loops = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors() / 2));
        this.eventLoops = new MultiThreadIoEventLoopGroup(loops, new DefaultThreadFactory("serval-grpc-io", true),
                NioIoHandler.newFactory());
        this.calls = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("serval-grpc-", 0).factory());
        this.server = builder
                .channelType(NioServerSocketChannel.class)
                .bossEventLoopGroup(eventLoops)
                .workerEventLoopGroup(eventLoops)
                .executor(calls)
                .withChildOption(ChannelOption.TCP_NODELAY, true)
                .flowControlWindow(STREAM_WINDOW)
                .maxConcurrentCallsPerConnection(callsPerConnection(bodies))
                .maxInboundMessageSize((int) Math.min(maxMessageBytes, Integer.MAX_VALUE))
                // The last interceptor runs first: tokens are checked before the gate counts a call.
                .addService(ServerInterceptors.intercept(service.definition(), new GatedCalls(gate),
                        new TokenInterceptor(new BearerTokens(inferenceToken, adminToken))))
                .addService(ServerInterceptors.intercept(new EventService(events, bodies).bindService(), new GatedCalls(gate),
                        new TokenInterceptor(new BearerTokens(inferenceToken, adminToken))))
                .build();
    }

    /**
     * Calls one connection may have open at once (HTTP/2's MAX_CONCURRENT_STREAMS; a client queues
     * the rest): the in-flight budget over the stream window, so that what one connection's calls
     * may hold unread (see the class notes) is at most the budget's size again; 16 to 1,024.
     */
    static int callsPerConnection(BodyBudget bodies) {
        return Math.clamp(bodies.maxInflightBytes() / STREAM_WINDOW, 16, 1024);
    }

    private static ServerCredentials credentials(Path certificate, Path key) {
        try {
            return TlsServerCredentials.create(certificate.toFile(), key.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the TLS certificate " + certificate + " or key " + key, e);
        }
    }

    /**
     * @throws UncheckedIOException if the port cannot be bound
     */
    public GrpcTransport start() {
        try {
            server.start();
        } catch (IOException e) {
            close();
            throw new UncheckedIOException("cannot listen for gRPC on " + address + ": " + e.getMessage(), e);
        }
        return this;
    }

    /** The bound port (useful when 0 was asked for). */
    public int port() {
        return server.getPort();
    }

    /** Stops accepting calls, lets calls in flight finish (up to 30 s), then releases the threads. */
    @Override
    public void close() {
        close(Duration.ofSeconds(DRAIN_SECONDS));
    }

    /** Stops accepting calls, lets calls in flight finish for up to {@code drain}, cancels the rest and releases the threads. */
    public void close(Duration drain) {
        server.shutdown();
        try {
            if (!server.awaitTermination(Math.max(0, drain.toNanos()), TimeUnit.NANOSECONDS)) {
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        calls.shutdown();
        eventLoops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
}
