// Runs one conformance scenario (tests/conformance/README.md) against a
// server, through the SDK's public client and worker only.

import { randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";

import {
  Continue,
  NonRetryableError,
  Worker,
  WorkpoolError,
  silentLogger,
  type Completion,
  type CompletionWatch,
  type EnqueueOptions,
  type JsonValue,
  type PoolSettings,
  type RetryOption,
  type WorkContext,
  type WorkpoolClient,
} from "../src/index.js";
import { securityOptions } from "./security.js";

/** How long an expect_* step is retried before it fails. */
const EXPECT_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 20;
/** Grace of a stop_worker step with abrupt false. */
const STOP_GRACE_MS = 10_000;
/** How long start_worker waits for the server's welcome. */
const CONNECT_TIMEOUT_MS = 10_000;

type Json = JsonValue;
type Fields = { [key: string]: Json };

/** A scenario file, as tests/conformance/README.md describes it. */
export interface Scenario {
  name: string;
  description?: string;
  pool?: Fields;
  functions?: { [name: string]: Fields };
  steps: Fields[];
}

/** A step that did not hold; its message is the scenario's FAIL reason. */
export class StepFailure extends Error {}

interface WatchState {
  watch: CompletionWatch | undefined;
  loop: Promise<void> | undefined;
  seen: Completion[];
  lastSequence: number | undefined;
  error: unknown;
}

interface WorkerState {
  worker: Worker;
  run: Promise<void>;
}

/** State of one scenario run. */
export class ScenarioRun {
  readonly pool: string;
  private readonly ids = new Map<string, string>();
  private readonly keysById = new Map<string, string>();
  // Handler runs are recorded by work id, because a handler may start
  // before the enqueue call returned the id. Checks map ids to keys, which
  // also leaves out the follow-ups that the server enqueues.
  private readonly runsById = new Map<string, number>();
  private readonly startOrderIds: string[] = [];
  private readonly runningById = new Map<string, number>();
  /** Starts (+1) and ends (-1) of handler runs, in order, by work id. */
  private readonly runEvents: { workId: string; change: 1 | -1 }[] = [];
  /** Keys released for every run, and key#attempt pairs released for one run. */
  private readonly released = new Set<string>();
  private readonly releaseWaiters = new Set<() => void>();
  private readonly followUps: Fields[] = [];
  private readonly workers = new Map<string, WorkerState>();
  private readonly watches = new Map<string, WatchState>();

  constructor(
    private readonly client: WorkpoolClient,
    private readonly server: string,
    private readonly scenario: Scenario,
  ) {
    this.pool = `${scenario.name}-${randomBytes(4).toString("hex")}`;
  }

  /** Runs every step; throws StepFailure (or the SDK's error) at the first failed step. */
  async run(): Promise<void> {
    await this.client.createPool(this.pool, poolSettings(this.scenario.pool ?? {}));
    try {
      for (const [index, step] of this.scenario.steps.entries()) {
        try {
          await this.runStep(step);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          throw new StepFailure(`step ${index + 1} (${String(step["op"])}): ${message}`);
        }
      }
    } finally {
      await this.cleanUp();
    }
  }

  private async runStep(step: Fields): Promise<void> {
    const op = String(step["op"]);
    switch (op) {
      case "enqueue":
        return this.enqueue(step);
      case "enqueue_batch":
        return this.enqueueBatch(step);
      case "start_worker":
        return this.startWorker(String(step["name"]), Number(step["capacity"] ?? 1));
      case "stop_worker":
        return this.stopWorker(String(step["name"]), step["abrupt"] === true);
      case "release":
        return this.release(String(step["key"]), step["attempt"]);
      case "update_pool":
        await this.client.updatePool(this.pool, { maxParallelism: Number(step["max_parallelism"]) });
        return;
      case "cancel":
        return this.cancel(step);
      case "expect_status":
        return this.eventually(() => this.checkStatus(step));
      case "expect_running":
        return this.eventually(() => expectEqual("running handlers", this.runningCount(), step["count"]));
      case "expect_max_concurrent":
        return this.eventually(() => {
          const maxConcurrent = this.maxConcurrent();
          if (maxConcurrent > Number(step["max"])) {
            throw new StepFailure(`${maxConcurrent} handlers ran at once, over ${String(step["max"])}`);
          }
        });
      case "expect_started_order":
        return this.eventually(() => this.checkStartedOrder(step["keys"] as string[]));
      case "expect_attempts":
        return this.eventually(() =>
          expectEqual(
            `handler runs of ${String(step["key"])}`,
            this.runsOf(String(step["key"])),
            step["count"],
          ),
        );
      case "expect_follow_up":
        return this.eventually(() => this.checkFollowUp(step));
      case "expect_error":
        return this.checkError(step);
      case "watch_start":
        return this.startWatch(String(step["name"]), undefined);
      case "watch_stop":
        return this.stopWatch(String(step["name"]));
      case "watch_resume": {
        const state = this.watches.get(String(step["name"]));
        if (state === undefined) {
          throw new StepFailure(`no watch named ${String(step["name"])}`);
        }
        return this.startWatch(String(step["name"]), state.lastSequence);
      }
      case "expect_watch":
        return this.eventually(() => this.checkWatch(String(step["name"]), step["keys"] as string[]));
      case "sleep_ms":
        await delay(Number(step["ms"]));
        return;
      default:
        throw new StepFailure(`unknown op ${op}`);
    }
  }

  // Work.

  private async enqueue(step: Fields): Promise<void> {
    const options: EnqueueOptions = {};
    const retry = retryOption(step["retry"]);
    if (retry !== undefined) options.retry = retry;
    const onComplete = step["on_complete"] as Fields | undefined;
    if (onComplete !== undefined && onComplete !== null) {
      options.onComplete = {
        function: String(onComplete["function"]),
        context: expand(onComplete["context"] ?? null),
      };
    }
    if (step["run_after_ms"] !== undefined) options.runAfterMs = Number(step["run_after_ms"]);
    Object.assign(options, schedulingOptions(step));

    const args = step["args"] === undefined ? undefined : expand(step["args"]);
    const workId = await this.client.enqueue(this.pool, String(step["function"]), args, options);
    this.remember(String(step["key"]), workId);
  }

  private async enqueueBatch(step: Fields): Promise<void> {
    const keys = step["keys"] as string[];
    const args = step["args"] === undefined ? undefined : expand(step["args"]);
    const items = keys.map(() => ({
      function: String(step["function"]),
      args,
      ...schedulingOptions(step),
    }));
    const workIds = await this.client.enqueueBatch(this.pool, items);
    keys.forEach((key, index) => this.remember(key, workIds[index]!));
  }

  private remember(key: string, workId: string): void {
    this.ids.set(key, workId);
    this.keysById.set(workId, key);
  }

  private idOf(key: string): string {
    const workId = this.ids.get(key);
    if (workId === undefined) {
      throw new StepFailure(`no item was enqueued under the key ${key}`);
    }
    return workId;
  }

  private async cancel(step: Fields): Promise<void> {
    const outcome = await this.client.cancel(this.idOf(String(step["key"])));
    expectEqual(`cancel outcome of ${String(step["key"])}`, outcome, step["expect"]);
  }

  private release(key: string, attempt: Json | undefined): void {
    if (attempt === undefined) {
      this.released.add(key);
    } else if (typeof attempt === "number" && Number.isInteger(attempt) && attempt >= 1) {
      this.released.add(`${key}#${attempt}`);
    } else {
      throw new StepFailure(`release attempt is ${JSON.stringify(attempt)}; use an attempt number of 1 or more`);
    }
    for (const wake of [...this.releaseWaiters]) {
      wake();
    }
  }

  private isReleased(workId: string, attempt: number): boolean {
    const key = this.keysById.get(workId);
    return key !== undefined && (this.released.has(key) || this.released.has(`${key}#${attempt}`));
  }

  // Workers.

  private async startWorker(name: string, capacity: number): Promise<void> {
    if (this.workers.has(name)) {
      throw new StepFailure(`a worker named ${name} already runs`);
    }
    const worker = new Worker(this.server, {
      ...securityOptions(),
      pools: [this.pool],
      capacity,
      name: `conformance-${name}`,
      logger: silentLogger,
      maxReconnectDelayMs: 1_000,
    });
    for (const [fn, behaviour] of Object.entries(this.scenario.functions ?? {})) {
      worker.register(fn, (context, args) => this.runBehaviour(behaviour, context, args));
    }
    const run = worker.run();
    this.workers.set(name, { worker, run });
    const connected = await Promise.race([
      worker.waitUntilConnected().then(() => true),
      run.then(() => false),
      delay(CONNECT_TIMEOUT_MS).then(() => false),
    ]);
    if (!connected) {
      throw new StepFailure(`worker ${name} did not connect within ${CONNECT_TIMEOUT_MS} ms`);
    }
  }

  private async stopWorker(name: string, abrupt: boolean): Promise<void> {
    const state = this.workers.get(name);
    if (state === undefined) {
      throw new StepFailure(`no worker named ${name}`);
    }
    this.workers.delete(name);
    if (abrupt) {
      state.worker.terminate();
    } else {
      await state.worker.stop(STOP_GRACE_MS);
    }
    await state.run;
  }

  private async runBehaviour(behaviour: Fields, context: WorkContext, args: Json): Promise<unknown> {
    const workId = context.workId;
    this.runsById.set(workId, (this.runsById.get(workId) ?? 0) + 1);
    if (!this.startOrderIds.includes(workId)) {
      this.startOrderIds.push(workId);
    }
    this.runningById.set(workId, (this.runningById.get(workId) ?? 0) + 1);
    this.runEvents.push({ workId, change: 1 });
    try {
      return await this.behave(behaviour, context, args);
    } finally {
      this.runningById.set(workId, (this.runningById.get(workId) ?? 1) - 1);
      this.runEvents.push({ workId, change: -1 });
    }
  }

  private async behave(behaviour: Fields, context: WorkContext, args: Json): Promise<unknown> {
    const error = typeof behaviour["error"] === "string" ? behaviour["error"] : "boom";
    switch (behaviour["type"]) {
      case "echo":
        return args;
      case "fail":
        throw new Error(error);
      case "fail_then_succeed":
        if (context.attempt <= Number(behaviour["failures"] ?? 1)) {
          throw new Error(error);
        }
        return args;
      case "non_retryable":
        throw new NonRetryableError(error);
      case "block":
        await this.waitForRelease(context);
        if (context.attempt <= Number(behaviour["failures"] ?? 0)) {
          throw new Error(error);
        }
        return args;
      case "wait_for_cancel":
        await context.whenCancelRequested();
        if (behaviour["then"] === "fail") {
          throw new Error("stopped after cancel");
        }
        if (behaviour["then"] !== "succeed") {
          throw new NonRetryableError(`unknown wait_for_cancel then ${JSON.stringify(behaviour["then"])}`);
        }
        return { finished: "after cancel" };
      case "record":
        this.followUps.push(args as Fields);
        return args;
      case "continue": {
        // Continues with {round: n + 1} until round reaches `times`.
        const round = Number((args as Fields | null)?.["round"] ?? 0);
        if (round < Number(behaviour["times"])) {
          return new Continue({ round: round + 1 });
        }
        return args;
      }
      default:
        throw new NonRetryableError(`unknown function type ${String(behaviour["type"])}`);
    }
  }

  private waitForRelease(context: WorkContext): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (this.isReleased(context.workId, context.attempt)) {
          this.releaseWaiters.delete(wake);
          resolve();
        }
      };
      this.releaseWaiters.add(wake);
      // The handler may start before the enqueue step stored its key, so
      // it checks again on every release and after the step returns.
      wake();
      setTimeout(wake, 0);
      // A worker that lost its stream or stopped stands for a dead process:
      // its blocked handlers end instead of running on.
      context.signal.addEventListener("abort", () => {
        if (context.cancelReason === "stream_closed" || context.cancelReason === "shutdown") {
          this.releaseWaiters.delete(wake);
          reject(new Error(`handler of ${context.workId} ended with its worker (${context.cancelReason})`));
        }
      });
    });
  }

  // Checks.

  private async checkStatus(step: Fields): Promise<void> {
    const key = String(step["key"]);
    const status = await this.client.status(this.idOf(key));
    expectEqual(`state of ${key}`, status.state, step["state"]);
    if (step["previous_attempts"] !== undefined) {
      expectEqual(`previous_attempts of ${key}`, status.previousAttempts, step["previous_attempts"]);
    }
    if (step["result"] !== undefined) {
      expectEqual(`result of ${key}`, status.result?.kind, step["result"]);
    }
    if (step["return_value"] !== undefined) {
      const returned = status.result?.kind === "success" ? status.result.returnValue : undefined;
      expectEqual(`return_value of ${key}`, returned, expand(step["return_value"]));
    }
    if (step["concurrency_key"] !== undefined) {
      expectEqual(`concurrency_key of ${key}`, status.concurrencyKey, step["concurrency_key"]);
    }
    if (step["priority"] !== undefined) {
      expectEqual(`priority of ${key}`, status.priority, step["priority"]);
    }
    if (step["continuations"] !== undefined) {
      expectEqual(`continuations of ${key}`, status.continuations, step["continuations"]);
    }
    if (step["error_contains"] !== undefined) {
      const error = status.result?.kind === "failure" ? status.result.error : status.lastError ?? "";
      if (!error.includes(String(step["error_contains"]))) {
        throw new StepFailure(
          `error of ${key} is ${JSON.stringify(error)}, which does not contain ` +
            JSON.stringify(step["error_contains"]),
        );
      }
    }
  }

  private checkStartedOrder(keys: string[]): void {
    const order = this.startOrderIds
      .filter((workId) => this.keysById.has(workId))
      .map((workId) => this.keysById.get(workId)!);
    const prefix = order.slice(0, keys.length);
    if (!isDeepStrictEqual(prefix, keys)) {
      throw new StepFailure(
        `items started in the order ${JSON.stringify(order)}, expected ${JSON.stringify(keys)} first`,
      );
    }
  }

  private checkFollowUp(step: Fields): void {
    const key = String(step["key"]);
    const workId = this.idOf(key);
    const matches = this.followUps.filter((args) => args["work_id"] === workId);
    if (matches.length !== 1) {
      throw new StepFailure(`follow-up of ${key} ran ${matches.length} times, expected once`);
    }
    const args = matches[0]!;
    const result = (args["result"] ?? {}) as Fields;
    expectEqual(`follow-up result of ${key}`, result["kind"], step["result"]);
    if (step["context"] !== undefined) {
      expectEqual(`follow-up context of ${key}`, args["context"], expand(step["context"]));
    }
    if (step["return_value"] !== undefined) {
      expectEqual(`follow-up return_value of ${key}`, result["return_value"], expand(step["return_value"]));
    }
  }

  private async checkError(step: Fields): Promise<void> {
    const request = (step["request"] ?? {}) as Fields;
    let caught: unknown;
    try {
      if (step["call"] === "enqueue") {
        const options: EnqueueOptions = {};
        const retry = retryOption(request["retry"]);
        if (retry !== undefined) options.retry = retry;
        const args = request["args"] === undefined ? undefined : expand(request["args"]);
        await this.client.enqueue(this.pool, String(request["function"] ?? ""), args, options);
      } else if (step["call"] === "status") {
        await this.client.status(String(request["work_id"] ?? ""));
      } else {
        throw new StepFailure(`unknown call ${String(step["call"])}`);
      }
    } catch (error) {
      if (error instanceof StepFailure) {
        throw error;
      }
      caught = error;
    }

    if (caught === undefined) {
      throw new StepFailure(`${String(step["call"])} succeeded, expected ${String(step["code"])}`);
    }
    if (!(caught instanceof WorkpoolError) || caught.code === undefined) {
      throw new StepFailure(`${String(step["call"])} failed before any call: ${String(caught)}`);
    }
    expectEqual("status code", caught.codeName, step["code"]);
    if (step["field"] !== undefined) {
      const fields = caught.fieldViolations.map((violation) => violation.field);
      if (!fields.includes(String(step["field"]))) {
        throw new StepFailure(
          `field violations ${JSON.stringify(fields)} do not name ${String(step["field"])}`,
        );
      }
    }
  }

  // Watches.

  private async startWatch(name: string, afterSequence: number | undefined): Promise<void> {
    const state: WatchState = this.watches.get(name) ?? {
      watch: undefined,
      loop: undefined,
      seen: [],
      lastSequence: undefined,
      error: undefined,
    };
    if (state.watch !== undefined) {
      throw new StepFailure(`watch ${name} is already open`);
    }
    this.watches.set(name, state);

    const options = afterSequence === undefined ? { pools: [this.pool] } : { pools: [this.pool], afterSequence };
    const watch = this.client.watchCompletions({ ...options, maxReconnectDelayMs: 1_000 });
    state.watch = watch;
    state.loop = (async () => {
      try {
        for await (const completion of watch) {
          state.seen.push(completion);
        }
      } catch (error) {
        state.error = error;
      }
    })();
    await watch.started;
    state.lastSequence = watch.lastSequence;
  }

  private async stopWatch(name: string): Promise<void> {
    const state = this.watches.get(name);
    if (state?.watch === undefined) {
      throw new StepFailure(`no open watch named ${name}`);
    }
    state.watch.close();
    await state.loop;
    state.lastSequence = state.watch.lastSequence;
    state.watch = undefined;
  }

  private checkWatch(name: string, keys: string[]): void {
    const state = this.watches.get(name);
    if (state === undefined) {
      throw new StepFailure(`no watch named ${name}`);
    }
    if (state.error !== undefined) {
      throw new StepFailure(`watch ${name} failed: ${String(state.error)}`);
    }
    const seen = state.seen
      .filter((completion) => this.keysById.has(completion.workId))
      .map((completion) => ({ key: this.keysById.get(completion.workId)!, sequence: completion.sequence }));
    const seenKeys = seen.map((entry) => entry.key);
    if (!isDeepStrictEqual([...seenKeys].sort(), [...keys].sort())) {
      throw new StepFailure(`watch ${name} saw ${JSON.stringify(seenKeys)}, expected ${JSON.stringify(keys)}`);
    }
    for (let index = 1; index < seen.length; index++) {
      if (seen[index]!.sequence <= seen[index - 1]!.sequence) {
        throw new StepFailure(`watch ${name} saw sequences out of order: ${JSON.stringify(seen)}`);
      }
    }
  }

  // Counts of handler runs, over the items that steps enqueued.

  private runsOf(key: string): number {
    const workId = this.ids.get(key);
    return workId === undefined ? 0 : (this.runsById.get(workId) ?? 0);
  }

  private runningCount(): number {
    let count = 0;
    for (const [workId, running] of this.runningById) {
      if (this.keysById.has(workId)) count += running;
    }
    return count;
  }

  private maxConcurrent(): number {
    let running = 0;
    let max = 0;
    for (const event of this.runEvents) {
      if (!this.keysById.has(event.workId)) continue;
      running += event.change;
      max = Math.max(max, running);
    }
    return max;
  }

  // Helpers.

  private async eventually(check: () => void | Promise<void>): Promise<void> {
    const deadline = Date.now() + EXPECT_TIMEOUT_MS;
    for (;;) {
      try {
        await check();
        return;
      } catch (error) {
        if (Date.now() >= deadline) {
          throw error;
        }
      }
      await delay(POLL_INTERVAL_MS);
    }
  }

  private async cleanUp(): Promise<void> {
    for (const key of this.ids.keys()) {
      this.released.add(key);
    }
    for (const wake of [...this.releaseWaiters]) {
      wake();
    }
    for (const state of this.watches.values()) {
      state.watch?.close();
      await state.loop;
    }
    const workers = [...this.workers.values()];
    this.workers.clear();
    for (const state of workers) {
      state.worker.terminate();
    }
    await Promise.allSettled(workers.map((state) => state.run));
    // Leave no pending work behind; the pool itself stays for inspection.
    await this.client.cancelAll(this.pool).catch(() => {});
  }
}

/**
 * Expands every `{"$repeat": string, "times": n}` object inside a scenario
 * value into the repeated string.
 */
export function expand(value: Json): Json {
  if (Array.isArray(value)) {
    return value.map(expand);
  }
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value);
    if (
      keys.length === 2 &&
      typeof value["$repeat"] === "string" &&
      typeof value["times"] === "number" &&
      Number.isInteger(value["times"])
    ) {
      return value["$repeat"].repeat(value["times"]);
    }
    const expanded: Fields = {};
    for (const [key, item] of Object.entries(value)) {
      expanded[key] = expand(item);
    }
    return expanded;
  }
  return value;
}

function expectEqual(subject: string, actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new StepFailure(`${subject} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}

/** Converts a scenario's retry field: absent, true, false or a policy object. */
export function retryOption(raw: Json | undefined): RetryOption {
  if (raw === undefined || raw === null) {
    return undefined;
  }
  if (typeof raw === "boolean") {
    return raw;
  }
  const policy = raw as Fields;
  const result: RetryOption = {};
  if (policy["max_attempts"] !== undefined) result.maxAttempts = Number(policy["max_attempts"]);
  if (policy["initial_backoff_ms"] !== undefined) result.initialBackoffMs = Number(policy["initial_backoff_ms"]);
  if (policy["base"] !== undefined) result.base = Number(policy["base"]);
  if (policy["max_backoff_ms"] !== undefined) result.maxBackoffMs = Number(policy["max_backoff_ms"]);
  return result;
}

/** Converts the scheduling fields of an enqueue step; absent fields stay unset. */
export function schedulingOptions(step: Fields): EnqueueOptions {
  const options: EnqueueOptions = {};
  if (step["concurrency_key"] !== undefined) options.concurrencyKey = String(step["concurrency_key"]);
  if (step["priority"] !== undefined) options.priority = Number(step["priority"]);
  if (step["attempt_timeout_ms"] !== undefined) {
    options.attemptTimeoutMs = Number(step["attempt_timeout_ms"]);
  }
  return options;
}

const POOL_FIELDS = new Set([
  "max_parallelism",
  "retry_by_default",
  "default_retry",
  "max_per_key",
  "priority_aging_ms",
  "default_attempt_timeout_ms",
]);

/** Converts a scenario's pool field to pool settings; absent fields stay unset. */
export function poolSettings(pool: Fields): PoolSettings {
  const unknown = Object.keys(pool).filter((field) => !POOL_FIELDS.has(field));
  if (unknown.length > 0) {
    throw new StepFailure(`unknown pool fields ${JSON.stringify(unknown)}`);
  }
  const settings: PoolSettings = {};
  if (pool["max_per_key"] !== undefined) settings.maxPerKey = Number(pool["max_per_key"]);
  if (pool["priority_aging_ms"] !== undefined) {
    settings.priorityAgingMs = Number(pool["priority_aging_ms"]);
  }
  if (pool["default_attempt_timeout_ms"] !== undefined) {
    settings.defaultAttemptTimeoutMs = Number(pool["default_attempt_timeout_ms"]);
  }
  if (pool["max_parallelism"] !== undefined) settings.maxParallelism = Number(pool["max_parallelism"]);
  if (pool["retry_by_default"] !== undefined) settings.retryByDefault = pool["retry_by_default"] === true;
  if (pool["default_retry"] !== undefined && pool["default_retry"] !== null) {
    settings.defaultRetry = retryOption(pool["default_retry"]) as Exclude<RetryOption, boolean | undefined>;
  }
  return settings;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
