package dev.serval.server;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.testing.Examples;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** A port another process holds stops the start with a message, instead of a server without a port. */
class PortInUseTest {
    @Test
    void httpPortInUse_failsTheStart() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            ServerOptions options = ServerOptions.defaults(Examples.repository())
                    .withHttpPort(taken.getLocalPort()).withGrpcPort(ServerOptions.GRPC_OFF);

            assertThatThrownBy(() -> ServalServer.start(options))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("cannot listen on 127.0.0.1:" + taken.getLocalPort() + " for HTTP");
        }
    }

    @Test
    void grpcPortInUse_failsTheStart() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            ServerOptions options = ServerOptions.defaults(Examples.repository())
                    .withHttpPort(0).withGrpcPort(taken.getLocalPort());

            assertThatThrownBy(() -> ServalServer.start(options))
                    .hasMessageContaining("cannot listen for gRPC");
        }
    }
}
