package dev.serval.runtime.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Model files rewritten by {@link ExternalDataRewriter}, kept in a folder so that the next load
 * of the same file maps them without rewriting. Thread-safe; several processes may share a folder.
 *
 * <p>Design note: an entry is a folder named {@code <path hash>-<version hash>}: the first half
 * from the source's canonical path, the second from its size, modification time, file key (inode)
 * and a digest of 16 samples of 4 KiB spread over it, the cheap check that catches a file replaced
 * by one of the same size and time (tools that keep or fix timestamps). It holds {@code model.onnx}
 * (the graph), {@code weights.bin} (the data) and {@code source.properties} (what it was made from);
 * an entry without {@code model.onnx} records that the file had nothing worth moving. An entry is
 * written in a temporary folder, forced to the device and renamed into place in one step, so a
 * crash or a full disk mid-write leaves at most a temporary folder, never a half entry; two loads
 * of the same version reuse one entry. Each use sweeps the folder: entries of the same path with
 * another version, entries whose source is gone or changed, and temporary folders abandoned for an
 * hour are deleted, so the cache holds at most one entry per model file that still exists however
 * often poll mode reloads. Deleting an entry that a session still maps is safe on Linux (the
 * mapping keeps the pages until unmapped).
 *
 * <p>Nothing here fails a load: when the folder cannot be used (read-only, full, on tmpfs, where
 * a mapped file is memory anyway) the first problem is logged as a warning, later ones at debug
 * level, and {@link #prepare} answers the source itself.
 */
final class ModelCache {
    private static final Logger log = LoggerFactory.getLogger(ModelCache.class);

    static final String GRAPH_FILE = "model.onnx";
    static final String SOURCE_FILE = "source.properties";
    static final String TEMP_PREFIX = ".tmp-";
    private static final Pattern ENTRY_NAME = Pattern.compile("[0-9a-f]{16}-[0-9a-f]{16}");
    private static final Duration ABANDONED_AFTER = Duration.ofHours(1);
    private static final int SAMPLES = 16;
    private static final int SAMPLE_BYTES = 4096;
    /** Room left on the device beyond the entry's own size before one is written. */
    private static final long SPARE_BYTES = 64L << 20;

    private final ModelCacheSettings settings;
    /** One writer at a time in this process: a rewrite is bound by the disk, not the CPU. */
    private final ReentrantLock writing = new ReentrantLock();
    private final AtomicBoolean warned = new AtomicBoolean();

    ModelCache(ModelCacheSettings settings) {
        this.settings = settings;
    }

    ModelCacheSettings settings() {
        return settings;
    }

    /**
     * The file to give ONNX Runtime for {@code source}: the graph of a cache entry (written now if
     * needed) when the source is at least {@link ModelCacheSettings#minModelBytes} and has
     * initializers worth moving, else {@code source} itself. Never throws.
     */
    Path prepare(Path source) {
        try {
            if (Files.size(source) < settings.minModelBytes()) {
                return source;
            }
            Identity identity = Identity.of(source);
            Path entry = settings.directory().resolve(identity.entryName());
            Path graph = entry.resolve(GRAPH_FILE);
            if (!Files.isRegularFile(entry.resolve(SOURCE_FILE))) {
                writing.lock();
                try {
                    if (!Files.isRegularFile(entry.resolve(SOURCE_FILE))) {
                        write(source, identity, entry);
                    }
                } finally {
                    writing.unlock();
                }
            } else {
                log.debug("model cache: reusing {} for {}", entry, source);
            }
            sweep(identity);
            return Files.isRegularFile(graph) ? graph : source;
        } catch (ExternalDataRewriter.UnreadableModelException e) {
            // ONNX Runtime reports what is wrong with the file itself, as it does without a cache.
            log.debug("model cache: {} is loaded as it is: {}", source, e.getMessage());
            return source;
        } catch (IOException | RuntimeException e) {
            problem("cannot use the model cache " + settings.directory() + " for " + source.getFileName() + " ("
                    + e + "); the model loads as it is, its weights copied into memory");
            return source;
        }
    }

    private void write(Path source, Identity identity, Path entry) throws IOException {
        Path folder = Files.createDirectories(settings.directory());
        FileStore store = Files.getFileStore(folder);
        if (store.type().equals("tmpfs") || store.type().equals("ramfs")) {
            throw new IOException("it is on " + store.type() + ": a mapped file there is held in memory anyway; "
                    + "give --model-cache a folder on disk");
        }
        if (store.getUsableSpace() < identity.size() + SPARE_BYTES) {
            throw new IOException("its device has " + (store.getUsableSpace() >> 20) + " MB free, and the model needs "
                    + (identity.size() >> 20) + " MB and 64 MB to spare");
        }
        long started = System.nanoTime();
        Path temp = Files.createTempDirectory(folder, TEMP_PREFIX + identity.entryName() + "-");
        try {
            ExternalDataRewriter.Result result = ExternalDataRewriter.rewrite(source, temp.resolve(GRAPH_FILE),
                    temp.resolve(ExternalDataRewriter.DATA_FILE), settings.minTensorBytes());
            writeSource(temp.resolve(SOURCE_FILE), identity, result);
            try {
                Files.move(temp, entry, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileSystemException e) {
                if (!Files.isRegularFile(entry.resolve(SOURCE_FILE))) {
                    throw e;
                }
                log.debug("model cache: another load wrote {} first", entry);
                return;
            }
            force(folder);
            if (result == null) {
                log.info("model cache: {} has no initializer of {} bytes or more inside it; it loads as it is",
                        source, Math.max(1, settings.minTensorBytes()));
            } else {
                log.info("model cache: wrote {} initializers ({} kB) of {} to {} in {} ms, for ONNX Runtime to map",
                        result.tensors(), result.dataBytes() >> 10, source, entry,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            }
        } finally {
            if (Files.exists(temp)) {
                deleteTree(temp);
            }
        }
    }

    private static void writeSource(Path file, Identity identity, ExternalDataRewriter.Result result) throws IOException {
        Properties properties = new Properties();
        properties.setProperty("path", identity.path());
        properties.setProperty("size", Long.toString(identity.size()));
        properties.setProperty("modifiedNanos", Long.toString(identity.modifiedNanos()));
        properties.setProperty("tensors", Integer.toString(result == null ? 0 : result.tensors()));
        properties.setProperty("dataBytes", Long.toString(result == null ? 0 : result.dataBytes()));
        try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW)) {
            properties.store(out, "a Serval model cache entry: the ONNX file it was made from");
        }
        force(file);
    }

    /** Deletes entries no load will use again and temporary folders left by crashes. */
    private void sweep(Identity current) {
        Instant abandoned = Instant.now().minus(ABANDONED_AFTER);
        try (DirectoryStream<Path> children = Files.newDirectoryStream(settings.directory())) {
            for (Path child : children) {
                String name = child.getFileName().toString();
                boolean stale;
                if (name.startsWith(TEMP_PREFIX)) {
                    stale = Files.getLastModifiedTime(child).toInstant().isBefore(abandoned);
                } else if (!ENTRY_NAME.matcher(name).matches() || name.equals(current.entryName())) {
                    stale = false;                                   // not ours, or in use
                } else {
                    stale = name.startsWith(current.pathHash()) || sourceChanged(child);
                }
                if (stale) {
                    log.info("model cache: removing {}, whose model file changed or is gone", child);
                    deleteTree(child);
                }
            }
        } catch (IOException | RuntimeException e) {
            log.debug("model cache: sweeping {} failed: {}", settings.directory(), e.toString());
        }
    }

    private static boolean sourceChanged(Path entry) throws IOException {
        Properties properties = new Properties();
        try (InputStream in = Files.newInputStream(entry.resolve(SOURCE_FILE))) {
            properties.load(in);
        } catch (NoSuchFileException e) {
            // Renamed into place with its source file, so never without it: not an entry of ours.
            return false;
        }
        String path = properties.getProperty("path", "");
        try {
            BasicFileAttributes attributes = Files.readAttributes(Path.of(path), BasicFileAttributes.class);
            return attributes.size() != Long.parseLong(properties.getProperty("size", "-1"))
                    || attributes.lastModifiedTime().to(TimeUnit.NANOSECONDS)
                    != Long.parseLong(properties.getProperty("modifiedNanos", "-1"));
        } catch (NoSuchFileException e) {
            return true;
        } catch (NumberFormatException e) {
            return true;
        }
    }

    private void problem(String message) {
        if (warned.compareAndSet(false, true)) {
            log.warn("{} (further model cache problems are logged at debug level)", message);
        } else {
            log.debug(message);
        }
    }

    /** Forces a file's or folder's contents (a folder: its names) to the device; best effort for folders. */
    private static void force(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            log.debug("model cache: cannot force {} to the device: {}", path, e.toString());
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    log.debug("model cache: cannot delete {}: {}", path, e.toString());
                }
            });
        } catch (IOException | RuntimeException e) {
            log.debug("model cache: cannot delete {}: {}", root, e.toString());
        }
    }

    /** Which file, and which version of it, an entry was made from. */
    record Identity(String path, long size, long modifiedNanos, String pathHash, String versionHash) {
        String entryName() {
            return pathHash + "-" + versionHash;
        }

        static Identity of(Path source) throws IOException {
            Path real = source.toRealPath();
            BasicFileAttributes attributes = Files.readAttributes(real, BasicFileAttributes.class);
            long size = attributes.size();
            long modified = attributes.lastModifiedTime().to(TimeUnit.NANOSECONDS);
            MessageDigest version = sha256();
            version.update((real + "\n" + size + "\n" + modified + "\n" + attributes.fileKey() + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            try (FileChannel channel = FileChannel.open(real, StandardOpenOption.READ)) {
                ByteBuffer sample = ByteBuffer.allocate(SAMPLE_BYTES);
                long span = Math.max(0, size - SAMPLE_BYTES);
                for (int i = 0; i < SAMPLES; i++) {
                    sample.clear();
                    long at = span * i / (SAMPLES - 1);
                    while (sample.hasRemaining() && channel.read(sample, at + sample.position()) > 0) {
                        // read the whole sample (or up to the end of a small file)
                    }
                    version.update(sample.flip());
                }
            }
            String pathHash = hex16(sha256().digest(real.toString().getBytes(StandardCharsets.UTF_8)));
            return new Identity(real.toString(), size, modified, pathHash, hex16(version.digest()));
        }

        private static MessageDigest sha256() {
            try {
                return MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("every JDK has SHA-256", e);
            }
        }

        private static String hex16(byte[] digest) {
            return HexFormat.of().formatHex(digest, 0, 8);
        }
    }
}
