// Domain types of the SDK: plain objects and string unions, no protobuf.
// Durations are milliseconds and instants are Dates throughout.

import type { JsonValue } from "./values.js";

/** Attempts of a retry policy whose max_attempts the server left unset. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Delay before the second attempt when a policy leaves it unset. */
export const DEFAULT_INITIAL_BACKOFF_MS = 250;
/** Growth factor of the delay when a policy leaves it unset. */
export const DEFAULT_BACKOFF_BASE = 2;
/** max_parallelism of a pool created without one. */
export const DEFAULT_MAX_PARALLELISM = 10;
/** How long a finished item's status stays readable by default: 24 hours. */
export const DEFAULT_STATUS_TTL_MS = 24 * 60 * 60 * 1000;
/** Waiting time that raises a ready item's priority by one when a pool sets none. */
export const DEFAULT_PRIORITY_AGING_MS = 1000;

/**
 * How often and how soon a failed work item runs again.
 *
 * The delay before attempt k+1 is `initialBackoffMs * base ** (k - 1)`,
 * multiplied by a random factor in [0.5, 1.5) and capped by `maxBackoffMs`
 * when it is set. `maxAttempts` counts every attempt, the first one
 * included, so 1 means no retry. Fields left out take the defaults above
 * when the SDK sends the policy.
 */
export interface RetryPolicy {
  maxAttempts?: number;
  initialBackoffMs?: number;
  base?: number;
  maxBackoffMs?: number;
}

/**
 * The `retry` option of enqueue calls: undefined applies the pool's default,
 * true the pool's retry policy, false a single attempt, and a RetryPolicy a
 * policy for this item alone.
 */
export type RetryOption = boolean | RetryPolicy | undefined;

/**
 * A follow-up function that runs once when a work item finishes, in the same
 * pool, with the args `{work_id, context, result}`.
 */
export interface OnComplete {
  function: string;
  context?: JsonValue;
}

/** Options of one enqueued item. Pass `runAt` or `runAfterMs`, not both. */
export interface EnqueueOptions {
  retry?: RetryOption;
  onComplete?: OnComplete;
  /** Earliest start time; a time in the past runs now. */
  runAt?: Date;
  /** Earliest start, in milliseconds after the server accepts the item. */
  runAfterMs?: number;
  /** Key unique within the pool: a repeat returns the first item's id. */
  idempotencyKey?: string;
  /**
   * Items of the pool with the same key run at most the pool's `maxPerKey` at
   * once; 1 to 256 characters.
   */
  concurrencyKey?: string;
  /**
   * Higher starts first within the pool, from -1,000,000 to 1,000,000
   * (default 0). Waiting raises it by one per the pool's `priorityAgingMs`.
   */
  priority?: number;
  /**
   * Maximum run time of one attempt, in ms. Past it the server cancels the attempt
   * (reason "timeout") and ends it as a failure that the retry policy may
   * retry. Undefined applies the pool's `defaultAttemptTimeoutMs`.
   */
  attemptTimeoutMs?: number;
}

/** One work item of an enqueueBatch call. */
export interface WorkItem extends EnqueueOptions {
  function: string;
  args?: unknown;
}

/** Result of enqueueWithResult: the work id and the enqueue's log position. */
export interface EnqueueResult {
  workId: string;
  /** True when the idempotency key matched an earlier item. */
  deduplicated: boolean;
  /**
   * Completion log sequence at the time of the enqueue: a watch with this
   * `afterSequence` cannot miss the item's completion.
   */
  completionSequence: number;
}

/** Lifecycle state of a work item. Only statusBatch returns "not_found". */
export type WorkState = "pending" | "running" | "finished" | "not_found";

/** Final result of a work item. */
export type Result =
  | { kind: "success"; returnValue: JsonValue }
  | { kind: "failure"; error: string; nonRetryable: boolean }
  | { kind: "canceled" };

/** Snapshot of one work item. */
export interface WorkStatus {
  workId: string;
  state: WorkState;
  /** Attempts that have ended, not counting a running one. */
  previousAttempts: number;
  /** Set only when the state is "finished". */
  result?: Result;
  pool: string;
  function: string;
  enqueuedAt?: Date;
  /** Earliest start of the next attempt, set while pending. */
  readyAt?: Date;
  finishedAt?: Date;
  /** Error of the most recent failed attempt, if any. */
  lastError?: string;
  /** Concurrency key from the enqueue, or "" when none. */
  concurrencyKey: string;
  /** Priority from the enqueue, without aging. */
  priority: number;
  /** Attempts that ended with a continuation; previousAttempts counts them too. */
  continuations: number;
}

/** One entry of the completion log: a work item's final result. */
export interface Completion {
  /** Position in the log, gap-free and increasing by one per completion. */
  sequence: number;
  workId: string;
  pool: string;
  function: string;
  result: Result;
  /** Context given in the item's onComplete, or null. */
  context: JsonValue;
  /** Attempts the item made, 0 when it was canceled before it started. */
  attempts: number;
  /** Attempts that ended with a continuation; `attempts` counts them too. */
  continuations: number;
  finishedAt?: Date;
}

/** Args of an on_complete follow-up: which item finished, and how. */
export interface CompletionEvent<Context extends JsonValue = JsonValue> {
  workId: string;
  context: Context;
  result: Result;
}

/** Outcome of a cancel request. */
export type CancelOutcome =
  | "canceled"
  | "cancel_requested"
  | "already_finished"
  | "not_found";

/** Counts of what cancelAll did. */
export interface CancelAllResult {
  /** Pending items now finished as canceled. */
  canceledCount: number;
  /** Running items whose workers got a cancel request. */
  cancelRequestedCount: number;
}

/** State of a pool's circuit breaker; "unspecified" when it has none. */
export type CircuitState = "closed" | "open" | "half_open" | "unspecified";

/** Counts of a pool's unfinished items and the state of its breaker. */
export interface PoolStats {
  pendingCount: number;
  runningCount: number;
  circuitState: CircuitState;
  /** End of the cool-down while the breaker is open. */
  circuitOpenUntil?: Date;
  /** Items running on capacity borrowed from the parent pool. */
  borrowedCount: number;
}

/** Token bucket that limits how fast a pool starts items. */
export interface RateLimit {
  /** Tokens added per second; must be above 0. */
  perSecond: number;
  /** Maximum tokens held, the starts allowed in one burst; 0 or undefined means 1. */
  burst?: number;
}

/**
 * Pauses a pool's new starts while its attempts fail too often. Fields left
 * out take the server's defaults: a 60 s window, 10 attempts and a 30 s
 * cool-down.
 */
export interface CircuitBreaker {
  /** Fraction of failed attempts, above 0 and at most 1, that opens the breaker. */
  failureRate: number;
  /** Span of recent attempts the rate is computed over, in ms. */
  windowMs?: number;
  /** Fewest attempts in the window before the rate counts. */
  minAttempts?: number;
  /** Time the breaker stays open before one probe attempt, in ms. */
  coolDownMs?: number;
}

/** A named queue and its settings; `stats` is set only by getPool. */
export interface Pool {
  name: string;
  /** Largest number of items that run at once; 0 pauses the pool. */
  maxParallelism: number;
  retryByDefault: boolean;
  defaultRetry: Required<Omit<RetryPolicy, "maxBackoffMs">> & { maxBackoffMs?: number };
  statusTtlMs: number;
  keepStatusForever: boolean;
  /** Maximum number of items with the same concurrency key that run at once; 0 is no limit. */
  maxPerKey: number;
  /** Waiting time that raises a ready item's priority by one, in ms. */
  priorityAgingMs: number;
  rateLimit?: RateLimit;
  /** Attempt timeout of items that set none, in ms; undefined is none. */
  defaultAttemptTimeoutMs?: number;
  circuitBreaker?: CircuitBreaker;
  /** Pool whose idle capacity this pool borrows, or "" when none. */
  parent: string;
  stats?: PoolStats;
}

/**
 * Settings of createPool, updatePool and ensurePool. An undefined setting is
 * left alone. In updatePool, null restores the server's default for
 * `defaultRetry`, `statusTtlMs`, `maxPerKey`, `priorityAgingMs` and
 * `defaultAttemptTimeoutMs`, and removes `rateLimit`, `circuitBreaker` and
 * `parent`.
 */
export interface PoolSettings {
  maxParallelism?: number;
  retryByDefault?: boolean;
  defaultRetry?: RetryPolicy | null;
  statusTtlMs?: number | null;
  keepStatusForever?: boolean;
  maxPerKey?: number | null;
  priorityAgingMs?: number | null;
  rateLimit?: RateLimit | null;
  defaultAttemptTimeoutMs?: number | null;
  circuitBreaker?: CircuitBreaker | null;
  parent?: string | null;
}

/** Reason a work item is not running now, as Explain reports it. */
export type WaitReason =
  | "pool_paused"
  | "pool_at_limit"
  | "scheduled"
  | "backing_off"
  | "no_worker"
  | "workers_busy"
  | "queued"
  | "running"
  | "finished"
  | "key_at_limit"
  | "rate_limited"
  | "circuit_open"
  | "unspecified";

/** Result of explain: the reason a work item waits and the facts behind it. */
export interface Explanation {
  reason: WaitReason;
  /** The reason in a sentence for people, with the ids and times involved. */
  detail: string;
  status?: WorkStatus;
  /** End of the wait, for "scheduled" and "backing_off". */
  until?: Date;
  /** Running items, at most 20, for "pool_at_limit" and "key_at_limit". */
  runningWorkIds: string[];
  /** Worker stream that holds the lease, for "running". */
  workerId: string;
  /** Start of the running attempt, for "running". */
  since?: Date;
  /** Ready items of the same pool and function that start first. */
  aheadCount: number;
}
