package dev.serval.client;

import dev.serval.runtime.ModelLoadException;
import dev.serval.runtime.ModelRuntime;
import dev.serval.runtime.ModelSession;
import dev.serval.runtime.RunControl;
import dev.serval.runtime.SessionSettings;
import dev.serval.api.Tensor;
import dev.serval.api.TensorSpec;
import dev.serval.runtime.onnx.OnnxBackend;
import dev.serval.server.ServalServer;
import dev.serval.server.ServerOptions;
import dev.serval.testing.Examples;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Real Servals for the client's end-to-end tests, on free loopback ports. */
final class TestServers {
    private TestServers() {
    }

    static ServalServer start(Path repository) {
        return start(ServerOptions.defaults(repository));
    }

    static ServalServer start(ServerOptions options) {
        return ServalServer.start(freePorts(options));
    }

    static ServalServer start(ServerOptions options, ModelRuntime runtime) {
        return ServalServer.start(freePorts(options), runtime);
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

    /** A server with its gRPC transport on a free port as well. */
    static ServalServer startWithGrpc(Path repository) {
        return start(repository);
    }

    static int grpcPort(ServalServer server) {
        return server.grpcPort();
    }

    /**
     * ONNX Runtime with a gate: while closed, every run waits at it, so requests stay queued or
     * running for as long as a test needs, without sleeping.
     */
    static final class GatedRuntime implements ModelRuntime {
        private final OnnxBackend onnx = new OnnxBackend();
        private final CountDownLatch open = new CountDownLatch(1);
        private final CountDownLatch blocked = new CountDownLatch(1);

        void open() {
            open.countDown();
        }

        void awaitBlocked() throws InterruptedException {
            if (!blocked.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("no run reached the gate");
            }
        }

        @Override
        public String platform() {
            return onnx.platform();
        }

        @Override
        public ModelSession open(Path modelFile, SessionSettings settings) throws ModelLoadException {
            ModelSession session = onnx.open(modelFile, settings);
            return new ModelSession() {
                @Override
                public List<TensorSpec> inputs() {
                    return session.inputs();
                }

                @Override
                public List<TensorSpec> outputs() {
                    return session.outputs();
                }

                @Override
                public List<Tensor> run(List<Tensor> inputs, List<String> outputNames, RunControl control) {
                    blocked.countDown();
                    try {
                        open.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                    return session.run(inputs, outputNames, control);
                }

                @Override
                public void close() {
                    session.close();
                }
            };
        }

        @Override
        public void close() {
            open();
            onnx.close();
        }
    }
}
