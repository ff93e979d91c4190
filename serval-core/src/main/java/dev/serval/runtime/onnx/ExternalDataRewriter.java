package dev.serval.runtime.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Rewrites an ONNX model whose big initializers keep their bytes inside the file
 * ({@code TensorProto.raw_data}) into ONNX's external data layout: a graph file in which those
 * initializers name a data file instead ({@code data_location = EXTERNAL} with {@code location},
 * {@code offset} and {@code length} entries), and that one data file, written beside it.
 *
 * <p>Design note: ONNX Runtime copies inline weights into anonymous memory, where every byte is
 * resident for the life of the session, but maps external data files (on Linux {@code mmap} of
 * the file, at any offset, rounded down to a page). A mapped weight that a kernel prepacks is
 * released after prepacking, and one read in place (an embedding table behind a Gather) stays a
 * file-backed mapping of which only the rows touched are resident and which the kernel may drop
 * under pressure. Each tensor starts at a multiple of {@link #ALIGNMENT} (64 KiB: the mapping
 * granularity on Windows, which ONNX's own {@code convert_model_to_external_data} also uses), so
 * that no two tensors share a page; the gaps are holes in the file, which cost no disk.
 *
 * <p>The rewrite works on protobuf's wire format with field numbers only (no generated ONNX
 * classes): a first pass walks the file with {@link CodedInputStream} over a channel, reading
 * tags and lengths and skipping every tensor's bytes by seeking, and records where each
 * initializer of the main graph and its {@code raw_data} lie; a second pass writes the new files
 * by copying those byte ranges from file to file ({@link FileChannel#transferTo}, in the kernel)
 * and writing only the changed lengths and the new fields. No part of the model passes through
 * the Java heap beyond tensor names, so a 1 GB model costs no more heap than a small one. A
 * mapped {@code CodedInputStream} would not do: protobuf copies a direct buffer whole into a
 * {@code byte[]} unless it may use {@code sun.misc.Unsafe}.
 *
 * <p>What moves: initializers of the main graph ({@code ModelProto.graph = 7},
 * {@code GraphProto.initializer = 5}) with one {@code raw_data} field (9) of at least the given
 * size and no {@code external_data} (13) or {@code data_location} (14) yet. Everything else is
 * copied unchanged, byte for byte: other fields, small initializers, tensors held in typed fields
 * ({@code float_data} ...), constants and subgraphs inside nodes, sparse initializers, functions.
 */
final class ExternalDataRewriter {
    /** The data file's name in the folder of the graph file (ONNX Runtime resolves it there). */
    static final String DATA_FILE = "weights.bin";
    /** Each moved tensor starts at a multiple of this offset in the data file. */
    static final long ALIGNMENT = 64 * 1024;

    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_INITIALIZER = 5;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_RAW_DATA = 9;
    private static final int TENSOR_EXTERNAL_DATA = 13;
    private static final int TENSOR_DATA_LOCATION = 14;
    private static final int ENTRY_KEY = 1;
    private static final int ENTRY_VALUE = 2;
    private static final int DATA_LOCATION_EXTERNAL = 1;

    private ExternalDataRewriter() {
    }

    /**
     * What a rewrite moved.
     *
     * @param tensors   the initializers now in the data file
     * @param dataBytes their bytes (the data file's size less its alignment gaps)
     */
    record Result(int tensors, long dataBytes) {
    }

    /** The source is not a protobuf message this class can walk (truncated, not ONNX). */
    static final class UnreadableModelException extends IOException {
        UnreadableModelException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Where an initializer lies in the source, and what it becomes. All positions are file offsets. */
    private record Moved(long lengthStart, long contentStart, long contentEnd, long rawFieldStart, long rawStart,
                         long rawEnd, long offset, byte[] newFields) {
        long newLength() {
            return (contentEnd - contentStart) - (rawEnd - rawFieldStart) + newFields.length;
        }

        /** How much longer the initializer field (its length varint and its message) becomes. */
        long growth() {
            long length = newLength();
            return CodedOutputStream.computeUInt64SizeNoTag(length) + length - (contentEnd - lengthStart);
        }
    }

    /** A graph field of the model with the initializers that move out of it. */
    private record Graph(long lengthStart, long contentStart, long contentEnd, List<Moved> moved) {
        long newLength() {
            long length = contentEnd - contentStart;
            for (Moved tensor : moved) {
                length += tensor.growth();
            }
            return length;
        }
    }

    /**
     * Writes {@code graphFile} and {@code dataFile} (which must not exist) from {@code source},
     * moving the main graph's initializers of {@code minTensorBytes} or more (at least 1) into
     * the data file; writes nothing when there is no such initializer or the source cannot be
     * walked. Both files are forced to the storage device before this returns. If writing fails
     * midway, what was written is left for the caller to delete ({@link ModelCache} writes in a
     * temporary folder). Not thread-safe for the same output files.
     *
     * @return what moved, or null when nothing would (no file is written then)
     * @throws UnreadableModelException if the source is not a well-formed protobuf message
     * @throws IOException              if a file cannot be read or written
     */
    static Result rewrite(Path source, Path graphFile, Path dataFile, long minTensorBytes) throws IOException {
        try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
            long size = in.size();
            List<Graph> graphs = plan(in, size, Math.max(1, minTensorBytes), graphFile.getFileName().toString());
            int tensors = 0;
            long bytes = 0;
            for (Graph graph : graphs) {
                for (Moved tensor : graph.moved()) {
                    tensors++;
                    bytes += tensor.rawEnd() - tensor.rawStart();
                }
            }
            if (tensors == 0) {
                return null;
            }
            try (FileChannel graphOut = FileChannel.open(graphFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 FileChannel dataOut = FileChannel.open(dataFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                write(in, size, graphs, graphOut, dataOut);
                graphOut.force(true);
                dataOut.force(true);
            }
            return new Result(tensors, bytes);
        }
    }

    private static List<Graph> plan(FileChannel channel, long size, long minTensorBytes, String graphName)
            throws IOException {
        if (size > Integer.MAX_VALUE) {
            throw new UnreadableModelException("the file is over 2 GB, protobuf's limit for one message", null);
        }
        // A stream, not a mapping: skipping a tensor's bytes seeks the channel (see the design note).
        CodedInputStream in = CodedInputStream.newInstance(Channels.newInputStream(channel.position(0)), 64 * 1024);
        in.setSizeLimit(Integer.MAX_VALUE);
        List<Graph> graphs = new ArrayList<>();
        long[] next = {0};
        try {
            while (true) {
                int tag = in.readTag();
                if (tag == 0) {
                    break;
                }
                if (WireFormat.getTagFieldNumber(tag) == MODEL_GRAPH
                        && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                    Graph graph = graph(in, minTensorBytes, next);
                    if (!graph.moved().isEmpty()) {
                        graphs.add(graph);
                    }
                } else {
                    in.skipField(tag);
                }
            }
            if (in.getTotalBytesRead() != size) {
                throw new IOException("the message ends at byte " + in.getTotalBytesRead() + " of " + size);
            }
        } catch (IOException | RuntimeException e) {
            throw new UnreadableModelException("not a well-formed ONNX file: " + e.getMessage(), e);
        }
        for (Graph graph : graphs) {
            if (graph.newLength() > Integer.MAX_VALUE) {
                throw new UnreadableModelException("the rewritten graph of " + graphName + " would be over 2 GB", null);
            }
        }
        return graphs;
    }

    private static Graph graph(CodedInputStream in, long minTensorBytes, long[] next) throws IOException {
        long lengthStart = in.getTotalBytesRead();
        int length = in.readRawVarint32();
        long contentStart = in.getTotalBytesRead();
        int limit = in.pushLimit(length);
        List<Moved> moved = new ArrayList<>();
        while (true) {
            int tag = in.readTag();
            if (tag == 0) {
                break;
            }
            if (WireFormat.getTagFieldNumber(tag) == GRAPH_INITIALIZER
                    && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                Moved tensor = tensor(in, minTensorBytes, next);
                if (tensor != null) {
                    moved.add(tensor);
                }
            } else {
                in.skipField(tag);
            }
        }
        in.popLimit(limit);
        ended(in, contentStart + length, "graph");
        return new Graph(lengthStart, contentStart, contentStart + length, List.copyOf(moved));
    }

    /** Plans one initializer; null if it stays as it is. Advances {@code next[0]} past its data. */
    private static Moved tensor(CodedInputStream in, long minTensorBytes, long[] next) throws IOException {
        long lengthStart = in.getTotalBytesRead();
        int length = in.readRawVarint32();
        long contentStart = in.getTotalBytesRead();
        int limit = in.pushLimit(length);
        int rawFields = 0;
        boolean external = false;
        long rawFieldStart = -1;
        long rawStart = -1;
        long rawEnd = -1;
        while (true) {
            long at = in.getTotalBytesRead();
            int tag = in.readTag();
            if (tag == 0) {
                break;
            }
            int field = WireFormat.getTagFieldNumber(tag);
            if (field == TENSOR_RAW_DATA && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                rawFields++;
                rawFieldStart = at;
                int bytes = in.readRawVarint32();
                rawStart = in.getTotalBytesRead();
                in.skipRawBytes(bytes);
                rawEnd = in.getTotalBytesRead();
            } else {
                if (field == TENSOR_EXTERNAL_DATA || field == TENSOR_DATA_LOCATION || field == TENSOR_RAW_DATA) {
                    external = true;
                }
                in.skipField(tag);
            }
        }
        in.popLimit(limit);
        ended(in, contentStart + length, "initializer");
        if (rawFields != 1 || external || rawEnd - rawStart < minTensorBytes) {
            return null;
        }
        long offset = (next[0] + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        next[0] = offset + (rawEnd - rawStart);
        return new Moved(lengthStart, contentStart, contentStart + length, rawFieldStart, rawStart, rawEnd, offset,
                externalFields(offset, rawEnd - rawStart));
    }

    /** {@code external_data} entries location, offset and length, then {@code data_location = EXTERNAL}. */
    private static byte[] externalFields(long offset, long length) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(96);
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        String[][] entries = {{"location", DATA_FILE}, {"offset", Long.toString(offset)}, {"length", Long.toString(length)}};
        for (String[] entry : entries) {
            out.writeTag(TENSOR_EXTERNAL_DATA, WireFormat.WIRETYPE_LENGTH_DELIMITED);
            out.writeUInt32NoTag(CodedOutputStream.computeStringSize(ENTRY_KEY, entry[0])
                    + CodedOutputStream.computeStringSize(ENTRY_VALUE, entry[1]));
            out.writeString(ENTRY_KEY, entry[0]);
            out.writeString(ENTRY_VALUE, entry[1]);
        }
        out.writeEnum(TENSOR_DATA_LOCATION, DATA_LOCATION_EXTERNAL);
        out.flush();
        return bytes.toByteArray();
    }

    private static void write(FileChannel in, long size, List<Graph> graphs, FileChannel graphOut, FileChannel dataOut)
            throws IOException {
        long position = 0;
        for (Graph graph : graphs) {
            copy(in, position, graph.lengthStart(), graphOut);              // up to and with the graph's tag
            writeVarint(graphOut, graph.newLength());
            long at = graph.contentStart();
            for (Moved tensor : graph.moved()) {
                copy(in, at, tensor.lengthStart(), graphOut);               // up to and with the initializer's tag
                writeVarint(graphOut, tensor.newLength());
                copy(in, tensor.contentStart(), tensor.rawFieldStart(), graphOut);
                copy(in, tensor.rawEnd(), tensor.contentEnd(), graphOut);
                writeFully(graphOut, tensor.newFields());
                dataOut.position(tensor.offset());                          // the gap before it stays a hole
                copy(in, tensor.rawStart(), tensor.rawEnd(), dataOut);
                at = tensor.contentEnd();
            }
            copy(in, at, graph.contentEnd(), graphOut);
            position = graph.contentEnd();
        }
        copy(in, position, size, graphOut);
    }

    /** Appends bytes {@code from} to {@code to} of {@code in} to {@code out}, file to file. */
    private static void copy(FileChannel in, long from, long to, FileChannel out) throws IOException {
        long at = from;
        while (at < to) {
            long moved = in.transferTo(at, to - at, out);
            if (moved <= 0) {
                throw new IOException("the model file ended at byte " + at + " while copying it (did it change?)");
            }
            at += moved;
        }
    }

    private static void writeVarint(FileChannel out, long value) throws IOException {
        byte[] bytes = new byte[CodedOutputStream.computeUInt64SizeNoTag(value)];
        CodedOutputStream coded = CodedOutputStream.newInstance(bytes);
        coded.writeUInt64NoTag(value);
        coded.flush();
        writeFully(out, bytes);
    }

    private static void writeFully(FileChannel out, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            out.write(buffer);
        }
    }

    /** A message whose length runs past the end of the file reads as if it ended early: refuse it. */
    private static void ended(CodedInputStream in, long end, String what) throws IOException {
        if (in.getTotalBytesRead() != end) {
            throw new IOException("a " + what + " that should end at byte " + end + " ends at "
                    + in.getTotalBytesRead() + ": the file is truncated");
        }
    }
}
