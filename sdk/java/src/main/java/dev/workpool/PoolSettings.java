package dev.workpool;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Settings of a pool for create, update and ensure calls. A setting left unset ({@code null})
 * takes the server's default on create and is left alone by update and ensure.
 */
public final class PoolSettings {
  private final Integer maxParallelism;
  private final Boolean retryByDefault;
  private final RetryPolicy defaultRetry;
  private final Duration statusTtl;
  private final Boolean keepStatusForever;
  private final Integer maxPerKey;
  private final Duration priorityAging;
  private final RateLimit rateLimit;
  private final Duration defaultAttemptTimeout;
  private final CircuitBreaker circuitBreaker;
  private final String parent;

  private PoolSettings(Builder builder) {
    this.maxParallelism = builder.maxParallelism;
    this.retryByDefault = builder.retryByDefault;
    this.defaultRetry = builder.defaultRetry;
    this.statusTtl = builder.statusTtl;
    this.keepStatusForever = builder.keepStatusForever;
    this.maxPerKey = builder.maxPerKey;
    this.priorityAging = builder.priorityAging;
    this.rateLimit = builder.rateLimit;
    this.defaultAttemptTimeout = builder.defaultAttemptTimeout;
    this.circuitBreaker = builder.circuitBreaker;
    this.parent = builder.parent;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Returns settings with nothing set. */
  public static PoolSettings none() {
    return new Builder().build();
  }

  public Integer maxParallelism() {
    return maxParallelism;
  }

  public Boolean retryByDefault() {
    return retryByDefault;
  }

  public RetryPolicy defaultRetry() {
    return defaultRetry;
  }

  public Duration statusTtl() {
    return statusTtl;
  }

  public Boolean keepStatusForever() {
    return keepStatusForever;
  }

  public Integer maxPerKey() {
    return maxPerKey;
  }

  public Duration priorityAging() {
    return priorityAging;
  }

  public RateLimit rateLimit() {
    return rateLimit;
  }

  public Duration defaultAttemptTimeout() {
    return defaultAttemptTimeout;
  }

  public CircuitBreaker circuitBreaker() {
    return circuitBreaker;
  }

  public String parent() {
    return parent;
  }

  /** Names of the set settings, as update-mask paths in field order. */
  List<String> setFieldPaths() {
    List<String> paths = new ArrayList<>();
    if (maxParallelism != null) {
      paths.add("max_parallelism");
    }
    if (retryByDefault != null) {
      paths.add("retry_by_default");
    }
    if (defaultRetry != null) {
      paths.add("default_retry");
    }
    if (statusTtl != null) {
      paths.add("status_ttl");
    }
    if (keepStatusForever != null) {
      paths.add("keep_status_forever");
    }
    if (maxPerKey != null) {
      paths.add("max_per_key");
    }
    if (priorityAging != null) {
      paths.add("priority_aging");
    }
    if (rateLimit != null) {
      paths.add("rate_limit");
    }
    if (defaultAttemptTimeout != null) {
      paths.add("default_attempt_timeout");
    }
    if (circuitBreaker != null) {
      paths.add("circuit_breaker");
    }
    if (parent != null) {
      paths.add("parent");
    }
    return paths;
  }

  /** Returns the set settings whose value differs from {@code pool}. */
  PoolSettings differingFrom(Pool pool) {
    Builder changed = new Builder();
    if (maxParallelism != null && maxParallelism != pool.maxParallelism()) {
      changed.maxParallelism(maxParallelism);
    }
    if (retryByDefault != null && retryByDefault != pool.retryByDefault()) {
      changed.retryByDefault(retryByDefault);
    }
    if (defaultRetry != null && !defaultRetry.equals(pool.defaultRetry())) {
      changed.defaultRetry(defaultRetry);
    }
    if (statusTtl != null && !statusTtl.equals(pool.statusTtl())) {
      changed.statusTtl(statusTtl);
    }
    if (keepStatusForever != null && keepStatusForever != pool.keepStatusForever()) {
      changed.keepStatusForever(keepStatusForever);
    }
    if (maxPerKey != null && maxPerKey != pool.maxPerKey()) {
      changed.maxPerKey(maxPerKey);
    }
    if (priorityAging != null && !priorityAging.equals(pool.priorityAging())) {
      changed.priorityAging(priorityAging);
    }
    if (rateLimit != null && !rateLimit.equals(pool.rateLimit())) {
      changed.rateLimit(rateLimit);
    }
    if (defaultAttemptTimeout != null
        && !defaultAttemptTimeout.equals(pool.defaultAttemptTimeout())) {
      changed.defaultAttemptTimeout(defaultAttemptTimeout);
    }
    if (circuitBreaker != null && !sameBreaker(circuitBreaker, pool.circuitBreaker())) {
      changed.circuitBreaker(circuitBreaker);
    }
    if (parent != null && !parent.equals(pool.parent())) {
      changed.parent(parent);
    }
    return changed.build();
  }

  // Fields left to the server's default in the requested breaker match whatever the pool has.
  private static boolean sameBreaker(CircuitBreaker requested, CircuitBreaker current) {
    return current != null
        && requested.failureRate() == current.failureRate()
        && (requested.window() == null || requested.window().equals(current.window()))
        && (requested.minAttempts() == 0 || requested.minAttempts() == current.minAttempts())
        && (requested.coolDown() == null || requested.coolDown().equals(current.coolDown()));
  }

  /** Builder of {@link PoolSettings}. */
  public static final class Builder {
    private Integer maxParallelism;
    private Boolean retryByDefault;
    private RetryPolicy defaultRetry;
    private Duration statusTtl;
    private Boolean keepStatusForever;
    private Integer maxPerKey;
    private Duration priorityAging;
    private RateLimit rateLimit;
    private Duration defaultAttemptTimeout;
    private CircuitBreaker circuitBreaker;
    private String parent;

    private Builder() {}

    /** Largest number of items running at once, 0 or more; 0 pauses the pool. */
    public Builder maxParallelism(int maxParallelism) {
      if (maxParallelism < 0) {
        throw new IllegalArgumentException(
            "maxParallelism is " + maxParallelism + "; use 0 or more (0 pauses the pool)");
      }
      this.maxParallelism = maxParallelism;
      return this;
    }

    public Builder retryByDefault(boolean retryByDefault) {
      this.retryByDefault = retryByDefault;
      return this;
    }

    public Builder defaultRetry(RetryPolicy defaultRetry) {
      this.defaultRetry = defaultRetry;
      return this;
    }

    public Builder statusTtl(Duration statusTtl) {
      if (statusTtl != null && statusTtl.isNegative()) {
        throw new IllegalArgumentException("statusTtl is " + statusTtl + "; use zero or more");
      }
      this.statusTtl = statusTtl;
      return this;
    }

    public Builder keepStatusForever(boolean keepStatusForever) {
      this.keepStatusForever = keepStatusForever;
      return this;
    }

    /**
     * Maximum number of items with the same concurrency key that run at once; 0 means no per-key
     * limit.
     */
    public Builder maxPerKey(int maxPerKey) {
      if (maxPerKey < 0) {
        throw new IllegalArgumentException(
            "maxPerKey is " + maxPerKey + "; use 0 (no per-key limit) or more");
      }
      this.maxPerKey = maxPerKey;
      return this;
    }

    /** Waiting time that raises a ready item's priority by one; the server's default is 1 s. */
    public Builder priorityAging(Duration priorityAging) {
      requirePositive(priorityAging, "priorityAging");
      this.priorityAging = priorityAging;
      return this;
    }

    /** Limit of starts per second across all server replicas. */
    public Builder rateLimit(RateLimit rateLimit) {
      this.rateLimit = rateLimit;
      return this;
    }

    /** Attempt timeout of items that set none. */
    public Builder defaultAttemptTimeout(Duration defaultAttemptTimeout) {
      requirePositive(defaultAttemptTimeout, "defaultAttemptTimeout");
      this.defaultAttemptTimeout = defaultAttemptTimeout;
      return this;
    }

    /** Pauses new starts while too many attempts fail. */
    public Builder circuitBreaker(CircuitBreaker circuitBreaker) {
      this.circuitBreaker = circuitBreaker;
      return this;
    }

    /**
     * Pool whose idle capacity this pool may borrow once its own {@code maxParallelism} is
     * reached; the empty string removes the parent.
     */
    public Builder parent(String parent) {
      this.parent = parent;
      return this;
    }

    private static void requirePositive(Duration duration, String name) {
      if (duration != null && (duration.isNegative() || duration.isZero())) {
        throw new IllegalArgumentException(
            name + " is " + duration + "; use a positive duration");
      }
    }

    public PoolSettings build() {
      return new PoolSettings(this);
    }
  }
}
