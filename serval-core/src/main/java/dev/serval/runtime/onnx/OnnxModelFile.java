package dev.serval.runtime.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The header of an ONNX file (IR version, producer, operator sets) and the tensors it keeps in
 * external data files, read without loading the graph: the file is walked with protobuf's
 * streaming reader and every tensor's bytes are skipped by seeking, never read, so a 1 GB model
 * costs no more heap or time than a small one.
 *
 * <p>External data is ONNX's format for models over protobuf's 2 GB limit: a tensor's bytes live
 * in a file beside the model ({@code location}, relative to the model's folder) at an offset.
 * ONNX Runtime resolves those files when a session is created from the model's path.
 *
 * @param irVersion       the ONNX IR version
 * @param producerName    the exporter, e.g. {@code pytorch}
 * @param producerVersion its version
 * @param opsets          the operator sets imported, e.g. {@code ai.onnx 17}
 * @param sizeBytes       the file's size
 * @param externalData    the tensors kept in external data files (initializers, also those of
 *                        subgraphs and of constant attributes), in the order the file lists them
 */
public record OnnxModelFile(long irVersion, String producerName, String producerVersion, List<Opset> opsets,
                            long sizeBytes, List<ExternalTensor> externalData) {

    /**
     * A tensor whose bytes live in an external data file.
     *
     * @param name     the tensor's name
     * @param location the file, as the model names it (relative to the model's folder)
     * @param offset   where the tensor's bytes begin in it
     * @param length   how many bytes it takes: the model's {@code length} entry, or else computed
     *                 from its shape and element type; -1 when neither says
     */
    public record ExternalTensor(String name, String location, long offset, long length) {
    }

    /** An imported operator set; the default domain is written {@code ai.onnx}. */
    public record Opset(String domain, long version) {
        @Override
        public String toString() {
            return domain + " " + version;
        }
    }

    private static final int IR_VERSION = 1;
    private static final int PRODUCER_NAME = 2;
    private static final int PRODUCER_VERSION = 3;
    private static final int OPSET_IMPORT = 8;
    private static final int OPSET_DOMAIN = 1;
    private static final int OPSET_VERSION = 2;
    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_INITIALIZER = 5;
    private static final int GRAPH_SPARSE_INITIALIZER = 15;
    private static final int NODE_ATTRIBUTE = 5;
    private static final int ATTRIBUTE_TENSOR = 5;
    private static final int ATTRIBUTE_GRAPH = 6;
    private static final int ATTRIBUTE_TENSORS = 10;
    private static final int ATTRIBUTE_GRAPHS = 11;
    private static final int ATTRIBUTE_SPARSE_TENSOR = 22;
    private static final int ATTRIBUTE_SPARSE_TENSORS = 23;
    private static final int SPARSE_VALUES = 1;
    private static final int SPARSE_INDICES = 2;
    private static final int TENSOR_DIMS = 1;
    private static final int TENSOR_DATA_TYPE = 2;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_EXTERNAL_DATA = 13;
    private static final int TENSOR_DATA_LOCATION = 14;
    private static final int DATA_LOCATION_EXTERNAL = 1;
    private static final int ENTRY_KEY = 1;
    private static final int ENTRY_VALUE = 2;

    /**
     * @throws IOException if the file cannot be read or is not an ONNX model
     */
    public static OnnxModelFile read(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size > Integer.MAX_VALUE) {
                throw new IOException(file.getFileName() + " is over 2 GB; ONNX files that large keep weights "
                        + "in external data files");
            }
            // A stream, not a mapping: protobuf's reader skips a tensor's bytes by seeking the
            // channel, and would copy a mapped file whole into the heap where it cannot address
            // native memory (without sun.misc.Unsafe).
            CodedInputStream in = CodedInputStream.newInstance(Channels.newInputStream(channel), 64 * 1024);
            in.setSizeLimit(Integer.MAX_VALUE);
            long irVersion = 0;
            String producer = "";
            String producerVersion = "";
            List<Opset> opsets = new ArrayList<>();
            List<ExternalTensor> external = new ArrayList<>();
            try {
                for (int tag; (tag = in.readTag()) != 0; ) {
                    switch (WireFormat.getTagFieldNumber(tag)) {
                        case IR_VERSION -> irVersion = in.readInt64();
                        case PRODUCER_NAME -> producer = in.readString();
                        case PRODUCER_VERSION -> producerVersion = in.readString();
                        case OPSET_IMPORT -> opsets.add(opset(in));
                        case MODEL_GRAPH -> nested(in, tag, () -> graph(in, external));
                        default -> in.skipField(tag);
                    }
                }
            } catch (IOException | RuntimeException e) {
                throw new IOException(file.getFileName() + " is not an ONNX model: " + e.getMessage(), e);
            }
            if (irVersion == 0 || opsets.isEmpty()) {
                throw new IOException(file.getFileName() + " is not an ONNX model: no IR version or operator sets");
            }
            return new OnnxModelFile(irVersion, producer, producerVersion, List.copyOf(opsets), size,
                    List.copyOf(external));
        }
    }

    /**
     * The bytes of the external data files, each counted once (several tensors usually share one).
     */
    public long externalDataBytes(Path modelFile) {
        Map<String, Long> sizes = new LinkedHashMap<>();
        Path folder = modelFile.toAbsolutePath().getParent();
        for (ExternalTensor tensor : externalData) {
            sizes.computeIfAbsent(tensor.location(), location -> {
                try {
                    return Files.size(folder.resolve(location));
                } catch (IOException | RuntimeException e) {
                    return 0L;
                }
            });
        }
        return sizes.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * Checks that every external data file the model names is a file inside the model's folder
     * (no absolute path, no {@code ..}, no symbolic link leading out) and holds the bytes its
     * tensors claim. The check is Serval's own rather than ONNX Runtime's because ONNX Runtime
     * follows {@code ..} and links out of the folder, and because a load must not depend on
     * how the runtime guards the files it maps into memory.
     *
     * @param modelFile the model's path; external data is resolved against its folder
     * @throws IOException naming the tensor, the file and what is wrong with it
     */
    public void verifyExternalData(Path modelFile) throws IOException {
        if (externalData.isEmpty()) {
            return;
        }
        Path folder = modelFile.toAbsolutePath().normalize().getParent();
        Path realFolder = folder.toRealPath();
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (ExternalTensor tensor : externalData) {
            String where = "tensor '" + tensor.name() + "' keeps its data in '" + tensor.location() + "'";
            Long size = sizes.get(tensor.location());
            if (size == null) {
                Path location;
                try {
                    location = Path.of(tensor.location());
                } catch (RuntimeException e) {
                    throw new IOException(where + ", which is not a valid file name");
                }
                if (tensor.location().isEmpty() || location.isAbsolute()
                        || !folder.resolve(location).normalize().startsWith(folder)
                        || location.normalize().startsWith("..")) {
                    throw new IOException(where + "; external data must be a file in the model's folder");
                }
                Path file = folder.resolve(location).normalize();
                if (!Files.isRegularFile(file)) {
                    throw new IOException(where + ", which does not exist or is not a file (expected beside "
                            + modelFile.getFileName() + ")");
                }
                if (!file.toRealPath().startsWith(realFolder)) {
                    throw new IOException(where + ", which is a link leading outside the model's folder");
                }
                size = Files.size(file);
                sizes.put(tensor.location(), size);
            }
            if (tensor.offset() < 0 || tensor.length() < -1) {
                throw new IOException(where + " at offset " + tensor.offset() + ", length " + tensor.length()
                        + "; expected non-negative numbers");
            }
            long end = tensor.offset() + Math.max(0, tensor.length());
            if (end > size) {
                throw new IOException(where + " at bytes " + tensor.offset() + " to " + end + ", but the file has only "
                        + size + " bytes: it is truncated or not the one the model was saved with");
            }
        }
    }

    private interface Body {
        void read() throws IOException;
    }

    /** Reads the length-delimited message of field {@code tag} with {@code body}. */
    private static void nested(CodedInputStream in, int tag, Body body) throws IOException {
        if (WireFormat.getTagWireType(tag) != WireFormat.WIRETYPE_LENGTH_DELIMITED) {
            in.skipField(tag);
            return;
        }
        int limit = in.pushLimit(in.readRawVarint32());
        body.read();
        in.popLimit(limit);
    }

    private static void graph(CodedInputStream in, List<ExternalTensor> external) throws IOException {
        for (int tag; (tag = in.readTag()) != 0; ) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case GRAPH_NODE -> nested(in, tag, () -> node(in, external));
                case GRAPH_INITIALIZER -> nested(in, tag, () -> tensor(in, external));
                case GRAPH_SPARSE_INITIALIZER -> nested(in, tag, () -> sparseTensor(in, external));
                default -> in.skipField(tag);
            }
        }
    }

    private static void node(CodedInputStream in, List<ExternalTensor> external) throws IOException {
        for (int tag; (tag = in.readTag()) != 0; ) {
            if (WireFormat.getTagFieldNumber(tag) == NODE_ATTRIBUTE) {
                nested(in, tag, () -> attribute(in, external));
            } else {
                in.skipField(tag);
            }
        }
    }

    private static void attribute(CodedInputStream in, List<ExternalTensor> external) throws IOException {
        for (int tag; (tag = in.readTag()) != 0; ) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case ATTRIBUTE_TENSOR, ATTRIBUTE_TENSORS -> nested(in, tag, () -> tensor(in, external));
                case ATTRIBUTE_GRAPH, ATTRIBUTE_GRAPHS -> nested(in, tag, () -> graph(in, external));
                case ATTRIBUTE_SPARSE_TENSOR, ATTRIBUTE_SPARSE_TENSORS -> nested(in, tag, () -> sparseTensor(in, external));
                default -> in.skipField(tag);
            }
        }
    }

    private static void sparseTensor(CodedInputStream in, List<ExternalTensor> external) throws IOException {
        for (int tag; (tag = in.readTag()) != 0; ) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case SPARSE_VALUES, SPARSE_INDICES -> nested(in, tag, () -> tensor(in, external));
                default -> in.skipField(tag);
            }
        }
    }

    /** A TensorProto: only its name, shape, type and external data entries; its data is skipped. */
    private static void tensor(CodedInputStream in, List<ExternalTensor> external) throws IOException {
        String name = "";
        int dataType = 0;
        int location = 0;
        List<Long> dims = new ArrayList<>();
        Map<String, String> entries = new LinkedHashMap<>();
        for (int tag; (tag = in.readTag()) != 0; ) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case TENSOR_DIMS -> {
                    if (WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                        int limit = in.pushLimit(in.readRawVarint32());
                        while (in.getBytesUntilLimit() > 0) {
                            dims.add(in.readInt64());
                        }
                        in.popLimit(limit);
                    } else {
                        dims.add(in.readInt64());
                    }
                }
                case TENSOR_DATA_TYPE -> dataType = in.readInt32();
                case TENSOR_NAME -> name = in.readString();
                case TENSOR_EXTERNAL_DATA -> nested(in, tag, () -> entry(in, entries));
                case TENSOR_DATA_LOCATION -> location = in.readEnum();
                default -> in.skipField(tag);
            }
        }
        if (location != DATA_LOCATION_EXTERNAL) {
            return;
        }
        long offset = number(entries.get("offset"), name, "offset", 0);
        long length = number(entries.get("length"), name, "length", -1);
        if (length < 0) {
            length = byteLength(dataType, dims);
        }
        external.add(new ExternalTensor(name, entries.getOrDefault("location", ""), offset, length));
    }

    private static void entry(CodedInputStream in, Map<String, String> entries) throws IOException {
        String key = "";
        String value = "";
        for (int tag; (tag = in.readTag()) != 0; ) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case ENTRY_KEY -> key = in.readString();
                case ENTRY_VALUE -> value = in.readString();
                default -> in.skipField(tag);
            }
        }
        entries.put(key, value);
    }

    private static long number(String text, String tensor, String key, long absent) throws IOException {
        if (text == null) {
            return absent;
        }
        try {
            return Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            throw new IOException("tensor '" + tensor + "' has external data " + key + " \"" + text
                    + "\"; expected a number of bytes");
        }
    }

    /** The bytes a dense tensor of ONNX element type {@code dataType} and shape {@code dims} takes; -1 if unknown. */
    static long byteLength(int dataType, List<Long> dims) {
        long elements = 1;
        for (long dim : dims) {
            if (dim < 0) {
                return -1;
            }
            elements = Math.multiplyExact(elements, dim);
        }
        return switch (dataType) {
            case 2, 3, 9, 17, 18, 19, 20 -> elements;                 // UINT8, INT8, BOOL, FLOAT8 variants
            case 4, 5, 10, 16 -> elements * 2;                        // UINT16, INT16, FLOAT16, BFLOAT16
            case 1, 6, 12 -> elements * 4;                            // FLOAT, INT32, UINT32
            case 7, 11, 13, 14 -> elements * 8;                       // INT64, DOUBLE, UINT64, COMPLEX64
            case 15 -> elements * 16;                                 // COMPLEX128
            case 21, 22, 23 -> (elements + 1) / 2;                    // UINT4, INT4, FLOAT4E2M1
            default -> -1;                                            // STRING and types to come
        };
    }

    private static Opset opset(CodedInputStream in) throws IOException {
        int limit = in.pushLimit(in.readRawVarint32());
        String domain = "";
        long version = 0;
        for (int tag; (tag = in.readTag()) != 0; ) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case OPSET_DOMAIN -> domain = in.readString();
                case OPSET_VERSION -> version = in.readInt64();
                default -> in.skipField(tag);
            }
        }
        in.popLimit(limit);
        return new Opset(domain.isEmpty() ? "ai.onnx" : domain, version);
    }
}
