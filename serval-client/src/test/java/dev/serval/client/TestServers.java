package dev.serval.client;

import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.server.ServalServer;
import dev.serval.server.ServerOptions;
import dev.serval.testing.Examples;
import dev.serval.testing.InMemoryFeatureStore;
import java.net.URI;
import java.nio.file.Path;

/** Real Servals for the client's end-to-end tests, on free loopback ports. */
final class TestServers {
    private TestServers() {
    }

    static ServalServer start(Path repository) {
        return start(ServerOptions.defaults(repository));
    }

    static ServalServer start(ServerOptions options) {
        return ServalServer.start(freePorts(options), new OnnxBackend(), new InMemoryFeatureStore());
    }

    static ServalServer start(ServerOptions options, ModelRuntime runtime) {
        return ServalServer.start(freePorts(options), runtime, new InMemoryFeatureStore());
    }

    /** Every transport on a free port, so servers started side by side never collide (gRPC's 8001 included). */
    static ServerOptions freePorts(ServerOptions options) {
        return options.withHttpPort(0).withGrpcPort(0);
    }

    static ServalServer bundled() {
        return start(Examples.repository());
    }

    static ServalServer testModels() {
        return start(Examples.testRepository());
    }

    static URI http(ServalServer server) {
        return URI.create("http://127.0.0.1:" + server.httpPort());
    }

}
