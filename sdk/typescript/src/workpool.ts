// Workpool: one pool declared in code, with the API of the TypeScript
// work-pool component, over a WorkpoolClient.

import type { WorkpoolClient } from "./client.js";
import { poolSettingsToProto } from "./convert.js";
import type {
  CancelAllResult,
  CancelOutcome,
  CircuitBreaker,
  Pool,
  PoolSettings,
  RateLimit,
  RetryOption,
  RetryPolicy,
  WorkItem,
  WorkStatus,
} from "./models.js";
import type { JsonValue } from "./values.js";

/** Options of a Workpool; settings left out keep the pool's current value. */
export interface WorkpoolOptions {
  /** Pool name: 1 to 128 letters, digits, '.', '_' and '-'. */
  pool: string;
  /** Largest number of items that run at once; 0 pauses the pool. */
  maxParallelism?: number;
  /** Whether items that pass no `retry` retry with `defaultRetryBehavior`. */
  retryActionsByDefault?: boolean;
  /** The pool's retry policy, used by `retry: true` and by default retries. */
  defaultRetryBehavior?: RetryPolicy;
  /** How long a finished item's status stays readable, in ms. */
  statusTtlMs?: number;
  /** Maximum number of items with the same concurrency key that run at once. */
  maxPerKey?: number;
  /** Waiting time that raises a ready item's priority by one, in ms. */
  priorityAgingMs?: number;
  /** Limit of starts per second across all servers. */
  rateLimit?: RateLimit;
  /** Attempt timeout of items that set none, in ms. */
  defaultAttemptTimeoutMs?: number;
  /** Pauses new starts while too many attempts fail. */
  circuitBreaker?: CircuitBreaker;
  /** Pool whose idle capacity this pool may borrow. */
  parent?: string;
}

// WorkpoolOptions keys that are PoolSettings under the same name.
const SAME_NAMED_SETTINGS = [
  "maxParallelism",
  "statusTtlMs",
  "maxPerKey",
  "priorityAgingMs",
  "rateLimit",
  "defaultAttemptTimeoutMs",
  "circuitBreaker",
  "parent",
] as const;

/** Options of enqueueAction and enqueueActionBatch. */
export interface EnqueueActionOptions {
  /** undefined: the pool's default; true: the pool's policy; false: one attempt. */
  retry?: RetryOption;
  /** Name of the follow-up function that receives the result and `context`. */
  onComplete?: string;
  /** Value passed through unchanged to the onComplete function. */
  context?: JsonValue;
  /** Earliest start, as a Date or in ms since the Unix epoch. */
  runAt?: Date | number;
  /** Earliest start, in ms after the server accepts the item. */
  runAfter?: number;
  /** Key unique within the pool: a repeat returns the first item's id. */
  idempotencyKey?: string;
  /** Items with the same key run at most the pool's `maxPerKey` at once. */
  concurrencyKey?: string;
  /** Higher starts first, from -1,000,000 to 1,000,000; default 0. */
  priority?: number;
  /** Maximum run time of one attempt, in ms; the pool's default when left out. */
  attemptTimeout?: number;
}

/**
 * One pool, declared in code.
 *
 * The options are applied to the pool on first use: the pool is created if
 * it is missing, and settings that differ are updated. Functions are the
 * names that workers register, such as "email.send", and onComplete names a
 * follow-up function that a worker registers with `worker.onComplete` or
 * `defineOnComplete`.
 */
export class Workpool {
  readonly pool: string;
  private readonly settings: PoolSettings;
  private ensured: Promise<Pool> | undefined;

  constructor(
    private readonly client: WorkpoolClient,
    options: WorkpoolOptions,
  ) {
    this.pool = options.pool;
    const settings: Record<string, unknown> = {};
    for (const key of SAME_NAMED_SETTINGS) {
      if (options[key] !== undefined) settings[key] = options[key];
    }
    this.settings = settings as PoolSettings;
    if (options.retryActionsByDefault !== undefined) {
      this.settings.retryByDefault = options.retryActionsByDefault;
    }
    if (options.defaultRetryBehavior !== undefined) {
      this.settings.defaultRetry = options.defaultRetryBehavior;
    }
    // Validate the settings now rather than on first use.
    poolSettingsToProto(this.pool, this.settings);
  }

  /** Applies the options to the pool now (once) and returns the pool. */
  ensurePool(): Promise<Pool> {
    if (this.ensured === undefined) {
      const ensuring = this.client.ensurePool(this.pool, this.settings);
      this.ensured = ensuring;
      // A failed attempt is retried on the next use.
      ensuring.catch(() => {
        if (this.ensured === ensuring) {
          this.ensured = undefined;
        }
      });
    }
    return this.ensured;
  }

  /** Enqueues one call of `fn` and returns its work id. */
  async enqueueAction(
    fn: string,
    args?: unknown,
    options: EnqueueActionOptions = {},
  ): Promise<string> {
    const item = actionItem(fn, args, options);
    await this.ensurePool();
    const result = await this.client.enqueueWithResult(this.pool, item);
    return result.workId;
  }

  /** Enqueues one call of `fn` per args, all or none; returns the ids in order. */
  async enqueueActionBatch(
    fn: string,
    argsList: readonly unknown[],
    options: Omit<EnqueueActionOptions, "idempotencyKey"> = {},
  ): Promise<string[]> {
    const items = argsList.map((args) => actionItem(fn, args, options));
    await this.ensurePool();
    return this.client.enqueueBatch(this.pool, items);
  }

  /** Returns the status of a work item, with `state` and `previousAttempts`. */
  status(workId: string): Promise<WorkStatus> {
    return this.client.status(workId);
  }

  /** Cancels a work item and returns what the cancel did. */
  cancel(workId: string): Promise<CancelOutcome> {
    return this.client.cancel(workId);
  }

  /** Cancels every item of this pool enqueued before the call. */
  async cancelAll(): Promise<CancelAllResult> {
    await this.ensurePool();
    return this.client.cancelAll(this.pool);
  }
}

function actionItem(fn: string, args: unknown, options: EnqueueActionOptions): WorkItem {
  if (options.onComplete === undefined && options.context !== undefined) {
    throw new TypeError(
      "context is set but onComplete is not; context is passed to the onComplete " +
        "function, so name that function too",
    );
  }

  const item: WorkItem = { function: fn, args };
  if (options.retry !== undefined) item.retry = options.retry;
  if (options.onComplete !== undefined) {
    item.onComplete = { function: options.onComplete, context: options.context ?? null };
  }
  if (options.runAt !== undefined) {
    item.runAt = typeof options.runAt === "number" ? new Date(options.runAt) : options.runAt;
  }
  if (options.runAfter !== undefined) item.runAfterMs = options.runAfter;
  if (options.idempotencyKey !== undefined) item.idempotencyKey = options.idempotencyKey;
  if (options.concurrencyKey !== undefined) item.concurrencyKey = options.concurrencyKey;
  if (options.priority !== undefined) item.priority = options.priority;
  if (options.attemptTimeout !== undefined) item.attemptTimeoutMs = options.attemptTimeout;
  return item;
}
