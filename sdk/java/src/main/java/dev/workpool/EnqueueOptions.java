package dev.workpool;

import java.time.Duration;
import java.time.Instant;

/**
 * Optional settings of an enqueued work item: retry, follow-up, schedule, idempotency key,
 * concurrency key, priority and attempt timeout.
 *
 * <p>Build one with {@code EnqueueOptions.builder().retry(false).runAfter(Duration.ofSeconds(5))
 * .build()}. {@link #none()} applies the pool's defaults.
 */
public final class EnqueueOptions {
  private static final EnqueueOptions NONE = new Builder().build();

  private final Boolean retryEnabled;
  private final RetryPolicy retryPolicy;
  private final OnComplete onComplete;
  private final Instant runAt;
  private final Duration runAfter;
  private final String idempotencyKey;
  private final String concurrencyKey;
  private final int priority;
  private final Duration attemptTimeout;

  private EnqueueOptions(Builder builder) {
    this.retryEnabled = builder.retryEnabled;
    this.retryPolicy = builder.retryPolicy;
    this.onComplete = builder.onComplete;
    this.runAt = builder.runAt;
    this.runAfter = builder.runAfter;
    this.idempotencyKey = builder.idempotencyKey;
    this.concurrencyKey = builder.concurrencyKey;
    this.priority = builder.priority;
    this.attemptTimeout = builder.attemptTimeout;
  }

  /** Returns options that leave every setting to the pool and the server. */
  public static EnqueueOptions none() {
    return NONE;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** {@code true} for the pool's retry policy, {@code false} for one attempt, or {@code null}. */
  public Boolean retryEnabled() {
    return retryEnabled;
  }

  /** A policy for this item alone, or {@code null}. */
  public RetryPolicy retryPolicy() {
    return retryPolicy;
  }

  public OnComplete onComplete() {
    return onComplete;
  }

  public Instant runAt() {
    return runAt;
  }

  public Duration runAfter() {
    return runAfter;
  }

  public String idempotencyKey() {
    return idempotencyKey;
  }

  /** Concurrency key, or {@code null} when the item has none. */
  public String concurrencyKey() {
    return concurrencyKey;
  }

  /** Priority within the pool; 0 unless set. */
  public int priority() {
    return priority;
  }

  /** Maximum run time of one attempt, or {@code null} for the pool's default. */
  public Duration attemptTimeout() {
    return attemptTimeout;
  }

  /** Builder of {@link EnqueueOptions}. The retry and the schedule setters replace each other. */
  public static final class Builder {
    private Boolean retryEnabled;
    private RetryPolicy retryPolicy;
    private OnComplete onComplete;
    private Instant runAt;
    private Duration runAfter;
    private String idempotencyKey;
    private String concurrencyKey;
    private int priority;
    private Duration attemptTimeout;

    private Builder() {}

    /** {@code true} applies the pool's retry policy; {@code false} runs the item once. */
    public Builder retry(boolean enabled) {
      this.retryEnabled = enabled;
      this.retryPolicy = null;
      return this;
    }

    /** Applies a retry policy of this item's own. */
    public Builder retry(RetryPolicy policy) {
      this.retryPolicy = policy;
      this.retryEnabled = null;
      return this;
    }

    /** Runs {@code function} in the same pool when the item finishes, with {@code context}. */
    public Builder onComplete(String function, Object context) {
      this.onComplete = new OnComplete(function, context);
      return this;
    }

    public Builder onComplete(OnComplete onComplete) {
      this.onComplete = onComplete;
      return this;
    }

    /** Earliest start time; a time in the past runs now. */
    public Builder runAt(Instant runAt) {
      this.runAt = runAt;
      this.runAfter = null;
      return this;
    }

    /** Earliest start relative to the moment the server accepts the item. */
    public Builder runAfter(Duration runAfter) {
      if (runAfter != null && runAfter.isNegative()) {
        throw new IllegalArgumentException("runAfter is " + runAfter + "; use zero or more");
      }
      this.runAfter = runAfter;
      this.runAt = null;
      return this;
    }

    /** Key unique within the pool: a repeated enqueue returns the first item's id. */
    public Builder idempotencyKey(String idempotencyKey) {
      this.idempotencyKey = idempotencyKey;
      return this;
    }

    /**
     * Items of the pool with the same key run at most the pool's {@code maxPerKey} at once. Keys
     * have 1 to 256 characters; the server checks the length.
     */
    public Builder concurrencyKey(String concurrencyKey) {
      this.concurrencyKey = concurrencyKey;
      return this;
    }

    /**
     * Higher starts first within the pool, from -1,000,000 to 1,000,000 (default 0). Waiting
     * raises it by one per the pool's {@code priorityAging}. The server checks the range.
     */
    public Builder priority(int priority) {
      this.priority = priority;
      return this;
    }

    /**
     * Maximum run time of one attempt. Past it the server cancels the handler (cause {@link
     * WorkContext.CancelCause#TIMEOUT}) and ends the attempt as a failure that the retry policy
     * may retry.
     */
    public Builder attemptTimeout(Duration attemptTimeout) {
      if (attemptTimeout != null && (attemptTimeout.isNegative() || attemptTimeout.isZero())) {
        throw new IllegalArgumentException(
            "attemptTimeout is " + attemptTimeout + "; use a positive duration, or null for the"
                + " pool's default");
      }
      this.attemptTimeout = attemptTimeout;
      return this;
    }

    public EnqueueOptions build() {
      return new EnqueueOptions(this);
    }
  }
}
