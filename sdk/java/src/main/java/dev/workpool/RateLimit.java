package dev.workpool;

/**
 * Token bucket that limits how fast a pool starts items, across all server replicas.
 *
 * @param perSecond tokens added per second, above 0
 * @param burst maximum tokens held, the starts allowed in one burst; 0 means 1
 */
public record RateLimit(double perSecond, int burst) {
  public RateLimit {
    if (!(perSecond > 0) || Double.isInfinite(perSecond)) {
      throw new IllegalArgumentException(
          "perSecond is " + perSecond + "; use a finite rate above 0, such as 5.0");
    }
    if (burst < 0) {
      throw new IllegalArgumentException("burst is " + burst + "; use 0 (a burst of 1) or more");
    }
  }

  /** Returns a limit of {@code perSecond} starts a second with a burst of 1. */
  public static RateLimit perSecond(double perSecond) {
    return new RateLimit(perSecond, 0);
  }
}
