package dev.serval.features;

import java.util.Objects;

/**
 * One event to aggregate, such as a card transaction: who (the entity), with whom (the
 * counterparty), how much, and when.
 *
 * @param entity          the key the aggregates are kept under, e.g. a card id; not blank
 * @param counterparty    the other side, e.g. a merchant; counted in the distinct-counterparty feature
 * @param amount          the amount summed; finite
 * @param timestampMillis when it happened, epoch milliseconds
 */
public record Event(String entity, String counterparty, double amount, long timestampMillis) {

    public Event {
        Objects.requireNonNull(entity, "entity");
        Objects.requireNonNull(counterparty, "counterparty");
        if (entity.isBlank()) {
            throw new IllegalArgumentException("entity is blank");
        }
        if (!Double.isFinite(amount)) {
            throw new IllegalArgumentException("amount is not finite: " + amount);
        }
    }
}
