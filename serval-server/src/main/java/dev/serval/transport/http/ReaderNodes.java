package dev.serval.transport.http;

import io.helidon.common.buffers.DataReader;
import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.ProtectionDomain;
import java.util.Arrays;

/**
 * Makes Helidon's connection reader drop each chunk it has read past, so that a collector can
 * free a request's bytes once they are read: a load-time change of one instruction sequence in
 * {@link DataReader}, registered by the server jar's launch agent ({@code java -jar}) through
 * {@link #install}.
 *
 * <p>Design note, the fault: Helidon 4.5's {@code DataReader} keeps the bytes a connection reads as
 * a singly linked list of chunks (one per socket read, up to 8 KB) and moves its head forward with
 * {@code head = head.next}, leaving the passed chunk pointing at the rest of the list. A
 * generational collector treats an old-generation object as live until a major collection proves
 * otherwise, so once a passed chunk has been promoted, every chunk read after it on that
 * connection is reachable from it, survives each minor collection and is promoted in turn; the
 * chain renews itself because the list's tail is then always old. A connection gets there as soon
 * as it waits out two minor collections (a request queued behind 2,000 clients waits about 9 s;
 * an idle keep-alive connection, as long as it is idle). Measured on binary MobileNetV2 with 2,000
 * closed-loop clients on one core (2026-12-08): ZGC's minor collections freed nothing (young
 * "Survivor 1" 212 MB live, 213 MB promoted), a major collection ran every 1-2 s, and ZGC took 0.44
 * ms of CPU per answer. With the passed chunk unlinked: 0.11 ms, 4.64 instead of 5.06 ms of CPU per
 * answer, 235 instead of 215 answers/s; side by side in one run, 223 and 214 against 198 and 207
 * answers/s, ZGC 2% of the CPU instead of 9% (bench/mobilenet-ab.sh). Not only under overload: 500
 * keep-alive connections at 40 requests/s (a connection idle about 12 s between its requests)
 * promoted 1,402-1,943 MB in 100 s and ran 9-10 major collections; with the passed chunk unlinked,
 * 12-13 MB and 1 (bench/idle-connections.sh). Helidon's current source has the same line; the fix
 * belongs upstream, and this class should go once a Helidon release has it.
 *
 * <p>Design note, the change: ensureAvailable's eleven bytes {@code aload_0 aload_0 getfield head
 * getfield next putfield head} become {@code aload_0 invokestatic advance} and seven {@code nop}s:
 * the same length, so no offset, stack map frame or line number moves, and {@link #advance} does
 * what the line did and then clears the passed chunk's link. The class file is changed only when
 * that sequence occurs exactly once in that method with those exact field references, only for a
 * {@code DataReader} on the class path of the loader that loaded this class (whose private fields
 * this class can then reach); any other shape leaves the class as it is and says why in {@link
 * #outcome()}. {@code -Dserval.reader_patch=false} turns it off.
 *
 * <p>Thread-safety: {@link #advance} runs on each connection's own thread, on its own reader.
 */
public final class ReaderNodes {
    private static final String READER = "io/helidon/common/buffers/DataReader";
    private static final String NODE = READER + "$Node";
    private static final String METHOD = "ensureAvailable";
    private static final String HELPER = ReaderNodes.class.getName().replace('.', '/');
    private static final String ADVANCE = "advance";
    private static final String ADVANCE_DESCRIPTOR = "(L" + READER + ";)V";
    private static final int ALOAD_0 = 0x2a;
    private static final int GETFIELD = 0xb4;
    private static final int PUTFIELD = 0xb5;
    private static final int INVOKESTATIC = 0xb8;
    private static final int NOP = 0x00;
    private static final int SEQUENCE_LENGTH = 11;

    private static volatile String outcome = "not applied: no launcher agent (the server was not started as java -jar)";

    private ReaderNodes() {
    }

    /**
     * What the patched {@code DataReader.ensureAvailable} runs in place of {@code head = head.next}:
     * moves the reader's head to the next chunk and unlinks the chunk it leaves. Called only by that
     * code, on the reader's own thread.
     */
    public static void advance(DataReader reader) {
        Object passed = Fields.HEAD.get(reader);
        Fields.HEAD.set(reader, Fields.NEXT.get(passed));
        Fields.NEXT.set(passed, null);
    }

    /** Whether the reader was changed, or why not; for the server's start-up log. */
    public static String outcome() {
        return outcome;
    }

    /**
     * Changes {@code DataReader} through the JVM's instrumentation unless {@code
     * -Dserval.reader_patch=false}: loads it (not initialized) with a transformer registered, then
     * removes the transformer. Must run before anything loads Helidon's classes (from a launcher
     * agent).
     *
     * <p>Design note: the transformer is removed at once because while one is registered the JVM
     * hands every class it loads to it, and reads the bytes of classes it would otherwise map from
     * the class data sharing archive: with it left in place, start to ready with the examples took
     * 1.28 s (median of 5 launches), with it removed 0.95 s.
     */
    public static void install(Instrumentation instrumentation) {
        if (!Boolean.parseBoolean(System.getProperty("serval.reader_patch", "true"))) {
            outcome = "off (-Dserval.reader_patch=false)";
            return;
        }
        ClassLoader own = ReaderNodes.class.getClassLoader();
        ClassFileTransformer transformer = new ClassFileTransformer() {
            @Override
            public byte[] transform(Module module, ClassLoader loader, String className, Class<?> redefined,
                                    ProtectionDomain domain, byte[] classFile) {
                if (!READER.equals(className) || redefined != null) {
                    return null;
                }
                if (loader != own || module.isNamed()) {
                    outcome = "not applied: Helidon's DataReader is not on this class path";
                    return null;
                }
                try {
                    byte[] patched = patch(classFile);
                    outcome = patched != null ? "applied"
                            : "not applied: Helidon's DataReader.ensureAvailable is not the expected code";
                    return patched;
                } catch (RuntimeException e) {
                    outcome = "not applied: " + e;
                    return null;
                }
            }
        };
        outcome = "not applied: Helidon's DataReader was already loaded";
        instrumentation.addTransformer(transformer);
        try {
            Class.forName(READER.replace('/', '.'), false, own);
        } catch (ClassNotFoundException e) {
            outcome = "not applied: Helidon's DataReader is missing";
        } finally {
            instrumentation.removeTransformer(transformer);
        }
    }

    /**
     * The class file of {@code DataReader} with the change applied, or null when its
     * ensureAvailable does not hold the expected sequence exactly once.
     *
     * @throws IllegalArgumentException when the bytes are not a well-formed class file
     */
    static byte[] patch(byte[] classFile) {
        try {
            return patch(new ClassFile(classFile));
        } catch (IndexOutOfBoundsException e) {
            throw new IllegalArgumentException("a truncated class file", e);
        }
    }

    private static byte[] patch(ClassFile file) {
        int code = file.codeOf(METHOD, "()V");
        if (code < 0) {
            return null;
        }
        int codeLength = file.u4(code + 4);
        int start = code + 8;
        int found = -1;
        for (int at = start; at + SEQUENCE_LENGTH <= start + codeLength; at++) {
            if (isAdvance(file, at)) {
                if (found >= 0) {
                    return null;
                }
                found = at;
            }
        }
        if (found < 0) {
            return null;
        }
        ClassFile.Appended method = file.appendMethodref(HELPER, ADVANCE, ADVANCE_DESCRIPTOR);
        byte[] out = method.bytes();
        int shifted = found + method.shift();
        out[shifted] = (byte) ALOAD_0;
        out[shifted + 1] = (byte) INVOKESTATIC;
        out[shifted + 2] = (byte) (method.index() >>> 8);
        out[shifted + 3] = (byte) method.index();
        Arrays.fill(out, shifted + 4, shifted + SEQUENCE_LENGTH, (byte) NOP);
        return out;
    }

    /** {@code aload_0 aload_0 getfield head getfield next putfield head} at {@code at}. */
    private static boolean isAdvance(ClassFile file, int at) {
        if (file.u1(at) != ALOAD_0 || file.u1(at + 1) != ALOAD_0 || file.u1(at + 2) != GETFIELD
                || file.u1(at + 5) != GETFIELD || file.u1(at + 8) != PUTFIELD) {
            return false;
        }
        int head = file.u2(at + 3);
        String nodeType = "L" + NODE + ";";
        return head == file.u2(at + 9)
                && file.isFieldref(head, READER, "head", nodeType)
                && file.isFieldref(file.u2(at + 6), NODE, "next", nodeType);
    }

    /** The private fields {@link #advance} moves, resolved at its first call. */
    private static final class Fields {
        static final VarHandle HEAD;
        static final VarHandle NEXT;

        static {
            try {
                Class<?> node = Class.forName(NODE.replace('/', '.'), false, DataReader.class.getClassLoader());
                HEAD = MethodHandles.privateLookupIn(DataReader.class, MethodHandles.lookup())
                        .findVarHandle(DataReader.class, "head", node);
                NEXT = MethodHandles.privateLookupIn(node, MethodHandles.lookup()).findVarHandle(node, "next", node);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }

    /**
     * Just enough of the class file format (JVMS chapter 4) to find a method's code, resolve a
     * field reference and append a method reference to the constant pool. Entries appended at the
     * pool's end leave every existing index as it was.
     */
    private static final class ClassFile {
        private static final int UTF8 = 1;
        private static final int CLASS = 7;
        private static final int FIELDREF = 9;
        private static final int METHODREF = 10;
        private static final int NAME_AND_TYPE = 12;
        private static final int POOL = 8;

        private final byte[] bytes;
        /** Where each constant pool entry starts (its tag), by index; 0 for the unused slots. */
        private final int[] entries;
        private final int poolEnd;

        ClassFile(byte[] bytes) {
            this.bytes = bytes;
            if (bytes.length < POOL + 2 || u4(0) != 0xCAFEBABE) {
                throw new IllegalArgumentException("not a class file");
            }
            int count = u2(POOL);
            entries = new int[count];
            int at = POOL + 2;
            for (int i = 1; i < count; i++) {
                entries[i] = at;
                int tag = u1(at);
                at += switch (tag) {
                    case UTF8 -> 3 + u2(at + 1);
                    case 3, 4, FIELDREF, METHODREF, 11, NAME_AND_TYPE, 17, 18 -> 5; // int, float, refs, dynamic
                    case 5, 6 -> 9; // long, double: two slots
                    case CLASS, 8, 16, 19, 20 -> 3; // class, string, method type, module, package
                    case 15 -> 4; // method handle
                    default -> throw new IllegalArgumentException("constant pool tag " + tag + " at entry " + i);
                };
                if (tag == 5 || tag == 6) {
                    i++;
                }
            }
            poolEnd = at;
        }

        int u1(int at) {
            return bytes[at] & 0xff;
        }

        int u2(int at) {
            return (u1(at) << 8) | u1(at + 1);
        }

        int u4(int at) {
            return (u2(at) << 16) | u2(at + 2);
        }

        /** Where the Code attribute's max_stack of the named method starts, or -1. */
        int codeOf(String name, String descriptor) {
            int at = poolEnd + 6;
            at += 2 + 2 * u2(at); // interfaces
            at = skipMembers(at); // fields
            int methods = u2(at);
            at += 2;
            for (int m = 0; m < methods; m++) {
                boolean wanted = utf8(u2(at + 2)).equals(name) && utf8(u2(at + 4)).equals(descriptor);
                int attributes = u2(at + 6);
                at += 8;
                for (int a = 0; a < attributes; a++) {
                    if (wanted && utf8(u2(at)).equals("Code")) {
                        return at + 6;
                    }
                    at += 6 + u4(at + 2);
                }
            }
            return -1;
        }

        private int skipMembers(int at) {
            int members = u2(at);
            at += 2;
            for (int m = 0; m < members; m++) {
                int attributes = u2(at + 6);
                at += 8;
                for (int a = 0; a < attributes; a++) {
                    at += 6 + u4(at + 2);
                }
            }
            return at;
        }

        boolean isFieldref(int index, String owner, String name, String descriptor) {
            if (!isTag(index, FIELDREF)) {
                return false;
            }
            int at = entries[index];
            int type = u2(at + 1);
            int nameAndType = u2(at + 3);
            return isTag(type, CLASS) && utf8(u2(entries[type] + 1)).equals(owner)
                    && isTag(nameAndType, NAME_AND_TYPE)
                    && utf8(u2(entries[nameAndType] + 1)).equals(name)
                    && utf8(u2(entries[nameAndType] + 3)).equals(descriptor);
        }

        private boolean isTag(int index, int tag) {
            return index > 0 && index < entries.length && entries[index] > 0 && u1(entries[index]) == tag;
        }

        private String utf8(int index) {
            if (!isTag(index, UTF8)) {
                throw new IllegalArgumentException("constant pool entry " + index + " is not a name");
            }
            int at = entries[index];
            return new String(bytes, at + 3, u2(at + 1), StandardCharsets.UTF_8);
        }

        /** The class file with a Methodref (and the entries it names) added to the pool's end. */
        Appended appendMethodref(String owner, String name, String descriptor) {
            int next = entries.length;
            ByteBuffer added = ByteBuffer.allocate(64 + owner.length() + name.length() + descriptor.length());
            int ownerName = next++;
            putUtf8(added, owner);
            int type = next++;
            added.put((byte) CLASS).putShort((short) ownerName);
            int methodName = next++;
            putUtf8(added, name);
            int methodType = next++;
            putUtf8(added, descriptor);
            int nameAndType = next++;
            added.put((byte) NAME_AND_TYPE).putShort((short) methodName).putShort((short) methodType);
            int methodref = next++;
            added.put((byte) METHODREF).putShort((short) type).putShort((short) nameAndType);
            if (next > 0xffff) {
                throw new IllegalArgumentException("the constant pool is full");
            }
            byte[] out = new byte[bytes.length + added.position()];
            System.arraycopy(bytes, 0, out, 0, poolEnd);
            out[POOL] = (byte) (next >>> 8);
            out[POOL + 1] = (byte) next;
            System.arraycopy(added.array(), 0, out, poolEnd, added.position());
            System.arraycopy(bytes, poolEnd, out, poolEnd + added.position(), bytes.length - poolEnd);
            return new Appended(out, methodref, added.position());
        }

        private static void putUtf8(ByteBuffer to, String ascii) {
            byte[] text = ascii.getBytes(StandardCharsets.US_ASCII);
            to.put((byte) UTF8).putShort((short) text.length).put(text);
        }

        /** A class file grown by {@code shift} bytes at the pool's end; {@code index} is the new Methodref. */
        record Appended(byte[] bytes, int index, int shift) {
        }
    }
}
