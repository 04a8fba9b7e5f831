package dev.workpool;

import java.time.Duration;
import java.util.Objects;

/**
 * How often and how soon a failed work item runs again.
 *
 * <p>The delay before attempt k+1 is {@code initialBackoff * base^(k-1)}, multiplied by a random
 * factor in [0.5, 1.5) and capped by {@code maxBackoff} when it is set. {@code maxAttempts}
 * counts every attempt, the first one included, so 1 means no retry.
 *
 * @param maxAttempts attempts in total, 1 or more
 * @param initialBackoff delay before the second attempt, zero or more
 * @param base growth factor of the delay, 1 or more
 * @param maxBackoff upper bound of any single delay, or {@code null} for the server's bound only
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, double base, Duration maxBackoff) {
  public static final int DEFAULT_MAX_ATTEMPTS = 5;
  public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(250);
  public static final double DEFAULT_BASE = 2.0;

  public RetryPolicy {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException(
          "RetryPolicy.maxAttempts is " + maxAttempts + "; it counts every attempt including the"
              + " first, so use 1 or more (1 means no retry)");
    }
    Objects.requireNonNull(initialBackoff, "RetryPolicy.initialBackoff");
    if (initialBackoff.isNegative()) {
      throw new IllegalArgumentException(
          "RetryPolicy.initialBackoff is " + initialBackoff + "; use zero or more");
    }
    if (Double.isNaN(base) || base < 1) {
      throw new IllegalArgumentException(
          "RetryPolicy.base is " + base + "; use 1 or more (1 keeps the delay constant, 2"
              + " doubles it after each retry)");
    }
    if (maxBackoff != null && maxBackoff.isNegative()) {
      throw new IllegalArgumentException(
          "RetryPolicy.maxBackoff is " + maxBackoff + "; use zero or more");
    }
  }

  /** Returns the server's default policy: 5 attempts, 250 ms, base 2, no cap of its own. */
  public static RetryPolicy defaults() {
    return new RetryPolicy(DEFAULT_MAX_ATTEMPTS, DEFAULT_INITIAL_BACKOFF, DEFAULT_BASE, null);
  }

  /** Returns a builder that starts from {@link #defaults()}. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builder of a {@link RetryPolicy}; unset fields keep the server's defaults. */
  public static final class Builder {
    private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
    private Duration initialBackoff = DEFAULT_INITIAL_BACKOFF;
    private double base = DEFAULT_BASE;
    private Duration maxBackoff;

    private Builder() {}

    public Builder maxAttempts(int maxAttempts) {
      this.maxAttempts = maxAttempts;
      return this;
    }

    public Builder initialBackoff(Duration initialBackoff) {
      this.initialBackoff = initialBackoff;
      return this;
    }

    public Builder base(double base) {
      this.base = base;
      return this;
    }

    public Builder maxBackoff(Duration maxBackoff) {
      this.maxBackoff = maxBackoff;
      return this;
    }

    public RetryPolicy build() {
      return new RetryPolicy(maxAttempts, initialBackoff, base, maxBackoff);
    }
  }
}
