// Conversions between the SDK's domain types and the generated messages.
// The client and the worker build requests and read responses only through
// this module, so each rule about the wire format lives in one place.

import { create } from "@bufbuild/protobuf";
import {
  DurationSchema,
  FieldMaskSchema,
  TimestampSchema,
  type Duration,
  type Timestamp,
} from "@bufbuild/protobuf/wkt";

import {
  UpdatePoolRequestSchema,
  type UpdatePoolRequest,
} from "../gen/workpool/v1/pool_service_pb.js";
import {
  CircuitBreakerSchema,
  CircuitState as ProtoCircuitState,
  OnCompleteSchema,
  PoolSchema,
  RateLimitSchema,
  RetryPolicySchema,
  WorkSpecSchema,
  WorkState as ProtoWorkState,
  type CircuitBreaker as ProtoCircuitBreaker,
  type Completion as ProtoCompletion,
  type Pool as ProtoPool,
  type PoolStats as ProtoPoolStats,
  type Result as ProtoResult,
  type RetryPolicy as ProtoRetryPolicy,
  type WorkSpec,
  type WorkStatus as ProtoWorkStatus,
} from "../gen/workpool/v1/types_pb.js";
import {
  CancelOutcome as ProtoCancelOutcome,
  WaitReason as ProtoWaitReason,
  type ExplainResponse,
  WatchCompletionsRequestSchema,
  type WatchCompletionsRequest,
} from "../gen/workpool/v1/workpool_service_pb.js";
import { WorkpoolError } from "./errors.js";
import {
  DEFAULT_BACKOFF_BASE,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_PARALLELISM,
  DEFAULT_PRIORITY_AGING_MS,
  DEFAULT_STATUS_TTL_MS,
  type CancelOutcome,
  type CircuitBreaker,
  type CircuitState,
  type Completion,
  type Explanation,
  type OnComplete,
  type Pool,
  type PoolSettings,
  type RateLimit,
  type Result,
  type RetryPolicy,
  type WaitReason,
  type WorkItem,
  type WorkState,
  type WorkStatus,
} from "./models.js";
import { fromValue, toValue } from "./values.js";

// Times and durations.

/**
 * Converts milliseconds to a Duration. Negative values are sent as they are,
 * so the server rejects them with a field violation where it must.
 */
export function toDuration(ms: number, name: string): Duration {
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new TypeError(`${name} must be a finite number of milliseconds, got ${String(ms)}`);
  }
  // Seconds and nanos carry the same sign, as the Duration type requires.
  const seconds = Math.trunc(ms / 1000);
  return create(DurationSchema, {
    seconds: BigInt(seconds),
    nanos: Math.round((ms - seconds * 1000) * 1_000_000),
  });
}

/** Converts a Duration to milliseconds. */
export function fromDuration(duration: Duration): number {
  return Number(duration.seconds) * 1000 + duration.nanos / 1_000_000;
}

/** Converts a valid Date to a Timestamp. */
export function toTimestamp(moment: Date, name: string): Timestamp {
  if (!(moment instanceof Date) || Number.isNaN(moment.getTime())) {
    throw new TypeError(`${name} must be a valid Date, got ${String(moment)}`);
  }
  const ms = moment.getTime();
  const seconds = Math.floor(ms / 1000);
  return create(TimestampSchema, {
    seconds: BigInt(seconds),
    nanos: (ms - seconds * 1000) * 1_000_000,
  });
}

/** Converts a Timestamp to a Date, or undefined when it is unset. */
export function fromTimestamp(timestamp: Timestamp | undefined): Date | undefined {
  if (timestamp === undefined) {
    return undefined;
  }
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000));
}

// Requests.

/** Converts a RetryPolicy, setting every field so no server default applies. */
export function retryPolicyToProto(policy: RetryPolicy, name = "retry"): ProtoRetryPolicy {
  if (typeof policy !== "object" || policy === null) {
    throw new TypeError(`${name} must be a RetryPolicy object, got ${String(policy)}`);
  }
  // Ranges (maxAttempts of 1 or more, base of 1 or more) are the server's
  // to check, so every SDK reports them with the same field violations.
  const maxAttempts = policy.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || Math.abs(maxAttempts) > 2 ** 31 - 1) {
    throw new TypeError(`${name}.maxAttempts must be a 32-bit integer, got ${maxAttempts}`);
  }
  const base = policy.base ?? DEFAULT_BACKOFF_BASE;
  if (typeof base !== "number") {
    throw new TypeError(`${name}.base must be a number, got ${String(base)}`);
  }

  const message = create(RetryPolicySchema, {
    maxAttempts,
    base,
    initialBackoff: toDuration(
      policy.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
      `${name}.initialBackoffMs`,
    ),
  });
  if (policy.maxBackoffMs !== undefined) {
    message.maxBackoff = toDuration(policy.maxBackoffMs, `${name}.maxBackoffMs`);
  }
  return message;
}

/** Converts a WorkItem to a WorkSpec; `name` prefixes error messages. */
export function workItemToSpec(item: WorkItem, name = "work"): WorkSpec {
  // An empty function name is left to the server, which names the field.
  checkString(item.function, `${name}.function`);
  const spec = create(WorkSpecSchema, {
    function: item.function,
    args: toValue(item.args, `${name}.args`),
  });

  const retry = item.retry;
  if (typeof retry === "boolean") {
    spec.retry = { case: "retryEnabled", value: retry };
  } else if (retry !== undefined && retry !== null) {
    if (typeof retry !== "object") {
      throw new TypeError(
        `${name}.retry must be undefined, true, false or a RetryPolicy, got ${String(retry)}`,
      );
    }
    spec.retry = { case: "retryPolicy", value: retryPolicyToProto(retry, `${name}.retry`) };
  }

  if (item.onComplete !== undefined) {
    spec.onComplete = onCompleteToProto(item.onComplete, name);
  }

  if (item.runAt !== undefined && item.runAfterMs !== undefined) {
    throw new TypeError(`${name} sets both runAt and runAfterMs; pass only one of them`);
  }
  if (item.runAt !== undefined) {
    spec.schedule = { case: "runAt", value: toTimestamp(item.runAt, `${name}.runAt`) };
  } else if (item.runAfterMs !== undefined) {
    spec.schedule = {
      case: "runAfter",
      value: toDuration(item.runAfterMs, `${name}.runAfterMs`),
    };
  }

  if (item.idempotencyKey !== undefined) {
    spec.idempotencyKey = item.idempotencyKey;
  }

  // Lengths and ranges are the server's to check, as for retry policies.
  if (item.concurrencyKey !== undefined) {
    checkString(item.concurrencyKey, `${name}.concurrencyKey`);
    spec.concurrencyKey = item.concurrencyKey;
  }
  if (item.priority !== undefined) {
    checkInt32(item.priority, `${name}.priority`);
    spec.priority = item.priority;
  }
  if (item.attemptTimeoutMs !== undefined) {
    spec.attemptTimeout = toDuration(item.attemptTimeoutMs, `${name}.attemptTimeoutMs`);
  }
  return spec;
}

function onCompleteToProto(onComplete: OnComplete, name: string) {
  if (typeof onComplete !== "object" || onComplete === null) {
    throw new TypeError(
      `${name}.onComplete must be an object such as {function: "email.done", context}`,
    );
  }
  checkString(onComplete.function, `${name}.onComplete.function`);
  return create(OnCompleteSchema, {
    function: onComplete.function,
    context: toValue(onComplete.context, `${name}.onComplete.context`),
  });
}

/** Builds a WatchCompletionsRequest; undefined leaves afterSequence unset. */
export function watchRequest(
  pools: readonly string[],
  workIds: readonly string[],
  afterSequence: number | undefined,
): WatchCompletionsRequest {
  checkStringList(pools, "pools");
  checkStringList(workIds, "workIds");
  const request = create(WatchCompletionsRequestSchema, {
    pools: [...pools],
    workIds: [...workIds],
  });
  if (afterSequence !== undefined) {
    if (!Number.isSafeInteger(afterSequence) || afterSequence < 0) {
      throw new RangeError(
        `afterSequence is ${afterSequence}; use a sequence of 0 or more, or leave it out`,
      );
    }
    request.afterSequence = BigInt(afterSequence);
  }
  return request;
}

// Settings of a pool, in the order update masks list them, with their
// field names in the proto.
const POOL_SETTING_PATHS: readonly [keyof PoolSettings, string][] = [
  ["maxParallelism", "max_parallelism"],
  ["retryByDefault", "retry_by_default"],
  ["defaultRetry", "default_retry"],
  ["statusTtlMs", "status_ttl"],
  ["keepStatusForever", "keep_status_forever"],
  ["maxPerKey", "max_per_key"],
  ["priorityAgingMs", "priority_aging"],
  ["rateLimit", "rate_limit"],
  ["defaultAttemptTimeoutMs", "default_attempt_timeout"],
  ["circuitBreaker", "circuit_breaker"],
  ["parent", "parent"],
];

// Settings that accept null in updatePool: the field stays in the mask
// unset, which restores the server's default or removes the setting.
const NULLABLE_POOL_SETTINGS: ReadonlySet<keyof PoolSettings> = new Set<keyof PoolSettings>([
  "defaultRetry",
  "statusTtlMs",
  "maxPerKey",
  "priorityAgingMs",
  "rateLimit",
  "defaultAttemptTimeoutMs",
  "circuitBreaker",
  "parent",
]);

/**
 * Builds a Pool message from settings and lists the proto paths they set,
 * which are the update mask of an UpdatePool call. A null setting stays in
 * the mask with the field unset, which restores the server's default.
 */
export function poolSettingsToProto(
  name: string,
  settings: PoolSettings,
): { pool: ProtoPool; paths: string[] } {
  checkNonEmpty(name, "pool name");
  const known = new Set<string>(POOL_SETTING_PATHS.map(([key]) => key));
  for (const key of Object.keys(settings)) {
    if (!known.has(key)) {
      throw new TypeError(
        `unknown pool setting ${key}; valid settings are ${[...known].join(", ")}`,
      );
    }
  }

  const pool = create(PoolSchema, { name });
  const paths: string[] = [];
  for (const [key, path] of POOL_SETTING_PATHS) {
    const value = settings[key];
    if (value === undefined) {
      continue;
    }
    paths.push(path);
    setPoolSetting(pool, key, value);
  }
  return { pool, paths };
}

function setPoolSetting(pool: ProtoPool, key: keyof PoolSettings, value: unknown): void {
  if (value === null) {
    if (NULLABLE_POOL_SETTINGS.has(key)) {
      return;
    }
    throw new TypeError(`pool setting ${key} cannot be null; pass a value`);
  }

  switch (key) {
    case "maxParallelism":
      if (!Number.isInteger(value) || Math.abs(value as number) > 2 ** 31 - 1) {
        throw new TypeError(`maxParallelism must be a 32-bit integer, got ${String(value)}`);
      }
      pool.maxParallelism = value as number;
      break;
    case "retryByDefault":
    case "keepStatusForever":
      if (typeof value !== "boolean") {
        throw new TypeError(`${key} must be a boolean, got ${String(value)}`);
      }
      pool[key] = value;
      break;
    case "defaultRetry":
      pool.defaultRetry = retryPolicyToProto(value as RetryPolicy, "defaultRetry");
      break;
    case "statusTtlMs":
      pool.statusTtl = toDuration(value as number, "statusTtlMs");
      break;
    case "maxPerKey":
      checkInt32(value, "maxPerKey");
      pool.maxPerKey = value as number;
      break;
    case "priorityAgingMs":
      pool.priorityAging = toDuration(value as number, "priorityAgingMs");
      break;
    case "rateLimit":
      pool.rateLimit = rateLimitToProto(value as RateLimit);
      break;
    case "defaultAttemptTimeoutMs":
      pool.defaultAttemptTimeout = toDuration(value as number, "defaultAttemptTimeoutMs");
      break;
    case "circuitBreaker":
      pool.circuitBreaker = circuitBreakerToProto(value as CircuitBreaker);
      break;
    case "parent":
      checkString(value, "parent");
      pool.parent = value as string;
      break;
  }
}

function rateLimitToProto(limit: RateLimit) {
  if (typeof limit !== "object" || limit === null) {
    throw new TypeError(`rateLimit must be an object such as {perSecond: 5}, got ${String(limit)}`);
  }
  if (typeof limit.perSecond !== "number") {
    throw new TypeError(`rateLimit.perSecond must be a number, got ${String(limit.perSecond)}`);
  }
  const message = create(RateLimitSchema, { perSecond: limit.perSecond });
  if (limit.burst !== undefined) {
    checkInt32(limit.burst, "rateLimit.burst");
    message.burst = limit.burst;
  }
  return message;
}

function circuitBreakerToProto(breaker: CircuitBreaker) {
  if (typeof breaker !== "object" || breaker === null) {
    throw new TypeError(
      `circuitBreaker must be an object such as {failureRate: 0.5}, got ${String(breaker)}`,
    );
  }
  if (typeof breaker.failureRate !== "number") {
    throw new TypeError(
      `circuitBreaker.failureRate must be a number, got ${String(breaker.failureRate)}`,
    );
  }
  const message = create(CircuitBreakerSchema, { failureRate: breaker.failureRate });
  if (breaker.windowMs !== undefined) {
    message.window = toDuration(breaker.windowMs, "circuitBreaker.windowMs");
  }
  if (breaker.minAttempts !== undefined) {
    checkInt32(breaker.minAttempts, "circuitBreaker.minAttempts");
    message.minAttempts = breaker.minAttempts;
  }
  if (breaker.coolDownMs !== undefined) {
    message.coolDown = toDuration(breaker.coolDownMs, "circuitBreaker.coolDownMs");
  }
  return message;
}

/** Builds an UpdatePoolRequest whose mask names exactly the given settings. */
export function updatePoolRequest(name: string, settings: PoolSettings): UpdatePoolRequest {
  const { pool, paths } = poolSettingsToProto(name, settings);
  if (paths.length === 0) {
    throw new TypeError(
      "updatePool needs at least one setting to change, such as {maxParallelism: 5}",
    );
  }
  return create(UpdatePoolRequestSchema, {
    pool,
    updateMask: create(FieldMaskSchema, { paths }),
  });
}

/**
 * Returns the settings whose value differs from `pool`. Undefined settings
 * are not compared, so an existing pool keeps its value.
 */
export function poolSettingsThatDiffer(pool: Pool, settings: PoolSettings): PoolSettings {
  const changed: PoolSettings = {};
  if (settings.maxParallelism !== undefined && settings.maxParallelism !== pool.maxParallelism) {
    changed.maxParallelism = settings.maxParallelism;
  }
  if (settings.retryByDefault !== undefined && settings.retryByDefault !== pool.retryByDefault) {
    changed.retryByDefault = settings.retryByDefault;
  }
  if (
    settings.keepStatusForever !== undefined &&
    settings.keepStatusForever !== pool.keepStatusForever
  ) {
    changed.keepStatusForever = settings.keepStatusForever;
  }
  if (settings.statusTtlMs != null && settings.statusTtlMs !== pool.statusTtlMs) {
    changed.statusTtlMs = settings.statusTtlMs;
  }
  if (settings.defaultRetry != null && !sameRetryPolicy(settings.defaultRetry, pool.defaultRetry)) {
    changed.defaultRetry = settings.defaultRetry;
  }
  if (settings.maxPerKey != null && settings.maxPerKey !== pool.maxPerKey) {
    changed.maxPerKey = settings.maxPerKey;
  }
  if (settings.priorityAgingMs != null && settings.priorityAgingMs !== pool.priorityAgingMs) {
    changed.priorityAgingMs = settings.priorityAgingMs;
  }
  if (
    settings.defaultAttemptTimeoutMs != null &&
    settings.defaultAttemptTimeoutMs !== pool.defaultAttemptTimeoutMs
  ) {
    changed.defaultAttemptTimeoutMs = settings.defaultAttemptTimeoutMs;
  }
  if (settings.rateLimit != null && !sameRateLimit(settings.rateLimit, pool.rateLimit)) {
    changed.rateLimit = settings.rateLimit;
  }
  if (
    settings.circuitBreaker != null &&
    !sameCircuitBreaker(settings.circuitBreaker, pool.circuitBreaker)
  ) {
    changed.circuitBreaker = settings.circuitBreaker;
  }
  if (settings.parent != null && settings.parent !== pool.parent) {
    changed.parent = settings.parent;
  }
  return changed;
}

function sameRateLimit(requested: RateLimit, current: RateLimit | undefined): boolean {
  return (
    current !== undefined &&
    requested.perSecond === current.perSecond &&
    (requested.burst ?? 0) === (current.burst ?? 0)
  );
}

// Fields left out of `requested` take the server's default, so they match
// whatever the pool holds.
function sameCircuitBreaker(requested: CircuitBreaker, current: CircuitBreaker | undefined): boolean {
  return (
    current !== undefined &&
    requested.failureRate === current.failureRate &&
    (requested.windowMs === undefined || requested.windowMs === current.windowMs) &&
    (requested.minAttempts === undefined || requested.minAttempts === current.minAttempts) &&
    (requested.coolDownMs === undefined || requested.coolDownMs === current.coolDownMs)
  );
}

function sameRetryPolicy(requested: RetryPolicy, current: Pool["defaultRetry"]): boolean {
  return (
    (requested.maxAttempts ?? DEFAULT_MAX_ATTEMPTS) === current.maxAttempts &&
    (requested.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS) === current.initialBackoffMs &&
    (requested.base ?? DEFAULT_BACKOFF_BASE) === current.base &&
    requested.maxBackoffMs === current.maxBackoffMs
  );
}

function checkString(value: unknown, name: string): void {
  if (typeof value !== "string") {
    throw new TypeError(`${name} must be a string, got ${JSON.stringify(value)}`);
  }
}

function checkInt32(value: unknown, name: string): void {
  if (!Number.isInteger(value) || Math.abs(value as number) > 2 ** 31 - 1) {
    throw new TypeError(`${name} must be a 32-bit integer, got ${String(value)}`);
  }
}

function checkNonEmpty(value: unknown, name: string): void {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
}

function checkStringList(values: readonly string[], name: string): void {
  if (!Array.isArray(values)) {
    throw new TypeError(`${name} must be an array of strings`);
  }
  values.forEach((value, index) => {
    if (typeof value !== "string") {
      throw new TypeError(`${name}[${index}] must be a string, got ${String(value)}`);
    }
  });
}

// Responses.

const WORK_STATES: Partial<Record<ProtoWorkState, WorkState>> = {
  [ProtoWorkState.PENDING]: "pending",
  [ProtoWorkState.RUNNING]: "running",
  [ProtoWorkState.FINISHED]: "finished",
  [ProtoWorkState.NOT_FOUND]: "not_found",
};

const CIRCUIT_STATES: Record<ProtoCircuitState, CircuitState> = {
  [ProtoCircuitState.UNSPECIFIED]: "unspecified",
  [ProtoCircuitState.CLOSED]: "closed",
  [ProtoCircuitState.OPEN]: "open",
  [ProtoCircuitState.HALF_OPEN]: "half_open",
};

const CANCEL_OUTCOMES: Partial<Record<ProtoCancelOutcome, CancelOutcome>> = {
  [ProtoCancelOutcome.CANCELED]: "canceled",
  [ProtoCancelOutcome.CANCEL_REQUESTED]: "cancel_requested",
  [ProtoCancelOutcome.ALREADY_FINISHED]: "already_finished",
  [ProtoCancelOutcome.NOT_FOUND]: "not_found",
};

/** Converts a RetryPolicy message, filling unset fields with the defaults. */
export function retryPolicyFromProto(message: ProtoRetryPolicy | undefined): Pool["defaultRetry"] {
  const policy: Pool["defaultRetry"] = {
    maxAttempts: message?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    initialBackoffMs:
      message?.initialBackoff !== undefined
        ? fromDuration(message.initialBackoff)
        : DEFAULT_INITIAL_BACKOFF_MS,
    base: message?.base ?? DEFAULT_BACKOFF_BASE,
  };
  if (message?.maxBackoff !== undefined) {
    policy.maxBackoffMs = fromDuration(message.maxBackoff);
  }
  return policy;
}

/** Converts a Result message, or returns undefined when no outcome is set. */
export function resultFromProto(message: ProtoResult | undefined): Result | undefined {
  const outcome = message?.outcome;
  switch (outcome?.case) {
    case "success":
      return { kind: "success", returnValue: fromValue(outcome.value.returnValue) };
    case "failure":
      return {
        kind: "failure",
        error: outcome.value.error,
        nonRetryable: outcome.value.nonRetryable,
      };
    case "canceled":
      return { kind: "canceled" };
    default:
      return undefined;
  }
}

/** Converts a WorkStatus message. */
export function statusFromProto(message: ProtoWorkStatus): WorkStatus {
  const state = WORK_STATES[message.state];
  if (state === undefined) {
    throw new WorkpoolError(
      `server sent the unknown work state ${message.state} for ${message.workId}; ` +
        "upgrade the workpool SDK",
    );
  }

  const status: WorkStatus = {
    workId: message.workId,
    state,
    previousAttempts: message.previousAttempts,
    pool: message.pool,
    function: message.function,
    concurrencyKey: message.concurrencyKey,
    priority: message.priority,
    continuations: message.continuations,
  };
  const result = resultFromProto(message.result);
  if (result !== undefined) status.result = result;
  const enqueuedAt = fromTimestamp(message.enqueuedAt);
  if (enqueuedAt !== undefined) status.enqueuedAt = enqueuedAt;
  const readyAt = fromTimestamp(message.readyAt);
  if (readyAt !== undefined) status.readyAt = readyAt;
  const finishedAt = fromTimestamp(message.finishedAt);
  if (finishedAt !== undefined) status.finishedAt = finishedAt;
  if (message.lastError !== "") status.lastError = message.lastError;
  return status;
}

/** Converts a Completion message; one without a result is a server bug. */
export function completionFromProto(message: ProtoCompletion): Completion {
  const result = resultFromProto(message.result);
  if (result === undefined) {
    throw new WorkpoolError(
      `server sent completion ${message.sequence} of ${message.workId} without a result`,
    );
  }
  const completion: Completion = {
    sequence: Number(message.sequence),
    workId: message.workId,
    pool: message.pool,
    function: message.function,
    result,
    context: fromValue(message.context),
    attempts: message.attempts,
    continuations: message.continuations,
  };
  const finishedAt = fromTimestamp(message.finishedAt);
  if (finishedAt !== undefined) completion.finishedAt = finishedAt;
  return completion;
}

/** Converts a Pool message, filling unset settings with their defaults. */
export function poolFromProto(message: ProtoPool, stats?: ProtoPoolStats): Pool {
  const pool: Pool = {
    name: message.name,
    maxParallelism: message.maxParallelism ?? DEFAULT_MAX_PARALLELISM,
    retryByDefault: message.retryByDefault,
    defaultRetry: retryPolicyFromProto(message.defaultRetry),
    statusTtlMs:
      message.statusTtl !== undefined ? fromDuration(message.statusTtl) : DEFAULT_STATUS_TTL_MS,
    keepStatusForever: message.keepStatusForever,
    maxPerKey: message.maxPerKey ?? 0,
    priorityAgingMs:
      message.priorityAging !== undefined
        ? fromDuration(message.priorityAging)
        : DEFAULT_PRIORITY_AGING_MS,
    parent: message.parent,
  };
  if (message.rateLimit !== undefined) {
    pool.rateLimit = { perSecond: message.rateLimit.perSecond, burst: message.rateLimit.burst };
  }
  if (message.defaultAttemptTimeout !== undefined) {
    pool.defaultAttemptTimeoutMs = fromDuration(message.defaultAttemptTimeout);
  }
  if (message.circuitBreaker !== undefined) {
    pool.circuitBreaker = circuitBreakerFromProto(message.circuitBreaker);
  }
  if (stats !== undefined) {
    pool.stats = {
      pendingCount: Number(stats.pendingCount),
      runningCount: Number(stats.runningCount),
      circuitState: CIRCUIT_STATES[stats.circuitState] ?? "unspecified",
      borrowedCount: Number(stats.borrowedCount),
    };
    const openUntil = fromTimestamp(stats.circuitOpenUntil);
    if (openUntil !== undefined) pool.stats.circuitOpenUntil = openUntil;
  }
  return pool;
}

// Unset durations stay undefined: the server applies its defaults to them.
function circuitBreakerFromProto(message: ProtoCircuitBreaker): CircuitBreaker {
  const breaker: CircuitBreaker = {
    failureRate: message.failureRate,
    minAttempts: message.minAttempts,
  };
  if (message.window !== undefined) breaker.windowMs = fromDuration(message.window);
  if (message.coolDown !== undefined) breaker.coolDownMs = fromDuration(message.coolDown);
  return breaker;
}

/** Converts a CancelOutcome enum value. */
export function cancelOutcomeFromProto(outcome: ProtoCancelOutcome): CancelOutcome {
  const converted = CANCEL_OUTCOMES[outcome];
  if (converted === undefined) {
    throw new WorkpoolError(
      `server sent the unknown cancel outcome ${outcome}; upgrade the workpool SDK`,
    );
  }
  return converted;
}

/** Converts an ExplainResponse; the reason is the enum name in lower case. */
export function explanationFromProto(response: ExplainResponse): Explanation {
  const name = ProtoWaitReason[response.reason] ?? "UNSPECIFIED";
  const explanation: Explanation = {
    reason: name.toLowerCase() as WaitReason,
    detail: response.detail,
    runningWorkIds: response.runningWorkIds,
    workerId: response.workerId,
    aheadCount: Number(response.aheadCount),
  };
  if (response.status !== undefined) explanation.status = statusFromProto(response.status);
  const until = fromTimestamp(response.until);
  if (until !== undefined) explanation.until = until;
  const since = fromTimestamp(response.since);
  if (since !== undefined) explanation.since = since;
  return explanation;
}
