// Declares a pool, runs a worker in the same process, enqueues three items
// and waits for their completions. Usage: node dist/examples/quickstart.js [host:port]

import {
  NonRetryableError,
  Worker,
  Workpool,
  WorkpoolClient,
} from "../src/index.js";

const address = process.argv[2] ?? "127.0.0.1:50051";

const worker = new Worker(address, { pools: ["emails"], capacity: 10 });

worker.register("email.send", async (context, args: { to: string }) => {
  if (!args.to.includes("@")) {
    // Retrying cannot fix a bad address.
    throw new NonRetryableError(`invalid address ${JSON.stringify(args.to)}`);
  }
  // Stands for the call to the mail provider, which stops on a cancel.
  await new Promise((resolve) => setTimeout(resolve, 100));
  context.signal.throwIfAborted();
  return { sentTo: args.to, attempt: context.attempt };
});

worker.onComplete("email.done", (context, event) => {
  console.log(`follow-up: ${event.workId} ${event.result.kind}`, event.context);
});

const client = new WorkpoolClient(address);
const emails = new Workpool(client, {
  pool: "emails",
  maxParallelism: 5,
  retryActionsByDefault: true,
  defaultRetryBehavior: { maxAttempts: 3, initialBackoffMs: 1000, base: 2 },
});

// The pool must exist before the worker can take work from it.
await emails.ensurePool();
const running = worker.run();

const workIds = await emails.enqueueActionBatch(
  "email.send",
  [{ to: "ada@example.com" }, { to: "grace@example.com" }, { to: "nobody" }],
  { onComplete: "email.done", context: { campaign: "welcome" } },
);

// afterSequence 0 replays the log from its start, so the watch cannot miss
// an item that finished before it connected. The workIds filter keeps only
// these items.
const pending = new Set(workIds);
for await (const completion of client.watchCompletions({ workIds, afterSequence: 0 })) {
  console.log(completion.workId, completion.result);
  pending.delete(completion.workId);
  if (pending.size === 0) {
    break;
  }
}

await worker.stop(10_000);
await running;
client.close();
