package dev.workpool;

import java.time.Duration;

/**
 * A pool and its settings, with the server's defaults filled in.
 *
 * @param name pool name
 * @param maxParallelism largest number of items that run at once; 0 pauses the pool
 * @param retryByDefault whether items that do not say otherwise retry with {@code defaultRetry}
 * @param defaultRetry the pool's retry policy
 * @param statusTtl how long a finished item's status stays readable
 * @param keepStatusForever whether finished items' status is kept forever
 * @param maxPerKey maximum number of items with the same concurrency key that run at once; 0
 *     means no per-key limit
 * @param priorityAging waiting time that raises a ready item's priority by one
 * @param rateLimit limit of starts per second, or {@code null} when none
 * @param defaultAttemptTimeout attempt timeout of items that set none, or {@code null} when none
 * @param circuitBreaker the pool's circuit breaker, or {@code null} when none
 * @param parent pool whose idle capacity this pool borrows, or {@code null} when none
 * @param stats counts of unfinished items, set only by {@link WorkpoolClient#getPool}
 */
public record Pool(
    String name,
    int maxParallelism,
    boolean retryByDefault,
    RetryPolicy defaultRetry,
    Duration statusTtl,
    boolean keepStatusForever,
    int maxPerKey,
    Duration priorityAging,
    RateLimit rateLimit,
    Duration defaultAttemptTimeout,
    CircuitBreaker circuitBreaker,
    String parent,
    PoolStats stats) {
  /** Parallelism of a pool created without {@code maxParallelism}. */
  public static final int DEFAULT_MAX_PARALLELISM = 10;
  /** Status TTL of a pool created without {@code statusTtl}. */
  public static final Duration DEFAULT_STATUS_TTL = Duration.ofHours(24);
  /** Priority aging of a pool created without {@code priorityAging}. */
  public static final Duration DEFAULT_PRIORITY_AGING = Duration.ofSeconds(1);
}
