import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";
import {
  GetPoolResponseSchema,
  PoolService,
  type CreatePoolRequest,
  type UpdatePoolRequest,
} from "../gen/workpool/v1/pool_service_pb.js";
import { CompletionSchema, PoolSchema, ResultSchema, SuccessSchema } from "../gen/workpool/v1/types_pb.js";
import {
  WatchCompletionsResponseSchema,
  WorkpoolService,
  type EnqueueBatchRequest,
  type EnqueueRequest,
  type WatchCompletionsRequest,
} from "../gen/workpool/v1/workpool_service_pb.js";
import {
  InvalidArgumentError,
  NotFoundError,
  OutOfRangeError,
  Workpool,
  WorkpoolClient,
  silentLogger,
  toValue,
  type Completion,
} from "../src/index.js";
import { startFakeServer, type FakeServer } from "./fake-server.js";

let server: FakeServer | undefined;
let client: WorkpoolClient | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  await server?.close();
  server = undefined;
});

function completion(sequence: number) {
  return create(CompletionSchema, {
    sequence: BigInt(sequence),
    workId: `wk_${sequence}`,
    pool: "p",
    function: "f",
    result: create(ResultSchema, {
      outcome: { case: "success", value: create(SuccessSchema, { returnValue: toValue(sequence) }) },
    }),
  });
}

function watchResponse(head: number, sequences: number[] = []) {
  return create(WatchCompletionsResponseSchema, {
    headSequence: BigInt(head),
    completions: sequences.map(completion),
  });
}

describe("watchCompletions", () => {
  test("resumes after the last delivered sequence, without repeats", async () => {
    const requests: WatchCompletionsRequest[] = [];
    server = await startFakeServer((router) => {
      router.service(WorkpoolService, {
        async *watchCompletions(request) {
          requests.push(request);
          if (requests.length === 1) {
            yield watchResponse(5);
            yield watchResponse(7, [6, 7]);
            throw new ConnectError("the server is shutting down", Code.Unavailable);
          }
          // A replay that repeats an entry already delivered.
          yield watchResponse(8, [7, 8]);
          yield watchResponse(9, [9]);
        },
      });
    });
    client = new WorkpoolClient(server.address, { logger: silentLogger });

    const seen: Completion[] = [];
    const watch = client.watchCompletions({ pools: ["p"] });
    for await (const item of watch) {
      seen.push(item);
      if (item.sequence === 9) break;
    }

    assert.deepEqual(
      seen.map((item) => item.sequence),
      [6, 7, 8, 9],
    );
    assert.deepEqual(seen[0]!.result, { kind: "success", returnValue: 6 });
    assert.equal(requests[0]!.afterSequence, undefined);
    assert.equal(requests[1]!.afterSequence, 7n);
    assert.deepEqual(requests[0]!.pools, ["p"]);
    assert.equal(watch.lastSequence, 9);
  });

  test("resumes from the head when nothing was delivered", async () => {
    const requests: WatchCompletionsRequest[] = [];
    server = await startFakeServer((router) => {
      router.service(WorkpoolService, {
        async *watchCompletions(request) {
          requests.push(request);
          if (requests.length === 1) {
            yield watchResponse(41);
            return; // A clean end also reconnects.
          }
          yield watchResponse(42, [42]);
        },
      });
    });
    client = new WorkpoolClient(server.address, { logger: silentLogger });

    const watch = client.watchCompletions();
    for await (const item of watch) {
      assert.equal(item.sequence, 42);
      break;
    }
    assert.equal(requests[1]!.afterSequence, 41n);
  });

  test("OUT_OF_RANGE ends the iteration with OutOfRangeError", async () => {
    server = await startFakeServer((router) => {
      router.service(WorkpoolService, {
        // eslint-disable-next-line require-yield
        async *watchCompletions() {
          throw new ConnectError("entries were removed", Code.OutOfRange);
        },
      });
    });
    client = new WorkpoolClient(server.address, { logger: silentLogger });

    const watch = client.watchCompletions({ afterSequence: 3 });
    await assert.rejects(async () => {
      for await (const _ of watch) {
        // Nothing arrives.
      }
    }, OutOfRangeError);
    await assert.rejects(watch.started, OutOfRangeError);
  });

  test("close ends a waiting iteration", async () => {
    server = await startFakeServer((router) => {
      router.service(WorkpoolService, {
        async *watchCompletions() {
          yield watchResponse(1);
          await new Promise((resolve) => setTimeout(resolve, 60_000).unref());
        },
      });
    });
    client = new WorkpoolClient(server.address, { logger: silentLogger });

    const watch = client.watchCompletions();
    const loop = (async () => {
      for await (const _ of watch) {
        // Nothing arrives.
      }
    })();
    await watch.started;
    watch.close();
    await loop;
    assert.equal(watch.lastSequence, 1);
  });
});

describe("errors", () => {
  test("BadRequest field violations come from the status details", async () => {
    server = await startFakeServer((router) => {
      router.service(WorkpoolService, {
        enqueue() {
          throw new ConnectError("work.function: is required", Code.InvalidArgument, undefined, [
            {
              desc: BadRequestSchema,
              value: { fieldViolations: [{ field: "work.function", description: "is required" }] },
            },
          ]);
        },
        status() {
          throw new ConnectError("work item wk_x not found", Code.NotFound);
        },
      });
    });
    client = new WorkpoolClient(server.address, { logger: silentLogger });

    const error = await client.enqueue("p", "", null).catch((caught: unknown) => caught);
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.codeName, "INVALID_ARGUMENT");
    assert.deepEqual(error.fieldViolations, [{ field: "work.function", description: "is required" }]);
    assert.equal(error.details, "work.function: is required");

    await assert.rejects(client.status("wk_x"), (caught: unknown) => {
      assert.ok(caught instanceof NotFoundError);
      assert.equal(caught.codeName, "NOT_FOUND");
      assert.deepEqual(caught.fieldViolations, []);
      return true;
    });
  });
});

describe("Workpool", () => {
  test("applies its options once, then enqueues with them", async () => {
    const creates: CreatePoolRequest[] = [];
    const updates: UpdatePoolRequest[] = [];
    const enqueues: EnqueueRequest[] = [];
    const batches: EnqueueBatchRequest[] = [];
    let exists = false;
    server = await startFakeServer((router) => {
      router.service(PoolService, {
        getPool(request) {
          if (!exists) throw new ConnectError(`pool ${request.name} not found`, Code.NotFound);
          return create(GetPoolResponseSchema, { pool: create(PoolSchema, { name: request.name, maxParallelism: 1 }) });
        },
        createPool(request) {
          creates.push(request);
          exists = true;
          return { pool: request.pool };
        },
        updatePool(request) {
          updates.push(request);
          return { pool: request.pool };
        },
      });
      router.service(WorkpoolService, {
        enqueue(request) {
          enqueues.push(request);
          return { workId: `wk_${enqueues.length}`, completionSequence: 3n };
        },
        enqueueBatch(request) {
          batches.push(request);
          return { workIds: request.work.map((_, index) => `wk_b${index}`) };
        },
      });
    });
    client = new WorkpoolClient(server.address, { logger: silentLogger });

    const pool = new Workpool(client, {
      pool: "emails",
      maxParallelism: 5,
      retryActionsByDefault: true,
      defaultRetryBehavior: { maxAttempts: 3, initialBackoffMs: 1000, base: 2 },
    });
    const first = await pool.enqueueAction("email.send", { to: "a@example.com" }, {
      retry: false,
      onComplete: "email.done",
      context: { campaign: "welcome" },
      runAfter: 1500,
    });
    const ids = await pool.enqueueActionBatch("email.send", [{ n: 1 }, { n: 2 }], { retry: { maxAttempts: 2 } });

    assert.equal(first, "wk_1");
    assert.deepEqual(ids, ["wk_b0", "wk_b1"]);
    assert.equal(creates.length, 1);
    assert.equal(updates.length, 0);
    const created = creates[0]!.pool!;
    assert.equal(created.name, "emails");
    assert.equal(created.maxParallelism, 5);
    assert.equal(created.retryByDefault, true);
    assert.equal(created.defaultRetry?.maxAttempts, 3);
    assert.equal(created.defaultRetry?.initialBackoff?.seconds, 1n);

    const spec = enqueues[0]!.work!;
    assert.equal(enqueues[0]!.pool, "emails");
    assert.equal(spec.function, "email.send");
    assert.deepEqual(spec.retry, { case: "retryEnabled", value: false });
    assert.equal(spec.onComplete?.function, "email.done");
    assert.equal(spec.schedule.case, "runAfter");
    assert.equal(spec.schedule.value?.seconds, 1n);
    assert.equal(spec.schedule.value?.nanos, 500_000_000);
    assert.equal(batches[0]!.work.length, 2);
    assert.equal(batches[0]!.work[1]!.retry.case, "retryPolicy");
  });

  test("updates only the settings that differ", async () => {
    const updates: UpdatePoolRequest[] = [];
    server = await startFakeServer((router) => {
      router.service(PoolService, {
        getPool(request) {
          return { pool: create(PoolSchema, { name: request.name, maxParallelism: 1, retryByDefault: true }) };
        },
        updatePool(request) {
          updates.push(request);
          return { pool: request.pool };
        },
      });
    });
    client = new WorkpoolClient(server.address, { logger: silentLogger });

    await new Workpool(client, { pool: "p", maxParallelism: 4, retryActionsByDefault: true }).ensurePool();
    assert.equal(updates.length, 1);
    assert.deepEqual(updates[0]!.updateMask?.paths, ["max_parallelism"]);
    assert.equal(updates[0]!.pool?.maxParallelism, 4);
  });

  test("passes scheduling options to pool and items", async () => {
    const creates: CreatePoolRequest[] = [];
    const enqueues: EnqueueRequest[] = [];
    const batches: EnqueueBatchRequest[] = [];
    server = await startFakeServer((router) => {
      router.service(PoolService, {
        getPool(request) {
          throw new ConnectError(`pool ${request.name} not found`, Code.NotFound);
        },
        createPool(request) {
          creates.push(request);
          return { pool: request.pool };
        },
      });
      router.service(WorkpoolService, {
        enqueue(request) {
          enqueues.push(request);
          return { workId: "wk_1" };
        },
        enqueueBatch(request) {
          batches.push(request);
          return { workIds: request.work.map((_, index) => `wk_b${index}`) };
        },
      });
    });
    client = new WorkpoolClient(server.address, { logger: silentLogger });

    const pool = new Workpool(client, {
      pool: "exports",
      maxPerKey: 2,
      priorityAgingMs: 500,
      rateLimit: { perSecond: 10 },
      defaultAttemptTimeoutMs: 60_000,
      circuitBreaker: { failureRate: 0.5 },
      parent: "shared",
    });
    await pool.enqueueAction("export.run", null, {
      concurrencyKey: "c-7",
      priority: 10,
      attemptTimeout: 2_000,
    });
    await pool.enqueueActionBatch("export.run", [1, 2], { priority: -1 });

    const created = creates[0]!.pool!;
    assert.equal(created.maxPerKey, 2);
    assert.equal(created.priorityAging?.nanos, 500_000_000);
    assert.equal(created.rateLimit?.perSecond, 10);
    assert.equal(created.defaultAttemptTimeout?.seconds, 60n);
    assert.equal(created.circuitBreaker?.failureRate, 0.5);
    assert.equal(created.parent, "shared");

    const spec = enqueues[0]!.work!;
    assert.equal(spec.concurrencyKey, "c-7");
    assert.equal(spec.priority, 10);
    assert.equal(spec.attemptTimeout?.seconds, 2n);
    assert.deepEqual(
      batches[0]!.work.map((item) => item.priority),
      [-1, -1],
    );
  });

  test("context without onComplete is rejected before any call", async () => {
    client = new WorkpoolClient("127.0.0.1:1", { logger: silentLogger });
    const pool = new Workpool(client, { pool: "p" });
    await assert.rejects(pool.enqueueAction("f", null, { context: { a: 1 } }), TypeError);
  });
});
