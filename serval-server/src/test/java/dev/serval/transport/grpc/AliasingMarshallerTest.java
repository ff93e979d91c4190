package dev.serval.transport.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.serval.api.ServalException;
import dev.serval.protocol.grpc.ModelInferRequest;
import dev.serval.transport.BodyArrays;
import io.grpc.KnownLength;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

class AliasingMarshallerTest {
    /** A stream that says its length up front, as grpc-java's message streams do. */
    private static final class Sized extends ByteArrayInputStream implements KnownLength {
        Sized(byte[] bytes) {
            super(bytes);
        }
    }

    private static byte[] message(int rawBytes) {
        byte[] raw = new byte[rawBytes];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = (byte) i;
        }
        return ModelInferRequest.newBuilder().setModelName("m")
                .addInputs(ModelInferRequest.InferInputTensor.newBuilder().setName("x").setDatatype("UINT8").addShape(rawBytes))
                .addRawInputContents(ByteString.copyFrom(raw))
                .build().toByteArray();
    }

    @Test
    void rawContents_areViewsOfTheMessageArray_notCopies() {
        AliasingMarshaller marshaller = new AliasingMarshaller(new BodyArrays(1L << 20));
        AliasingMarshaller.Parsed parsed = marshaller.parse(new Sized(message(100_000)));

        ByteString raw = parsed.get().getRawInputContents(0);
        assertThat(raw.byteAt(7)).isEqualTo((byte) 7);
        // Write through the backing array: a view sees it, a copy would not.
        byte[] backing = parsed.backing();
        for (int i = 0; i < backing.length; i++) {
            if (backing[i] == 7 && backing[i + 1] == 8 && backing[i + 2] == 9) {
                backing[i] = 42;
                break;
            }
        }
        assertThat(raw.byteAt(7)).isEqualTo((byte) 42);
    }

    @Test
    void release_givesTheArrayBackOnce_forTheNextMessage() {
        BodyArrays arrays = new BodyArrays(1L << 20);
        AliasingMarshaller marshaller = new AliasingMarshaller(arrays);
        AliasingMarshaller.Parsed first = marshaller.parse(new Sized(message(100_000)));
        first.release();
        first.release();

        AliasingMarshaller.Parsed second = marshaller.parse(new Sized(message(100_000)));
        AliasingMarshaller.Parsed third = marshaller.parse(new Sized(message(100_000)));

        assertThat(second.backing()).isSameAs(first.backing());
        assertThat(third.backing()).isNotSameAs(first.backing());
    }

    @Test
    void aMalformedMessage_travelsToTheHandlerAsInvalidArgument() {
        AliasingMarshaller marshaller = new AliasingMarshaller(new BodyArrays(1L << 20));
        InputStream garbage = new Sized(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF});

        AliasingMarshaller.Parsed parsed = marshaller.parse(garbage);

        assertThatThrownBy(parsed::get).isInstanceOf(ServalException.class)
                .hasMessageContaining("not a valid inference.ModelInferRequest");
    }
}
