package dev.workpool;

/** State of a pool's circuit breaker. */
public enum CircuitState {
  /** The pool has no breaker, or the server sent no state. */
  UNSPECIFIED,
  /** Attempts start normally. */
  CLOSED,
  /** New starts are paused until the cool-down ends. */
  OPEN,
  /** One probe attempt runs; its success closes the breaker, its failure opens it again. */
  HALF_OPEN
}
