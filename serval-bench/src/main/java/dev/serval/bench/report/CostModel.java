package dev.serval.bench.report;

/**
 * Monthly cost of serving 1,000 requests per second with a system, from what it was measured to
 * use. Stateless.
 *
 * <p>Design note, the model: CPU scales with the load, so 1,000 req/s needs
 * {@code cpuSecondsPer1000Requests} vCPUs (CPU-seconds per second). Memory does not scale with the
 * load but with the instances: a system that served {@code okPerSecond} on the measured instance
 * needs {@code max(1, 1000 / okPerSecond)} such instances, each with the measured resident set.
 * Both are priced for {@link #HOURS_PER_MONTH} hours. It leaves out what is the same for every
 * system (disk, network, load balancers) and headroom (the same factor for all): it is a ratio
 * tool, not a bill.
 */
public final class CostModel {
    /** 365 x 24 / 12, the month cloud price lists use. */
    public static final double HOURS_PER_MONTH = 730;
    static final double TARGET_RATE = 1000;

    private CostModel() {
    }

    /**
     * The parts of a month's cost.
     *
     * @param vcpus     vCPUs busy at 1,000 req/s
     * @param instances instances needed to serve 1,000 req/s at the measured per-instance rate (at least 1)
     * @param memoryGb  their resident memory together, GiB
     * @param cpuCost   the vCPUs' price for a month
     * @param memoryCost the memory's price for a month
     */
    public record Cost(double vcpus, double instances, double memoryGb, double cpuCost, double memoryCost) {
        public double total() {
            return cpuCost + memoryCost;
        }
    }

    /**
     * @param cpuSecondsPer1000Requests measured CPU (all the server's processes) per 1,000 answers
     * @param rssMb                     the server's resident set (all processes), MiB
     * @param okPerSecond               answers per second the measured instance gave
     * @throws IllegalArgumentException when a measure is negative or the rate is not positive
     */
    public static Cost monthlyPer1000(double cpuSecondsPer1000Requests, double rssMb, double okPerSecond,
                                      PriceTable prices) {
        if (!(cpuSecondsPer1000Requests >= 0) || !(rssMb >= 0) || !(okPerSecond > 0)) {
            throw new IllegalArgumentException("cost needs CPU-seconds per 1,000 >= 0 (" + cpuSecondsPer1000Requests
                    + "), RSS >= 0 (" + rssMb + " MB) and a rate > 0 (" + okPerSecond + "/s)");
        }
        double vcpus = cpuSecondsPer1000Requests * TARGET_RATE / 1000;
        double instances = Math.max(1, TARGET_RATE / okPerSecond);
        double memoryGb = instances * rssMb / 1024;
        return new Cost(vcpus, instances, memoryGb, vcpus * prices.vcpuHour() * HOURS_PER_MONTH,
                memoryGb * prices.gbHour() * HOURS_PER_MONTH);
    }
}
