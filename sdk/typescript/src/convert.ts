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
  OnCompleteSchema,
  PoolSchema,
  RetryPolicySchema,
  WorkSpecSchema,
  WorkState as ProtoWorkState,
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
  DEFAULT_STATUS_TTL_MS,
  type CancelOutcome,
  type Completion,
  type Explanation,
  type OnComplete,
  type Pool,
  type PoolSettings,
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
];

/**
 * Builds a Pool message from settings and lists the proto paths they set,
 * which are the update mask of an UpdatePool call. A null `defaultRetry` or
 * `statusTtlMs` stays in the mask with the field unset, which restores the
 * server's default.
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
    if (key === "defaultRetry" || key === "statusTtlMs") {
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
  }
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
  return changed;
}

function sameRetryPolicy(wanted: RetryPolicy, current: Pool["defaultRetry"]): boolean {
  return (
    (wanted.maxAttempts ?? DEFAULT_MAX_ATTEMPTS) === current.maxAttempts &&
    (wanted.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS) === current.initialBackoffMs &&
    (wanted.base ?? DEFAULT_BACKOFF_BASE) === current.base &&
    wanted.maxBackoffMs === current.maxBackoffMs
  );
}

function checkString(value: unknown, name: string): void {
  if (typeof value !== "string") {
    throw new TypeError(`${name} must be a string, got ${JSON.stringify(value)}`);
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
  };
  if (stats !== undefined) {
    pool.stats = {
      pendingCount: Number(stats.pendingCount),
      runningCount: Number(stats.runningCount),
    };
  }
  return pool;
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
