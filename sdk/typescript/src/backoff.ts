// Capped exponential backoff with jitter for reconnecting streams.

/**
 * Delays between reconnect attempts.
 *
 * The n-th delay since the last `reset` is `initialMs * multiplier ** n`
 * multiplied by a random factor in [0.5, 1.5), then capped by `maxMs`. The
 * jitter keeps many clients that lost the same server from reconnecting at
 * the same instant.
 */
export class Backoff {
  private failures = 0;

  constructor(
    readonly initialMs = 200,
    readonly maxMs = 10_000,
    readonly multiplier = 2,
    private readonly random: () => number = Math.random,
  ) {}

  /** Returns the delay in milliseconds before the next attempt and counts a failure. */
  nextDelayMs(): number {
    const exponent = Math.min(this.failures, 64);
    this.failures += 1;
    const delay = this.initialMs * this.multiplier ** exponent * (0.5 + this.random());
    return Math.min(delay, this.maxMs);
  }

  /** Starts again from the initial delay, after a successful connection. */
  reset(): void {
    this.failures = 0;
  }
}

/** Resolves after `ms`, or early with no error when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
