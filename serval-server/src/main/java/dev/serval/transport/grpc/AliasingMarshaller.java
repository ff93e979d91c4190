package dev.serval.transport.grpc;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.serval.api.ServalException;
import dev.serval.protocol.grpc.ModelInferRequest;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Parses {@code ModelInferRequest}s so that their {@code bytes} fields (raw_input_contents,
 * bytes_contents) share the message's array instead of each being copied out of it.
 *
 * <p>Design note: grpc-java's stock protobuf marshaller copies the message out of Netty's buffers
 * into an array, then parses it with aliasing off, so every {@code bytes} field is copied a second
 * time. Here the message is read once into an array of its exact size and parsed with
 * {@link CodedInputStream#enableAliasing aliasing}: a raw tensor is a view of that array, and the
 * decoder copies it once, into the direct buffer ONNX Runtime reads. The array belongs to the
 * message and goes to the collector with it, so nothing can be reused while a view is alive.
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
     */
    record Parsed(ModelInferRequest message, ServalException error) {
        /** The message; throws {@link #error} if there is none. */
        ModelInferRequest get() {
            if (error != null) {
                throw error;
            }
            return message;
        }
    }

    private final MethodDescriptor.Marshaller<ModelInferRequest> stock =
            ProtoUtils.marshaller(ModelInferRequest.getDefaultInstance());

    @Override
    public InputStream stream(Parsed value) {
        return stock.stream(value.get());
    }

    @Override
    public Parsed parse(InputStream stream) {
        try {
            byte[] message = read(stream);
            CodedInputStream in = CodedInputStream.newInstance(message);
            in.enableAliasing(true);
            in.setSizeLimit(Integer.MAX_VALUE); // the transport already enforces the message size limit
            return new Parsed(ModelInferRequest.parseFrom(in), null);
        } catch (InvalidProtocolBufferException e) {
            return new Parsed(null, ServalException.invalidArgument(
                    "the message is not a valid inference.ModelInferRequest: %s", e.getMessage()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            try {
                stream.close();
            } catch (IOException ignored) {
                // the message is read; closing only returns transport buffers
            }
        }
    }

    private static byte[] read(InputStream stream) throws IOException {
        if (stream instanceof KnownLength) {
            int size = stream.available();
            byte[] message = new byte[size];
            int read = stream.readNBytes(message, 0, size);
            if (read == size && stream.read() == -1) {
                return message;
            }
            throw new IOException("the message stream did not hold the " + size + " bytes it announced");
        }
        return stream.readAllBytes();
    }
}
