package dev.workpool;

import java.time.Instant;

/**
 * Counts of a pool's unfinished items and the state of its circuit breaker.
 *
 * @param pendingCount items waiting to start, delayed and backing-off ones included
 * @param runningCount items leased to workers
 * @param circuitState state of the pool's circuit breaker
 * @param circuitOpenUntil end of the cool-down while the breaker is open, else {@code null}
 * @param borrowedCount items running on capacity borrowed from the parent pool
 */
public record PoolStats(
    long pendingCount,
    long runningCount,
    CircuitState circuitState,
    Instant circuitOpenUntil,
    long borrowedCount) {}
