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

  private PoolSettings(Builder builder) {
    this.maxParallelism = builder.maxParallelism;
    this.retryByDefault = builder.retryByDefault;
    this.defaultRetry = builder.defaultRetry;
    this.statusTtl = builder.statusTtl;
    this.keepStatusForever = builder.keepStatusForever;
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
    return changed.build();
  }

  /** Builder of {@link PoolSettings}. */
  public static final class Builder {
    private Integer maxParallelism;
    private Boolean retryByDefault;
    private RetryPolicy defaultRetry;
    private Duration statusTtl;
    private Boolean keepStatusForever;

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

    public PoolSettings build() {
      return new PoolSettings(this);
    }
  }
}
