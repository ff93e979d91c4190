package dev.serval.features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** L2 alone. */
class DiskTierTest {
    @TempDir
    Path dir;

    private static byte[] state(int events) {
        EntityState state = new EntityState();
        for (int i = 0; i < events; i++) {
            state.add(new Event("card", "m" + i, 1, 1_767_225_600_000L + i));
        }
        return StateCodec.encode(state);
    }

    @Test
    void disk_keepsStatesAndOutboxAcrossARestart() {
        try (DiskTier disk = DiskTier.open(dir, false); DiskTier.Batch batch = disk.batch()) {
            batch.putState("card-1", state(3));
            batch.putState("card-2", state(5));
            batch.queue("card-2", 42);
            batch.commit();
        }

        try (DiskTier disk = DiskTier.open(dir, true)) {
            assertThat(StateCodec.decode(disk.get("card-1"), "card-1").countTotal).isEqualTo(3);
            List<byte[]> both = disk.getAll(List.of("card-2", "card-3", "card-1"));
            assertThat(StateCodec.decode(both.get(0), "card-2").countTotal).isEqualTo(5);
            assertThat(both.get(1)).isNull();
            assertThat(disk.areQueued(List.of("card-2", "card-1", "card-3"))).containsExactly(true, false, false);
            assertThat(disk.queued(null, 10)).containsExactly(new DiskTier.Queued("card-2", 42));
            assertThat(disk.outboxExtent()).containsExactly(1, 42);
            List<String> entities = new ArrayList<>();
            disk.forEachEntity(entities::add);
            assertThat(entities).containsExactly("card-1", "card-2");
        }
    }

    @Test
    void queuedBatches_areWrittenInTicketOrderOnceAWaiterWritesThem() {
        try (DiskTier disk = DiskTier.open(dir, false);
             DiskTier.Batch first = disk.batch();
             DiskTier.Batch second = disk.batch()) {
            first.putState("card-1", state(1));
            first.queue("card-1", 1);
            second.putState("card-1", state(2));
            second.queue("card-1", 2);
            long ticket1 = first.enqueue();
            long ticket2 = second.enqueue();
            assertThat(ticket2).isGreaterThan(ticket1);
            assertThat(disk.get("card-1")).as("queued, not written yet").isNull();

            disk.awaitWritten(0); // nothing to wait for
            assertThat(disk.get("card-1")).isNull();
            disk.awaitWritten(ticket2); // writes both, the first first

            assertThat(StateCodec.decode(disk.get("card-1"), "card-1").countTotal).isEqualTo(2);
            assertThat(disk.queued(null, 10)).containsExactly(new DiskTier.Queued("card-1", 2));
            disk.awaitWritten(ticket1); // already written
        }
    }

    @Test
    void outbox_clearsOnlyMarksNotReplacedSinceTheyWereRead() {
        try (DiskTier disk = DiskTier.open(dir, false); DiskTier.Batch batch = disk.batch()) {
            batch.queue("a", 1);
            batch.queue("b", 2);
            batch.commit();
            List<DiskTier.Queued> read = disk.queued(null, 10);
            batch.queue("b", 3); // recorded again after the drainer read it
            batch.commit();

            assertThat(disk.clearOutbox(read)).containsExactly("a");

            assertThat(disk.queued(null, 10)).containsExactly(new DiskTier.Queued("b", 3));
        }
    }

    @Test
    void outbox_readsFromTheCursorAndWrapsAround() {
        try (DiskTier disk = DiskTier.open(dir, false); DiskTier.Batch batch = disk.batch()) {
            for (String entity : List.of("a", "b", "c", "d")) {
                batch.queue(entity, 1);
            }
            batch.commit();

            assertThat(disk.queued("b", 2)).extracting(DiskTier.Queued::entity).containsExactly("c", "d");
            assertThat(disk.queued("c", 3)).extracting(DiskTier.Queued::entity).containsExactly("d", "a", "b");
            assertThat(disk.queued("b", 10)).extracting(DiskTier.Queued::entity).containsExactly("c", "d", "a", "b");
            assertThat(disk.queued(null, 2)).extracting(DiskTier.Queued::entity).containsExactly("a", "b");
        }
    }

    @Test
    void open_aRegularFileInsteadOfADirectoryNamesThePath() throws IOException {
        Path file = Files.writeString(dir.resolve("not-a-dir"), "x");

        assertThatThrownBy(() -> DiskTier.open(file, false))
                .isInstanceOf(FeatureStoreException.class)
                .hasMessageStartingWith("the L2 (RocksDB) directory " + file + " cannot be created");
        assertThatThrownBy(() -> DiskTier.open(file.resolve("below"), false))
                .isInstanceOf(FeatureStoreException.class)
                .hasMessageStartingWith("the L2 (RocksDB) directory " + file.resolve("below") + " cannot be created");
    }

    @Test
    void open_aReadOnlyDirectoryNamesThePath() throws IOException {
        assumeThat(System.getProperty("user.name")).as("root may write anywhere").isNotEqualTo("root");
        Path readOnly = Files.createDirectory(dir.resolve("ro"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("r-xr-xr-x")));

        assertThatThrownBy(() -> DiskTier.open(readOnly, false))
                .isInstanceOf(FeatureStoreException.class)
                .hasMessage("the L2 (RocksDB) directory " + readOnly + " is not writable");
    }

    @Test
    void open_aDirectoryAnotherStoreHoldsNamesThePath() {
        try (DiskTier first = DiskTier.open(dir, false)) {
            assertThat(first.directory()).isEqualTo(dir);
            assertThatThrownBy(() -> DiskTier.open(dir, false))
                    .isInstanceOf(FeatureStoreException.class)
                    .hasMessageStartingWith("cannot open the L2 (RocksDB) directory " + dir + ": ");
        }
    }
}
