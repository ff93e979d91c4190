package dev.serval.features;

/**
 * The answer to {@link FeatureStore#lookup}: one row of {@link Feature} values per entity asked
 * about, in the order asked.
 *
 * @param values   {@code values[row * Feature.values().length + feature.ordinal()]}
 * @param rows     entities asked about
 * @param degraded true when a tier that should have been asked was skipped or failed (its breaker
 *                 open, its timeout passed), so some rows may be staler than they would otherwise be
 */
public record Lookup(float[] values, int rows, boolean degraded) {

    /** Features per row. */
    public static final int WIDTH = Feature.values().length;

    public Lookup {
        if (values.length != rows * WIDTH) {
            throw new IllegalArgumentException(values.length + " values for " + rows + " rows of " + WIDTH);
        }
    }

    /** One feature of one row. */
    public float get(int row, Feature feature) {
        return values[row * WIDTH + feature.ordinal()];
    }
}
