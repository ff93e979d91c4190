package dev.serval.runtime.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The header of an ONNX file (IR version, producer, operator sets) read without loading the graph:
 * the file is memory-mapped and the graph's bytes are skipped, so a 1 GB model costs no more
 * than a small one.
 *
 * @param irVersion       the ONNX IR version
 * @param producerName    the exporter, e.g. {@code pytorch}
 * @param producerVersion its version
 * @param opsets          the operator sets imported, e.g. {@code ai.onnx 17}
 * @param sizeBytes       the file's size
 */
public record OnnxModelFile(long irVersion, String producerName, String producerVersion, List<Opset> opsets,
                            long sizeBytes) {

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
            MappedByteBuffer bytes = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            in.setSizeLimit(Integer.MAX_VALUE);
            long irVersion = 0;
            String producer = "";
            String producerVersion = "";
            List<Opset> opsets = new ArrayList<>();
            try {
                for (int tag; (tag = in.readTag()) != 0; ) {
                    switch (WireFormat.getTagFieldNumber(tag)) {
                        case IR_VERSION -> irVersion = in.readInt64();
                        case PRODUCER_NAME -> producer = in.readString();
                        case PRODUCER_VERSION -> producerVersion = in.readString();
                        case OPSET_IMPORT -> opsets.add(opset(in));
                        default -> in.skipField(tag);
                    }
                }
            } catch (IOException | RuntimeException e) {
                throw new IOException(file.getFileName() + " is not an ONNX model: " + e.getMessage(), e);
            }
            if (irVersion == 0 || opsets.isEmpty()) {
                throw new IOException(file.getFileName() + " is not an ONNX model: no IR version or operator sets");
            }
            return new OnnxModelFile(irVersion, producer, producerVersion, List.copyOf(opsets), size);
        }
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
