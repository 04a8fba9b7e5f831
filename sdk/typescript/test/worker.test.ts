import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";

import {
  AssignmentSchema,
  CancelAttemptSchema,
  CancelReason as ProtoCancelReason,
  ResultAckSchema,
  WelcomeSchema,
  WorkResponseSchema,
  WorkerService,
  type WorkRequest,
  type WorkResponse,
} from "../gen/workpool/v1/worker_service_pb.js";
import {
  NonRetryableError,
  Continue,
  Worker,
  fromValue,
  silentLogger,
  toValue,
  type WorkContext,
} from "../src/index.js";
import { Channel, delay, startFakeServer, type FakeServer } from "./fake-server.js";

const END = Symbol("end");

/** One Work stream, from the fake server's side. */
interface FakeStream {
  /** Requests from the worker, then END when it half-closes. */
  received: Channel<WorkRequest | typeof END>;
  send(response: MessageInitShape<typeof WorkResponseSchema>): void;
  /** Ends the stream with OK, or with the given error. */
  end(error?: ConnectError): void;
}

let server: FakeServer;
let streams: Channel<FakeStream>;
let worker: Worker | undefined;

beforeEach(async () => {
  streams = new Channel<FakeStream>();
  server = await startFakeServer((router) => {
    router.service(WorkerService, {
      async *work(requests) {
        const received = new Channel<WorkRequest | typeof END>();
        const outgoing = new Channel<WorkResponse | typeof END | ConnectError>();
        void (async () => {
          try {
            for await (const request of requests) {
              received.push(request);
            }
          } catch {
            // The client went away, and the END pushed below reports it to the test.
          }
          received.push(END);
        })();
        streams.push({
          received,
          send: (response) => outgoing.push(create(WorkResponseSchema, response)),
          end: (error) => outgoing.push(error ?? END),
        });
        for (;;) {
          const next = await outgoing.next(60_000);
          if (next === END) return;
          if (next instanceof ConnectError) throw next;
          yield next;
        }
      },
    });
  });
});

afterEach(async () => {
  worker?.terminate();
  worker = undefined;
  await server.close();
});

function welcome(heartbeatMs = 60_000) {
  return create(WelcomeSchema, {
    workerId: "ws_test",
    heartbeatInterval: create(DurationSchema, {
      seconds: BigInt(Math.floor(heartbeatMs / 1000)),
      nanos: (heartbeatMs % 1000) * 1_000_000,
    }),
  });
}

function assignment(workId: string, fn: string, args: unknown = null, attempt = 1) {
  return create(AssignmentSchema, { workId, attempt, function: fn, args: toValue(args), pool: "p" });
}

async function nextRequest(stream: FakeStream): Promise<WorkRequest> {
  const request = await stream.received.next();
  assert.notEqual(request, END, "the worker closed the stream");
  return request as WorkRequest;
}

/** Starts a worker and returns its first stream after the welcome. */
async function connect(
  setUp: (worker: Worker) => void,
  options: { capacity?: number; heartbeatMs?: number } = {},
): Promise<{ stream: FakeStream; run: Promise<void>; hello: WorkRequest }> {
  worker = new Worker(server.address, {
    pools: ["p"],
    capacity: options.capacity ?? 2,
    name: "test-worker",
    logger: silentLogger,
    maxReconnectDelayMs: 100,
  });
  setUp(worker);
  const run = worker.run();
  const stream = await streams.next();
  const hello = await nextRequest(stream);
  stream.send({ welcome: welcome(options.heartbeatMs) });
  await worker.waitUntilConnected();
  return { stream, run, hello };
}

describe("Worker", () => {
  test("hello lists pools, sorted functions and capacity", async () => {
    const { hello } = await connect(
      (w) => {
        w.register("b.second", () => null);
        w.register("a.first", () => null);
      },
      { capacity: 3 },
    );
    assert.deepEqual(hello.hello?.pools, ["p"]);
    assert.deepEqual(hello.hello?.functions, ["a.first", "b.second"]);
    assert.equal(hello.hello?.capacity, 3);
    assert.equal(hello.hello?.workerName, "test-worker");
  });

  test("result and credit travel in one message", async () => {
    const { stream } = await connect((w) =>
      w.register("echo", (context: WorkContext, args: { n: number }) => ({
        doubled: args.n * 2,
        attempt: context.attempt,
      })),
    );
    stream.send({ assignments: [assignment("wk_1", "echo", { n: 21 }, 2)] });

    const request = await nextRequest(stream);
    assert.equal(request.results.length, 1);
    const result = request.results[0]!;
    assert.equal(result.workId, "wk_1");
    assert.equal(result.attempt, 2);
    assert.equal(result.outcome.case, "success");
    assert.equal(request.credit?.count, 1);
  });

  test("errors become failures, NonRetryableError marked", async () => {
    const { stream } = await connect((w) => {
      w.register("plain", () => {
        throw new Error("boom");
      });
      w.register("final", () => {
        throw new NonRetryableError("card declined");
      });
    });
    stream.send({ assignments: [assignment("wk_plain", "plain")] });
    const first = (await nextRequest(stream)).results[0]!;
    stream.send({ assignments: [assignment("wk_final", "final")] });
    const second = (await nextRequest(stream)).results[0]!;

    assert.equal(first.outcome.case, "failure");
    assert.equal(first.outcome.value?.error, "Error: boom");
    assert.equal(first.outcome.case === "failure" && first.outcome.value.nonRetryable, false);
    assert.equal(second.outcome.case, "failure");
    assert.equal(second.outcome.value?.error, "NonRetryableError: card declined");
    assert.equal(second.outcome.case === "failure" && second.outcome.value.nonRetryable, true);
  });

  test("return value that is not JSON fails without retry", async () => {
    const { stream } = await connect((w) => w.register("bad", () => ({ when: new Date(0) })));
    stream.send({ assignments: [assignment("wk_1", "bad")] });
    const result = (await nextRequest(stream)).results[0]!;
    assert.equal(result.outcome.case, "failure");
    assert.equal(result.outcome.case === "failure" && result.outcome.value.nonRetryable, true);
  });

  test("heartbeats list every running id", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { stream } = await connect((w) => w.register("block", () => released), {
      heartbeatMs: 50,
    });
    stream.send({ assignments: [assignment("wk_b", "block"), assignment("wk_a", "block")] });

    const request = await nextRequest(stream);
    assert.deepEqual(request.heartbeat?.workIds, ["wk_a", "wk_b"]);
    assert.equal(request.results.length, 0);
    release();
  });

  test("cancel request signals the handler, which may still succeed", async () => {
    const { stream } = await connect((w) =>
      w.register("wait", async (context: WorkContext) => {
        const reason = await context.whenCancelRequested();
        return { reason, aborted: context.signal.aborted };
      }),
    );
    stream.send({ assignments: [assignment("wk_1", "wait")] });
    await delay(50);
    stream.send({
      cancels: [
        create(CancelAttemptSchema, {
          workId: "wk_1",
          attempt: 1,
          reason: ProtoCancelReason.REQUESTED,
        }),
      ],
    });

    const result = (await nextRequest(stream)).results[0]!;
    assert.equal(result.outcome.case, "success");
    const returned = result.outcome.case === "success" ? result.outcome.value.returnValue : undefined;
    assert.deepEqual(fromValue(returned), { reason: "requested", aborted: true });
  });

  test("Continue reports a continuation with the new args", async () => {
    const { stream } = await connect((w) =>
      w.register("page", (_context: WorkContext, args: { page: number }) =>
        new Continue({ page: args.page + 1 }),
      ),
    );
    stream.send({ assignments: [assignment("wk_1", "page", { page: 1 })] });

    const request = await nextRequest(stream);
    const result = request.results[0]!;
    assert.equal(result.outcome.case, "continuation");
    const args = result.outcome.case === "continuation" ? result.outcome.value.args : undefined;
    assert.deepEqual(fromValue(args), { page: 2 });
    assert.equal(request.credit?.count, 1);
  });

  test("continuation args that are not JSON fail without retry", async () => {
    const { stream } = await connect((w) => w.register("bad", () => new Continue({ n: 10n })));
    stream.send({ assignments: [assignment("wk_1", "bad")] });
    const result = (await nextRequest(stream)).results[0]!;
    assert.equal(result.outcome.case, "failure");
    assert.match(String(result.outcome.value?.error), /continuation args/);
    assert.equal(result.outcome.case === "failure" && result.outcome.value.nonRetryable, true);
  });

  test("timeout cancel signals the handler with its deadline", async () => {
    const { stream } = await connect((w) =>
      w.register("wait", async (context: WorkContext) => {
        const reason = await context.whenCancelRequested();
        return { reason, deadline: context.deadline?.getTime() ?? null };
      }),
    );
    const timed = assignment("wk_1", "wait");
    timed.deadline = { $typeName: "google.protobuf.Timestamp", seconds: 30n, nanos: 0 };
    stream.send({ assignments: [timed] });
    await delay(50);
    stream.send({
      cancels: [
        create(CancelAttemptSchema, {
          workId: "wk_1",
          attempt: 1,
          reason: ProtoCancelReason.TIMEOUT,
        }),
      ],
    });

    const result = (await nextRequest(stream)).results[0]!;
    assert.equal(result.outcome.case, "success");
    const returned = result.outcome.case === "success" ? result.outcome.value.returnValue : undefined;
    assert.deepEqual(fromValue(returned), { reason: "timeout", deadline: 30_000 });
  });

  test("lease lost drops the result but returns the credit", async () => {
    const { stream } = await connect((w) =>
      w.register("wait", async (context: WorkContext) => {
        await context.whenCancelRequested();
        return "late";
      }),
    );
    stream.send({ assignments: [assignment("wk_1", "wait")] });
    await delay(50);
    stream.send({
      cancels: [
        create(CancelAttemptSchema, {
          workId: "wk_1",
          attempt: 1,
          reason: ProtoCancelReason.LEASE_LOST,
        }),
      ],
    });

    const request = await nextRequest(stream);
    assert.equal(request.results.length, 0);
    assert.equal(request.credit?.count, 1);
  });

  test("no more than capacity handlers run at once", async () => {
    let running = 0;
    let maxRunning = 0;
    const { stream } = await connect(
      (w) =>
        w.register("slow", async () => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await delay(50);
          running -= 1;
          return null;
        }),
      { capacity: 2 },
    );
    // A server that ignored the credit would send more than capacity.
    stream.send({
      assignments: [1, 2, 3, 4].map((n) => assignment(`wk_${n}`, "slow")),
    });

    let results = 0;
    while (results < 4) {
      results += (await nextRequest(stream)).results.length;
    }
    assert.equal(maxRunning, 2);
  });

  test("graceful stop reports running work, grants no credit, half-closes", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { stream, run } = await connect((w) => w.register("block", () => released.then(() => "done")));
    stream.send({ assignments: [assignment("wk_1", "block")] });
    await delay(50);

    const stopping = worker!.stop(5_000);
    release();
    const request = await nextRequest(stream);
    assert.equal(request.results.length, 1);
    assert.equal(request.credit, undefined);

    stream.send({ acks: [create(ResultAckSchema, { workId: "wk_1", attempt: 1, accepted: true })] });
    assert.equal(await stream.received.next(), END);
    stream.end();
    await stopping;
    await run;
    assert.equal(worker!.isRunning, false);
  });

  test("reconnects after UNAVAILABLE and cancels orphaned handlers", async () => {
    let orphanReason: string | undefined;
    const { stream } = await connect((w) =>
      w.register("wait", async (context: WorkContext) => {
        orphanReason = await context.whenCancelRequested();
        return null;
      }),
    );
    stream.send({ assignments: [assignment("wk_1", "wait")] });
    await delay(50);
    stream.end(new ConnectError("the server is shutting down", Code.Unavailable));

    const second = await streams.next();
    const hello = await nextRequest(second);
    assert.deepEqual(hello.hello?.functions, ["wait"]);
    assert.equal(orphanReason, "stream_closed");
  });

  test("INVALID_ARGUMENT on hello ends run with the error", async () => {
    worker = new Worker(server.address, { pools: ["p"], logger: silentLogger });
    worker.register("f", () => null);
    const run = worker.run();
    const stream = await streams.next();
    await nextRequest(stream);
    stream.end(new ConnectError("capacity too large", Code.InvalidArgument));
    await assert.rejects(run, { name: "InvalidArgumentError" });
  });

  test("register rejects duplicates and bad names", () => {
    const local = new Worker("127.0.0.1:1", { pools: ["p"] });
    local.register("f", () => null);
    assert.throws(() => local.register("f", () => null), /already registered/);
    assert.throws(() => local.register("", () => null), TypeError);
    assert.throws(() => new Worker("127.0.0.1:1", { pools: [] }), RangeError);
    assert.throws(() => new Worker("127.0.0.1:1", { pools: ["p"], capacity: 0 }), RangeError);
  });
});
