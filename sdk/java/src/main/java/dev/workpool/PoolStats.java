package dev.workpool;

/**
 * Counts of a pool's unfinished items.
 *
 * @param pendingCount items waiting to start, delayed and backing-off ones included
 * @param runningCount items leased to workers
 */
public record PoolStats(long pendingCount, long runningCount) {}
