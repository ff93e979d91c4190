package dev.serval.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CostModelTest {
    private static final PriceTable ROUND = new PriceTable(0.04, 0.005, "USD", "test prices");

    @Test
    void fastServer_onePricedInstance_cpuScalesWithTheLoad() {
        // 0.5 CPU-s per 1,000 requests -> 0.5 vCPU at 1,000 req/s; 5,000 req/s measured -> one instance of 512 MiB
        CostModel.Cost c = CostModel.monthlyPer1000(0.5, 512, 5000, ROUND);

        assertThat(c.vcpus()).isEqualTo(0.5);
        assertThat(c.instances()).isEqualTo(1);
        assertThat(c.memoryGb()).isEqualTo(0.5);
        assertThat(c.cpuCost()).isCloseTo(0.5 * 0.04 * 730, within(1e-9));   // 14.60
        assertThat(c.memoryCost()).isCloseTo(0.5 * 0.005 * 730, within(1e-9)); // 1.825
        assertThat(c.total()).isCloseTo(16.425, within(1e-9));
    }

    @Test
    void slowServer_needsMoreInstances_eachWithItsMemory() {
        // 8 answers/s per instance -> 125 instances of 750 MiB for 1,000 req/s; 125 CPU-s per 1,000 requests
        CostModel.Cost c = CostModel.monthlyPer1000(125, 750, 8, ROUND);

        assertThat(c.instances()).isEqualTo(125);
        assertThat(c.memoryGb()).isCloseTo(125 * 750 / 1024.0, within(1e-9));
        assertThat(c.vcpus()).isEqualTo(125);
        assertThat(c.total()).isCloseTo(125 * 0.04 * 730 + 125 * 750 / 1024.0 * 0.005 * 730, within(1e-6));
    }

    @Test
    void monthlyPer1000_refusesANonPositiveRate() {
        assertThatThrownBy(() -> CostModel.monthlyPer1000(1, 100, 0, ROUND)).hasMessageContaining("a rate > 0 (0.0/s)");
    }

    @Test
    void priceTable_defaultNamesItsSource_andAFileOverridesWhatItSets(@TempDir Path dir) throws Exception {
        assertThat(PriceTable.DEFAULT.source()).contains("Google Cloud", "N2", "us-central1");
        Path file = Files.writeString(dir.resolve("prices.properties"), "vcpu_hour = 0.05\nsource = my contract\n");

        PriceTable p = PriceTable.load(file);

        assertThat(p.vcpuHour()).isEqualTo(0.05);
        assertThat(p.gbHour()).isEqualTo(PriceTable.DEFAULT.gbHour());
        assertThat(p.source()).isEqualTo("my contract");
        Files.writeString(file, "gb_hour = cheap\n");
        assertThatThrownBy(() -> PriceTable.load(file)).hasMessageContaining("gb_hour = 'cheap' is not a number");
    }
}
