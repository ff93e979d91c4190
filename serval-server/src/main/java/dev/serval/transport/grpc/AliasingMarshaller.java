package dev.serval.transport.grpc;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import dev.serval.api.ServalException;
import dev.serval.protocol.grpc.ModelInferRequest;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import dev.serval.transport.BodyArrays;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Parses {@code ModelInferRequest}s so that their {@code bytes} fields (raw_input_contents,
 * bytes_contents) share the message's array instead of each being copied out of it.
 *
 * <p>Design note: grpc-java's stock protobuf marshaller copies the message out of Netty's buffers
 * into an array, then parses it with aliasing off, so every {@code bytes} field is copied a second
 * time. Here the message is read once into a pooled array ({@link BodyArrays}) and parsed with
 * {@link CodedInputStream#enableAliasing aliasing}: a raw tensor is a view of that array, and the
 * decoder copies it once, into the direct buffer ONNX Runtime reads. Protobuf aliases only input
 * it knows to be immutable: a stream made by {@code CodedInputStream.newInstance(byte[])}, or over
 * a heap {@code ByteBuffer}, is not, and aliasing is then silently off (measured: every raw tensor
 * copied again, 190 MB of garbage in 15 s of MobileNet calls); one made from a wrapped
 * {@code ByteString} is. The handler gives the array back ({@link Parsed#release}) once the tensors are
 * decoded and never reads the message afterwards; a message dropped before its handler runs (a
 * cancelled call) leaves its array to the collector, which is the only cost of that path.
 *
 * <p>Going one step further (grpc-java's experimental {@code Detachable} and {@code HasByteBuffer}
 * streams, aliasing Netty's own buffers) would save that array too, but Netty's pooled buffers
 * would then have to be released by hand on every path, including calls cancelled before their
 * handler runs; a missed path leaks pooled native memory. One heap copy is the price of never
 * leaking.
 *
 * <p>Stateless and thread-safe.
 */
final class AliasingMarshaller implements MethodDescriptor.Marshaller<AliasingMarshaller.Parsed> {
    /**
     * A parsed message, or why it could not be parsed. grpc-java answers a marshaller's exception
     * with UNKNOWN, so the failure travels to the handler, which answers INVALID_ARGUMENT.
     *
     * @param message the message, or null when {@code error} is set
     * @param error   INVALID_ARGUMENT describing the malformed message, or null
     * @param backing the pooled array the message's fields may view, or null
     * @param size    the message's length in bytes (0 when {@code error} is set)
     * @param arrays  where {@code backing} goes back
     */
    record Parsed(ModelInferRequest message, ServalException error, byte[] backing, int size, BodyArrays arrays,
                  AtomicBoolean released) {
        static Parsed failed(ServalException error) {
            return new Parsed(null, error, null, 0, null, new AtomicBoolean(true));
        }

        /** The message; throws {@link #error} if there is none. */
        ModelInferRequest get() {
            if (error != null) {
                throw error;
            }
            return message;
        }

        /** Gives the backing array back (once); nothing may read the message afterwards. */
        void release() {
            if (backing != null && released.compareAndSet(false, true)) {
                arrays.release(backing);
            }
        }
    }

    private final MethodDescriptor.Marshaller<ModelInferRequest> stock =
            ProtoUtils.marshaller(ModelInferRequest.getDefaultInstance());
    private final BodyArrays arrays;

    AliasingMarshaller(BodyArrays arrays) {
        this.arrays = arrays;
    }

    @Override
    public InputStream stream(Parsed value) {
        return stock.stream(value.get());
    }

    @Override
    public Parsed parse(InputStream stream) {
        byte[] message = null;
        try {
            int size = stream instanceof KnownLength ? stream.available() : -1;
            message = size >= 0 ? arrays.acquire(size) : stream.readAllBytes();
            if (size >= 0) {
                readExactly(stream, message, size);
            } else {
                size = message.length;
            }
            CodedInputStream in = UnsafeByteOperations.unsafeWrap(message, 0, size).newCodedInput();
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE); // the transport already enforces the message size limit
            return new Parsed(ModelInferRequest.parseFrom(in), null, message, size, arrays, new AtomicBoolean());
        } catch (InvalidProtocolBufferException e) {
            arrays.release(message);
            return Parsed.failed(ServalException.invalidArgument(
                    "the message is not a valid inference.ModelInferRequest: %s", e.getMessage()));
        } catch (IOException e) {
            if (message != null) {
                arrays.release(message);
            }
            throw new UncheckedIOException(e);
        } finally {
            try {
                stream.close();
            } catch (IOException ignored) {
                // the message is read; closing only returns transport buffers
            }
        }
    }

    private static void readExactly(InputStream stream, byte[] message, int size) throws IOException {
        int read = stream.readNBytes(message, 0, size);
        if (read != size || stream.read() != -1) {
            throw new IOException("the message stream did not hold the " + size + " bytes it announced");
        }
    }
}
