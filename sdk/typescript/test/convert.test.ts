import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { create } from "@bufbuild/protobuf";

import {
  CircuitState,
  CompletionSchema,
  PoolSchema,
  PoolStatsSchema,
  ResultSchema,
  WorkState,
  WorkStatusSchema,
} from "../gen/workpool/v1/types_pb.js";
import {
  completionFromProto,
  fromDuration,
  poolFromProto,
  poolSettingsThatDiffer,
  statusFromProto,
  toDuration,
  toTimestamp,
  fromTimestamp,
  updatePoolRequest,
  workItemToSpec,
} from "../src/convert.js";
import { completionEventFromArgs, defineOnComplete, errorMessage, WorkContext } from "../src/handlers.js";
import { NonRetryableError, fromValue, toValue } from "../src/index.js";

describe("values", () => {
  test("JSON-like values round-trip", () => {
    const input = { s: "x", n: 2 ** 60, f: 1.5, b: false, z: null, list: [1, "two", { three: 3 }], empty: {} };
    assert.deepEqual(fromValue(toValue(input)), input);
  });

  test("undefined properties are left out; top-level undefined is null", () => {
    assert.deepEqual(fromValue(toValue({ a: 1, b: undefined })), { a: 1 });
    assert.equal(fromValue(toValue(undefined)), null);
    assert.equal(fromValue(undefined), null);
  });

  test("values without a JSON form are rejected with their path", () => {
    assert.throws(() => toValue({ a: [1, NaN] }, "args"), { name: "RangeError", message: /args\.a\[1\] is NaN/ });
    assert.throws(() => toValue({ big: 10n }, "args"), { name: "TypeError", message: /args\.big/ });
    assert.throws(() => toValue({ when: new Date(0) }, "args"), { name: "TypeError", message: /Date/ });
    assert.throws(() => toValue([undefined], "args"), { name: "TypeError", message: /args\[0\]/ });
    assert.throws(() => toValue(() => 1), TypeError);
  });
});

describe("durations and timestamps", () => {
  test("milliseconds convert both ways, negative ones keep one sign", () => {
    assert.deepEqual([toDuration(1500, "d").seconds, toDuration(1500, "d").nanos], [1n, 500_000_000]);
    assert.deepEqual([toDuration(-1500, "d").seconds, toDuration(-1500, "d").nanos], [-1n, -500_000_000]);
    assert.equal(fromDuration(toDuration(0.25, "d")), 0.25);
    assert.throws(() => toDuration(Number.POSITIVE_INFINITY, "runAfterMs"), /runAfterMs/);
  });

  test("dates convert both ways", () => {
    const moment = new Date("2026-01-02T03:04:05.678Z");
    assert.equal(fromTimestamp(toTimestamp(moment, "runAt"))?.getTime(), moment.getTime());
    assert.equal(fromTimestamp(undefined), undefined);
    assert.throws(() => toTimestamp(new Date("nonsense"), "runAt"), /runAt/);
  });
});

describe("work specs", () => {
  test("retry options map to the oneof", () => {
    assert.equal(workItemToSpec({ function: "f" }).retry.case, undefined);
    assert.deepEqual(workItemToSpec({ function: "f", retry: true }).retry, { case: "retryEnabled", value: true });
    const policy = workItemToSpec({ function: "f", retry: { maxAttempts: 2 } }).retry;
    assert.equal(policy.case, "retryPolicy");
    assert.equal(policy.value?.maxAttempts, 2);
    assert.equal(policy.value?.base, 2);
    assert.equal(policy.value?.initialBackoff?.nanos, 250_000_000);
    assert.equal(policy.value?.maxBackoff, undefined);
  });

  test("schedule takes runAt or runAfterMs, not both", () => {
    const runAt = new Date(1_000);
    assert.equal(workItemToSpec({ function: "f", runAt }).schedule.case, "runAt");
    assert.equal(workItemToSpec({ function: "f", runAfterMs: 10 }).schedule.case, "runAfter");
    assert.throws(() => workItemToSpec({ function: "f", runAt, runAfterMs: 10 }), /both/);
  });

  test("server-checked ranges are sent as they are", () => {
    const spec = workItemToSpec({ function: "", retry: { maxAttempts: 0, base: 0.5 } });
    assert.equal(spec.function, "");
    assert.equal(spec.retry.value && typeof spec.retry.value === "object" ? spec.retry.value.maxAttempts : -1, 0);
  });

  test("scheduling options set their fields", () => {
    const spec = workItemToSpec({
      function: "f",
      concurrencyKey: "customer-7",
      priority: -3,
      attemptTimeoutMs: 1500,
    });
    assert.equal(spec.concurrencyKey, "customer-7");
    assert.equal(spec.priority, -3);
    assert.equal(spec.attemptTimeout?.seconds, 1n);
    assert.equal(spec.attemptTimeout?.nanos, 500_000_000);

    const plain = workItemToSpec({ function: "f" });
    assert.equal(plain.concurrencyKey, "");
    assert.equal(plain.priority, 0);
    assert.equal(plain.attemptTimeout, undefined);
  });

  test("scheduling options of the wrong type are rejected", () => {
    assert.throws(() => workItemToSpec({ function: "f", priority: 1.5 }), /work\.priority must be a 32-bit integer/);
    assert.throws(() => workItemToSpec({ function: "f", concurrencyKey: 7 as never }), /work\.concurrencyKey/);
    assert.throws(
      () => workItemToSpec({ function: "f", attemptTimeoutMs: Number.NaN }),
      /work\.attemptTimeoutMs/,
    );
  });

  test("batch items name their index in errors", () => {
    assert.throws(() => workItemToSpec({ function: "f", args: NaN }, "items[3]"), /items\[3\]\.args/);
  });
});

describe("pools", () => {
  test("update mask lists exactly the given settings", () => {
    const request = updatePoolRequest("p", { maxParallelism: 0, statusTtlMs: null });
    assert.deepEqual(request.updateMask?.paths, ["max_parallelism", "status_ttl"]);
    assert.equal(request.pool?.maxParallelism, 0);
    assert.equal(request.pool?.statusTtl, undefined);
    assert.throws(() => updatePoolRequest("p", {}), /at least one setting/);
    assert.throws(() => updatePoolRequest("p", { colour: 1 } as never), /unknown pool setting colour/);
  });

  test("scheduling settings map to their fields and paths", () => {
    const request = updatePoolRequest("p", {
      maxPerKey: 2,
      priorityAgingMs: 250,
      rateLimit: { perSecond: 5, burst: 10 },
      defaultAttemptTimeoutMs: 30_000,
      circuitBreaker: { failureRate: 0.5, coolDownMs: 2_000 },
      parent: "shared",
    });
    assert.deepEqual(request.updateMask?.paths, [
      "max_per_key",
      "priority_aging",
      "rate_limit",
      "default_attempt_timeout",
      "circuit_breaker",
      "parent",
    ]);
    assert.equal(request.pool?.maxPerKey, 2);
    assert.equal(request.pool?.priorityAging?.nanos, 250_000_000);
    assert.equal(request.pool?.rateLimit?.perSecond, 5);
    assert.equal(request.pool?.rateLimit?.burst, 10);
    assert.equal(request.pool?.defaultAttemptTimeout?.seconds, 30n);
    assert.equal(request.pool?.circuitBreaker?.failureRate, 0.5);
    assert.equal(request.pool?.circuitBreaker?.window, undefined);
    assert.equal(request.pool?.circuitBreaker?.coolDown?.seconds, 2n);
    assert.equal(request.pool?.parent, "shared");
  });

  test("null scheduling settings stay in the mask unset", () => {
    const request = updatePoolRequest("p", { maxPerKey: null, rateLimit: null, parent: null });
    assert.deepEqual(request.updateMask?.paths, ["max_per_key", "rate_limit", "parent"]);
    assert.equal(request.pool?.maxPerKey, undefined);
    assert.equal(request.pool?.rateLimit, undefined);
    assert.equal(request.pool?.parent, "");
    assert.throws(() => updatePoolRequest("p", { rateLimit: {} as never }), /rateLimit\.perSecond/);
  });

  test("scheduling settings and stats convert from the pool", () => {
    const pool = poolFromProto(
      create(PoolSchema, {
        name: "p",
        maxPerKey: 3,
        rateLimit: { perSecond: 2.5, burst: 4 },
        defaultAttemptTimeout: { seconds: 9n },
        circuitBreaker: { failureRate: 0.25, minAttempts: 20 },
        parent: "shared",
      }),
      create(PoolStatsSchema, {
        pendingCount: 4n,
        runningCount: 1n,
        circuitState: CircuitState.OPEN,
        circuitOpenUntil: { seconds: 20n },
        borrowedCount: 2n,
      }),
    );
    assert.equal(pool.maxPerKey, 3);
    assert.equal(pool.priorityAgingMs, 1000);
    assert.deepEqual(pool.rateLimit, { perSecond: 2.5, burst: 4 });
    assert.equal(pool.defaultAttemptTimeoutMs, 9000);
    assert.deepEqual(pool.circuitBreaker, { failureRate: 0.25, minAttempts: 20 });
    assert.equal(pool.parent, "shared");
    assert.equal(pool.stats?.circuitState, "open");
    assert.equal(pool.stats?.circuitOpenUntil?.getTime(), 20_000);
    assert.equal(pool.stats?.borrowedCount, 2);
  });

  test("unset pool fields take the defaults", () => {
    const pool = poolFromProto(create(PoolSchema, { name: "p" }));
    assert.equal(pool.maxParallelism, 10);
    assert.deepEqual(pool.defaultRetry, { maxAttempts: 5, initialBackoffMs: 250, base: 2 });
    assert.equal(pool.statusTtlMs, 24 * 60 * 60 * 1000);
    assert.equal(pool.maxPerKey, 0);
    assert.equal(pool.rateLimit, undefined);
    assert.equal(pool.defaultAttemptTimeoutMs, undefined);
    assert.equal(pool.circuitBreaker, undefined);
  });

  test("only differing settings are changed", () => {
    const pool = poolFromProto(create(PoolSchema, { name: "p", maxParallelism: 3 }));
    assert.deepEqual(poolSettingsThatDiffer(pool, { maxParallelism: 3, retryByDefault: false }), {});
    assert.deepEqual(
      poolSettingsThatDiffer(pool, { maxParallelism: 4, defaultRetry: { maxAttempts: 5 } }),
      { maxParallelism: 4 },
    );
    assert.deepEqual(
      poolSettingsThatDiffer(pool, { defaultRetry: { maxAttempts: 2 } }),
      { defaultRetry: { maxAttempts: 2 } },
    );
  });

  test("only differing scheduling settings are changed", () => {
    const pool = poolFromProto(
      create(PoolSchema, {
        name: "p",
        maxPerKey: 2,
        rateLimit: { perSecond: 5 },
        circuitBreaker: { failureRate: 0.5, window: { seconds: 60n } },
      }),
    );
    const same = {
      maxPerKey: 2,
      rateLimit: { perSecond: 5 },
      circuitBreaker: { failureRate: 0.5 },
      priorityAgingMs: 1000,
    };
    assert.deepEqual(poolSettingsThatDiffer(pool, same), {});
    assert.deepEqual(
      poolSettingsThatDiffer(pool, { maxPerKey: 1, rateLimit: { perSecond: 5, burst: 3 } }),
      { maxPerKey: 1, rateLimit: { perSecond: 5, burst: 3 } },
    );
    assert.deepEqual(poolSettingsThatDiffer(pool, { defaultAttemptTimeoutMs: 100 }), {
      defaultAttemptTimeoutMs: 100,
    });
  });
});

describe("responses", () => {
  test("status converts state, result and times", () => {
    const status = statusFromProto(
      create(WorkStatusSchema, {
        workId: "wk_1",
        state: WorkState.FINISHED,
        previousAttempts: 2,
        result: create(ResultSchema, {
          outcome: { case: "failure", value: { error: "boom", nonRetryable: true } },
        }),
        finishedAt: { seconds: 10n, nanos: 5_000_000 },
        lastError: "boom",
      }),
    );
    assert.equal(status.state, "finished");
    assert.deepEqual(status.result, { kind: "failure", error: "boom", nonRetryable: true });
    assert.equal(status.finishedAt?.getTime(), 10_005);
    assert.equal(status.enqueuedAt, undefined);
    assert.equal(status.lastError, "boom");
    assert.equal(status.concurrencyKey, "");
    assert.equal(status.continuations, 0);
  });

  test("status and completion carry the scheduling fields", () => {
    const status = statusFromProto(
      create(WorkStatusSchema, {
        workId: "wk_1",
        state: WorkState.PENDING,
        concurrencyKey: "tenant-a",
        priority: 5,
        continuations: 2,
      }),
    );
    assert.equal(status.concurrencyKey, "tenant-a");
    assert.equal(status.priority, 5);
    assert.equal(status.continuations, 2);

    const completion = completionFromProto(
      create(CompletionSchema, {
        sequence: 1n,
        workId: "wk_1",
        result: create(ResultSchema, { outcome: { case: "canceled", value: {} } }),
        attempts: 3,
        continuations: 2,
      }),
    );
    assert.equal(completion.continuations, 2);
  });

  test("a completion without a result is rejected", () => {
    assert.throws(() => completionFromProto(create(CompletionSchema, { sequence: 4n, workId: "wk_1" })), /without a result/);
  });
});

describe("follow-up args", () => {
  test("decode each result kind", () => {
    assert.deepEqual(
      completionEventFromArgs({ work_id: "wk_1", context: { a: 1 }, result: { kind: "success", return_value: 3 } }),
      { workId: "wk_1", context: { a: 1 }, result: { kind: "success", returnValue: 3 } },
    );
    assert.deepEqual(completionEventFromArgs({ work_id: "wk_1", context: null, result: { kind: "failure", error: "x" } }).result, {
      kind: "failure",
      error: "x",
      nonRetryable: false,
    });
    assert.deepEqual(completionEventFromArgs({ work_id: "wk_1", result: { kind: "canceled" } }).result, { kind: "canceled" });
  });

  test("malformed args fail without retry", () => {
    assert.throws(() => completionEventFromArgs([]), NonRetryableError);
    assert.throws(() => completionEventFromArgs({ work_id: "" }), NonRetryableError);
    assert.throws(() => completionEventFromArgs({ work_id: "wk_1", result: { kind: "failed" } }), NonRetryableError);
  });

  test("defineOnComplete passes the decoded event", async () => {
    const handler = defineOnComplete<{ campaign: string }>((context, event) => `${event.workId}:${event.context.campaign}`);
    const context = new WorkContext({ workId: "wk_f", attempt: 1, pool: "p", function: "done" });
    const returned = await handler(context, {
      work_id: "wk_1",
      context: { campaign: "welcome" },
      result: { kind: "canceled" },
    });
    assert.equal(returned, "wk_1:welcome");
  });

  test("error messages carry the error name", () => {
    assert.equal(errorMessage(new TypeError("bad")), "TypeError: bad");
    assert.equal(errorMessage(new NonRetryableError("declined")), "NonRetryableError: declined");
    assert.equal(errorMessage("plain"), "plain");
  });
});
