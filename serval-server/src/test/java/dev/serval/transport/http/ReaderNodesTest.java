package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.helidon.common.buffers.DataReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * {@link ReaderNodes} against Helidon's real {@code DataReader}: the class file it changes is the
 * one on the class path, loaded in a class loader of its own (with the rest of its package and
 * ReaderNodes, so that their private and package access holds) next to the unchanged one.
 */
class ReaderNodesTest {

    @Test
    void patch_changesHelidonsReader_andLeavesOtherClassesAlone() throws IOException {
        byte[] reader = classFile(DataReader.class);
        byte[] patched = ReaderNodes.patch(reader);

        assertThat(patched).isNotNull();
        assertThat(patched.length).isGreaterThan(reader.length);
        assertThat(ReaderNodes.patch(classFile(ReaderNodesTest.class))).as("a class without the sequence").isNull();
        assertThat(ReaderNodes.patch(patched)).as("a reader already changed").isNull();
        assertThatThrownBy(() -> ReaderNodes.patch(new byte[] {1, 2, 3}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ReaderNodes.patch(Arrays.copyOf(reader, reader.length / 2)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void patchedReader_unlinksEveryChunkItHasReadPast() throws Exception {
        Reader patched = Reader.patched(chunks("GET / HTTP/1.1\r\n", "Host: a\r\n", "\r\n"));
        Reader unchanged = Reader.unchanged(chunks("GET / HTTP/1.1\r\n", "Host: a\r\n", "\r\n"));

        for (Reader reader : List.of(patched, unchanged)) {
            assertThat(reader.readLine()).isEqualTo("GET / HTTP/1.1");
        }
        Object passedPatched = patched.head();
        Object passedUnchanged = unchanged.head();
        for (Reader reader : List.of(patched, unchanged)) {
            assertThat(reader.readLine()).isEqualTo("Host: a");
        }

        assertThat(patched.head()).isNotSameAs(passedPatched);
        assertThat(Reader.next(passedPatched)).as("the passed chunk's link, changed").isNull();
        // The fault the change removes: without it the passed chunk still holds the rest of the list.
        assertThat(Reader.next(passedUnchanged)).as("the passed chunk's link, unchanged").isNotNull();
    }

    @Test
    void patchedReader_readsWhatTheUnchangedOneReads() throws Exception {
        Random random = new Random(42);
        for (int round = 0; round < 50; round++) {
            byte[] data = new byte[1 + random.nextInt(20_000)];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (random.nextInt(8) == 0 ? '\r' : 'a' + random.nextInt(26));
                if (data[i] == '\r' && i + 1 < data.length) {
                    data[++i] = '\n';
                }
            }
            List<byte[]> split = split(data, random);
            Reader patched = Reader.patched(chunks(split));
            Reader unchanged = Reader.unchanged(chunks(split));
            long seed = random.nextLong();
            assertThat(patched.consumeAll(new Random(seed), data.length))
                    .as("round %d", round)
                    .isEqualTo(unchanged.consumeAll(new Random(seed), data.length))
                    .isEqualTo(data);
        }
    }

    private static List<byte[]> split(byte[] data, Random random) {
        List<byte[]> chunks = new ArrayList<>();
        for (int at = 0; at < data.length; ) {
            int length = Math.min(data.length - at, 1 + random.nextInt(random.nextBoolean() ? 16 : 8192));
            byte[] chunk = new byte[length];
            System.arraycopy(data, at, chunk, 0, length);
            chunks.add(chunk);
            at += length;
        }
        return chunks;
    }

    private static Supplier<byte[]> chunks(String... texts) {
        List<byte[]> chunks = new ArrayList<>();
        for (String text : texts) {
            chunks.add(text.getBytes(StandardCharsets.US_ASCII));
        }
        return chunks(chunks);
    }

    /** The socket's reads, one chunk each; null (the connection's end) after the last. */
    private static Supplier<byte[]> chunks(List<byte[]> chunks) {
        Deque<byte[]> left = new ArrayDeque<>(chunks);
        return left::poll;
    }

    private static byte[] classFile(Class<?> type) throws IOException {
        try (InputStream in = type.getResourceAsStream(type.getSimpleName() + ".class")) {
            return in.readAllBytes();
        }
    }

    /** A DataReader, changed or not, driven by reflection (the changed one is another loader's class). */
    private record Reader(Object reader, Class<?> type) {
        static Reader patched(Supplier<byte[]> source) throws ReflectiveOperationException {
            return create(new PatchingLoader().loadClass(DataReader.class.getName()), source);
        }

        static Reader unchanged(Supplier<byte[]> source) throws ReflectiveOperationException {
            return create(DataReader.class, source);
        }

        private static Reader create(Class<?> type, Supplier<byte[]> source) throws ReflectiveOperationException {
            Constructor<?> constructor = type.getConstructor(Supplier.class);
            return new Reader(constructor.newInstance(source), type);
        }

        String readLine() throws ReflectiveOperationException {
            return (String) type.getMethod("readLine").invoke(reader);
        }

        Object head() throws ReflectiveOperationException {
            Field head = type.getDeclaredField("head");
            head.setAccessible(true);
            return head.get(reader);
        }

        static Object next(Object node) throws ReflectiveOperationException {
            Field next = node.getClass().getDeclaredField("next");
            next.setAccessible(true);
            return next.get(node);
        }

        /** Reads all {@code length} bytes with a random mix of the reader's methods. */
        byte[] consumeAll(Random random, int length) throws ReflectiveOperationException {
            Method readBytes = type.getMethod("readBytes", int.class);
            Method read = type.getMethod("read");
            Method available = type.getMethod("available");
            Method readBuffer = type.getMethod("readBuffer", int.class);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int left = length;
            while (left > 0) {
                int n = 1 + random.nextInt(Math.min(left, 3000));
                switch (random.nextInt(4)) {
                    case 0 -> out.writeBytes((byte[]) readBytes.invoke(reader, n));
                    case 1 -> {
                        n = 1;
                        out.write((byte) read.invoke(reader));
                    }
                    case 2 -> {
                        Object buffer = readBuffer.invoke(reader, n);
                        byte[] bytes = new byte[n];
                        buffer.getClass().getMethod("read", byte[].class).invoke(buffer, (Object) bytes);
                        out.writeBytes(bytes);
                    }
                    default -> {
                        n = Math.min(n, Math.max(1, (int) available.invoke(reader)));
                        out.writeBytes((byte[]) readBytes.invoke(reader, n));
                    }
                }
                left -= n;
            }
            return out.toByteArray();
        }
    }

    /**
     * Loads Helidon's buffers package and ReaderNodes itself, the reader changed by {@link
     * ReaderNodes#patch}; everything else from the test's class path.
     */
    private static final class PatchingLoader extends ClassLoader {
        private static final String BUFFERS = "io.helidon.common.buffers.";

        PatchingLoader() {
            super(ReaderNodesTest.class.getClassLoader());
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!name.startsWith(BUFFERS) && !name.startsWith(ReaderNodes.class.getName())) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> loaded = findLoadedClass(name);
                if (loaded == null) {
                    byte[] bytes;
                    try (InputStream in = getParent().getResourceAsStream(name.replace('.', '/') + ".class")) {
                        if (in == null) {
                            throw new ClassNotFoundException(name);
                        }
                        bytes = in.readAllBytes();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    if (name.equals(DataReader.class.getName())) {
                        bytes = ReaderNodes.patch(bytes);
                    }
                    loaded = defineClass(name, bytes, 0, bytes.length);
                }
                if (resolve) {
                    resolveClass(loaded);
                }
                return loaded;
            }
        }
    }
}
