package dev.workpool;

/**
 * Counts of what {@link WorkpoolClient#cancelAll} did.
 *
 * @param canceledCount pending items now finished as canceled
 * @param cancelRequestedCount running items whose workers got a cancel request
 */
public record CancelAllResult(long canceledCount, long cancelRequestedCount) {}
