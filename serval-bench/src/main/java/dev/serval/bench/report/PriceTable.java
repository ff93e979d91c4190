package dev.serval.bench.report;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * What compute costs: a price per vCPU-hour and per GB-hour of memory, and where the figures come
 * from. Immutable; validated as built.
 *
 * @param vcpuHour price of one vCPU for one hour
 * @param gbHour   price of one GiB of memory for one hour
 * @param currency e.g. USD
 * @param source   the named public price list the figures were taken from, shown in the report
 */
public record PriceTable(double vcpuHour, double gbHour, String currency, String source) {

    /**
     * Google Cloud Compute Engine's on-demand list price for N2 machine types in us-central1
     * (Iowa), which prices vCPU and memory separately: USD 0.031611 per vCPU-hour and USD 0.004237
     * per GB-hour. Prices change; override them with {@link #load} or the report's flags.
     */
    public static final PriceTable DEFAULT = new PriceTable(0.031611, 0.004237, "USD",
            "Google Cloud Compute Engine N2, on-demand, us-central1 (Iowa): per vCPU-hour and per GB-hour"
                    + " (cloud.google.com/compute/vm-instance-pricing; list price, check before quoting)");

    public PriceTable {
        if (!(vcpuHour >= 0) || !(gbHour >= 0) || Double.isInfinite(vcpuHour) || Double.isInfinite(gbHour)) {
            throw new IllegalArgumentException("prices must be finite and >= 0 (vcpu_hour " + vcpuHour
                    + ", gb_hour " + gbHour + ")");
        }
        if (currency == null || currency.isBlank() || source == null || source.isBlank()) {
            throw new IllegalArgumentException("a price table needs a currency and a source");
        }
    }

    /**
     * Reads a properties file with {@code vcpu_hour}, {@code gb_hour}, and optionally
     * {@code currency} and {@code source}; a key left out keeps the default's value.
     *
     * @throws IllegalArgumentException naming the file and the key when a value is not a number
     */
    public static PriceTable load(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(file)) {
            p.load(in);
        }
        return new PriceTable(number(p, "vcpu_hour", DEFAULT.vcpuHour, file), number(p, "gb_hour", DEFAULT.gbHour, file),
                p.getProperty("currency", DEFAULT.currency).trim(),
                p.getProperty("source", "price file " + file.getFileName()).trim());
    }

    private static double number(Properties p, String key, double fallback, Path file) {
        String value = p.getProperty(key);
        if (value == null) {
            return fallback;
        }
        try {
            return Double.parseDouble(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(file + ": " + key + " = '" + value + "' is not a number");
        }
    }
}
