package dev.workpool;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Capped exponential backoff with jitter between reconnect attempts.
 *
 * <p>The n-th delay since the last {@link #reset()} is {@code initial * 2^n} times a random factor
 * in [0.5, 1.5), capped by {@code maximum}. The jitter keeps many clients that lost the same
 * server from reconnecting at the same instant.
 */
final class Backoff {
  private final long initialMillis;
  private final long maximumMillis;
  private int failures;

  Backoff(Duration initial, Duration maximum) {
    this.initialMillis = initial.toMillis();
    this.maximumMillis = maximum.toMillis();
  }

  /** Returns the delay before the next attempt and counts a failure. */
  synchronized Duration nextDelay() {
    int exponent = Math.min(failures, 30);
    failures++;
    double delay = initialMillis * Math.pow(2, exponent);
    delay *= 0.5 + ThreadLocalRandom.current().nextDouble();
    return Duration.ofMillis((long) Math.min(delay, maximumMillis));
  }

  /** Starts again from the initial delay, after a successful connection. */
  synchronized void reset() {
    failures = 0;
  }
}
