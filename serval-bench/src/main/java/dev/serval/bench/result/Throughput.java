package dev.serval.bench.result;

/**
 * Answers per second of the measured time. Immutable.
 *
 * @param okPerSecond   2xx (gRPC OK) answers that ended inside the measured time, per second of it
 * @param allPerSecond  answers of any kind and failures that ended inside it, per second
 * @param intendedRate  open loop: the rate asked for; null in closed loop
 * @param achievedRate  open loop: requests sent inside the measured time, per second; null in closed loop
 */
public record Throughput(double okPerSecond, double allPerSecond, Double intendedRate, Double achievedRate) {
}
