// BullMQ side of the Workpool benchmark.
//
//   node bench.mjs enqueue REDIS_URL COUNT   Queue.add COUNT times, 64 in flight
//   node bench.mjs preload REDIS_URL COUNT   Queue.addBulk in chunks of 1,000
//   node bench.mjs worker REDIS_URL CONCURRENCY
//
// enqueue and preload print one JSON line {"rate": jobs per second}. worker
// runs a no-op processor until SIGTERM. Completed jobs stay in the queue's
// completed set (BullMQ's default), which the benchmark counts.
import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";

const QUEUE = "bench";
const IN_FLIGHT = 64;
const CHUNK = 1000;

function connect(url) {
  // Workers block on Redis, so BullMQ requires maxRetriesPerRequest: null.
  return new IORedis(url, { maxRetriesPerRequest: null });
}

async function enqueue(url, count) {
  const connection = connect(url);
  const queue = new Queue(QUEUE, { connection });
  await queue.add("noop", {});
  const perLoop = Math.floor(count / IN_FLIGHT);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = 0; i < perLoop; i += 1) {
        await queue.add("noop", {});
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await queue.close();
  await connection.quit();
  return (perLoop * IN_FLIGHT) / seconds;
}

async function preload(url, count) {
  const connection = connect(url);
  const queue = new Queue(QUEUE, { connection });
  const started = performance.now();
  for (let done = 0; done < count; done += CHUNK) {
    const size = Math.min(CHUNK, count - done);
    await queue.addBulk(Array.from({ length: size }, () => ({ name: "noop", data: {} })));
  }
  const seconds = (performance.now() - started) / 1000;
  await queue.close();
  await connection.quit();
  return count / seconds;
}

async function work(url, concurrency) {
  const connection = connect(url);
  const worker = new Worker(QUEUE, async () => null, { connection, concurrency });
  const stop = async () => {
    await worker.close();
    await connection.quit();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

const [command, url, countText] = process.argv.slice(2);
const count = Number.parseInt(countText, 10);
if (!url || !Number.isInteger(count) || count < 1) {
  console.error("usage: node bench.mjs enqueue|preload|worker REDIS_URL COUNT");
  process.exit(2);
}
if (command === "worker") {
  await work(url, count);
} else if (command === "enqueue") {
  console.log(JSON.stringify({ rate: await enqueue(url, count) }));
} else if (command === "preload") {
  console.log(JSON.stringify({ rate: await preload(url, count) }));
} else {
  console.error(`unknown command ${command}; expected enqueue, preload or worker`);
  process.exit(2);
}
