package dev.workpool;

import java.time.Duration;

/**
 * Pauses a pool's new starts while its attempts fail too often. A {@code null} duration or a
 * {@code minAttempts} of 0 takes the server's default: a 60 s window, 10 attempts and a 30 s
 * cool-down.
 *
 * @param failureRate fraction of failed attempts, above 0 and at most 1, that opens the breaker
 * @param window span of recent attempts the rate is computed over, or {@code null}
 * @param minAttempts fewest attempts in the window before the rate counts, or 0
 * @param coolDown time the breaker stays open before one probe attempt, or {@code null}
 */
public record CircuitBreaker(
    double failureRate, Duration window, int minAttempts, Duration coolDown) {
  public CircuitBreaker {
    if (!(failureRate > 0 && failureRate <= 1)) {
      throw new IllegalArgumentException(
          "failureRate is " + failureRate + "; use a fraction above 0 and at most 1, such as 0.5");
    }
    if (minAttempts < 0) {
      throw new IllegalArgumentException(
          "minAttempts is " + minAttempts + "; use 0 (the default of 10) or more");
    }
    requirePositive(window, "window");
    requirePositive(coolDown, "coolDown");
  }

  /** Returns a breaker that opens at {@code failureRate}, with the server's other defaults. */
  public static CircuitBreaker of(double failureRate) {
    return new CircuitBreaker(failureRate, null, 0, null);
  }

  private static void requirePositive(Duration duration, String name) {
    if (duration != null && (duration.isNegative() || duration.isZero())) {
      throw new IllegalArgumentException(
          name + " is " + duration + "; use a positive duration, or null for the default");
    }
  }
}
