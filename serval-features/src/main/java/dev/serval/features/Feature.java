package dev.serval.features;

/**
 * The features kept per entity, in the order of a {@link Lookup}'s rows. Windows are judged at the
 * time a lookup asks about (normally the scored event's own timestamp), not the wall clock.
 *
 * <p>An entity never seen has every count and sum 0 and {@link #SECONDS_SINCE_LAST} at its cap, so
 * an unknown entity is an ordinary row, not an error.
 */
public enum Feature {
    /** Events in the last 60 seconds. */
    COUNT_1M("count_1m"),
    /** Sum of amounts in the last 60 seconds. */
    SUM_1M("sum_1m"),
    /** Events in the last hour. */
    COUNT_1H("count_1h"),
    /** Sum of amounts in the last hour. */
    SUM_1H("sum_1h"),
    /** Distinct counterparties in the last hour. */
    DISTINCT_COUNTERPARTIES_1H("distinct_counterparties_1h"),
    /** Seconds since the entity's latest event before the asked time, capped at {@link #SECONDS_CAP}. */
    SECONDS_SINCE_LAST("seconds_since_last"),
    /** Events ever recorded (lifetime; makes event accounting exact). */
    COUNT_TOTAL("count_total"),
    /** Sum of amounts ever recorded. */
    SUM_TOTAL("sum_total");

    /** The cap of {@link #SECONDS_SINCE_LAST}, and its value for an entity never seen: one day. */
    public static final float SECONDS_CAP = 86_400f;

    private final String wireName;

    Feature(String wireName) {
        this.wireName = wireName;
    }

    /** The name configs and clients use, e.g. {@code count_1m}. */
    public String wireName() {
        return wireName;
    }

    /** The feature with this wire name, or null. */
    public static Feature byWireName(String name) {
        for (Feature feature : values()) {
            if (feature.wireName.equals(name)) {
                return feature;
            }
        }
        return null;
    }
}
