// Worker: runs registered handlers for the assignments of a Work stream.
//
// One worker keeps one WorkerService.Work stream open at a time. Each
// assignment uses one credit of the server. The worker grants a credit back
// for each finished attempt, in the same message as its result, so at most
// `capacity` attempts are leased to the stream at once. When the stream
// fails, the server has already ended every attempt leased to it. The worker
// then raises those handlers' cancel signals, drops their results, and
// reconnects.

import * as os from "node:os";

import { create } from "@bufbuild/protobuf";
import type { Value } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Client } from "@connectrpc/connect";

import {
  CancelReason as ProtoCancelReason,
  CreditSchema,
  HeartbeatSchema,
  HelloSchema,
  WorkRequestSchema,
  WorkerService,
  type Assignment,
  type AttemptResult,
  type CancelAttempt,
  type WorkRequest,
  type WorkResponse,
} from "../gen/workpool/v1/worker_service_pb.js";
import { Backoff, sleep } from "./backoff.js";
import { openConnection, type Connection, type ConnectionOptions } from "./connection.js";
import { fromDuration, fromTimestamp } from "./convert.js";
import { fromCallError, type WorkpoolError } from "./errors.js";
import {
  WorkContext,
  defineOnComplete,
  errorMessage,
  runHandler,
  type Handler,
} from "./handlers.js";
import { defaultLogger, type Logger } from "./logger.js";
import type { CompletionEvent } from "./models.js";
import { MessageQueue, Semaphore } from "./queue.js";
import type { JsonValue } from "./values.js";

/** Largest capacity the server accepts in a hello. */
export const MAX_CAPACITY = 10_000;
/** Grace period of stop() unless the caller passes another. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

// Used when the welcome carries no heartbeat interval.
const FALLBACK_HEARTBEAT_MS = 10_000;
// How long a stopping worker waits for the server to end the stream after the
// worker half-closed it, before it cancels the call.
const CLOSE_TIMEOUT_MS = 5_000;

// Codes that mean the worker's settings or credentials are wrong, so a
// reconnect would fail the same way. NOT_FOUND is not among them because a
// worker may start before a client creates its pool.
const FATAL_CODES = new Set<Code>([
  Code.InvalidArgument,
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.Unimplemented,
]);

/** Options of a Worker. */
export interface WorkerOptions extends ConnectionOptions {
  /** Pools the worker takes work from; at least one. */
  pools: readonly string[];
  /** Handlers that run at once, shared by all pools: 1 to 10,000, 10 by default. */
  capacity?: number;
  /** Name for the server's logs; host name and process id by default. */
  name?: string;
  /** Cap of the delay between reconnect attempts; 30 s by default. */
  maxReconnectDelayMs?: number;
  /** Logger of the worker; the default writes warnings to the console. */
  logger?: Logger;
}

type AttemptKey = string;

function attemptKey(workId: string, attempt: number): AttemptKey {
  return `${workId}#${attempt}`;
}

/** One assignment, from its arrival until its result is queued or dropped. */
class Attempt {
  leaseLost = false;

  constructor(
    readonly session: Session,
    readonly context: WorkContext,
  ) {}

  get key(): AttemptKey {
    return attemptKey(this.context.workId, this.context.attempt);
  }

  logFields(): Record<string, unknown> {
    return {
      workId: this.context.workId,
      attempt: this.context.attempt,
      function: this.context.function,
      pool: this.context.pool,
      workerId: this.session.workerId,
    };
  }
}

/** State of one Work stream, from its start until it ends. */
class Session {
  readonly requests = new MessageQueue<WorkRequest>();
  readonly controller = new AbortController();
  readonly running = new Map<AttemptKey, Attempt>();
  readonly unacked = new Set<AttemptKey>();
  results: AttemptResult[] = [];
  credit = 0;
  heartbeatDue = false;
  closed = false;
  flushScheduled = false;
  workerId = "";
  heartbeatTimer: NodeJS.Timeout | undefined;

  /** Returns the ids whose leases this stream still holds. */
  heartbeatIds(): string[] {
    const ids = new Set<string>();
    for (const attempt of this.running.values()) {
      if (!attempt.leaseLost) {
        ids.add(attempt.context.workId);
      }
    }
    return [...ids].sort();
  }

  /** True when every result was sent and acknowledged. */
  isIdle(): boolean {
    return this.running.size === 0 && this.results.length === 0 && this.unacked.size === 0;
  }

  /** Takes everything waiting to be sent into one WorkRequest, if anything waits. */
  nextRequest(): WorkRequest | undefined {
    const request = create(WorkRequestSchema);
    let empty = true;
    if (this.results.length > 0) {
      request.results = this.results;
      this.results = [];
      empty = false;
    }
    if (this.credit > 0) {
      request.credit = create(CreditSchema, { count: this.credit });
      this.credit = 0;
      empty = false;
    }
    if (this.heartbeatDue) {
      this.heartbeatDue = false;
      const workIds = this.heartbeatIds();
      if (workIds.length > 0) {
        request.heartbeat = create(HeartbeatSchema, { workIds });
        empty = false;
      }
    }
    return empty ? undefined : request;
  }
}

/**
 * Runs handlers for work items of the given pools.
 *
 * ```ts
 * const worker = new Worker("127.0.0.1:50051", { pools: ["emails"], capacity: 10 });
 * worker.register("email.send", async (context, args) => ({ sent: args.to }));
 * await worker.run(); // until worker.stop()
 * ```
 *
 * At most `capacity` handlers run at once, across all pools. Heartbeats
 * renew the leases of running attempts at the interval the server's welcome
 * sets. The worker reconnects with capped exponential backoff and jitter
 * when the stream fails.
 */
export class Worker {
  private readonly address: string;
  private readonly options: WorkerOptions;
  private readonly pools: string[];
  private readonly capacity: number;
  private readonly name: string;
  private readonly logger: Logger;
  private readonly handlers = new Map<string, Handler>();

  // State of a run, reset by run().
  private runningNow = false;
  private connection: Connection | undefined;
  private service: Client<typeof WorkerService> | undefined;
  private session: Session | undefined;
  private attempts = new Set<Attempt>();
  private slots = new Semaphore(1);
  private stopping = false;
  private forceStop = false;
  private closing = false;
  private stopController = new AbortController();
  private stateListeners: (() => void)[] = [];
  private finished: Promise<void> = Promise.resolve();
  private connectedWaiters: (() => void)[] = [];

  /** `address` is "host:port", such as "127.0.0.1:50051", or a URL. */
  constructor(address: string, options: WorkerOptions) {
    this.address = address;
    this.options = options;
    this.pools = checkPools(options.pools);
    this.capacity = checkCapacity(options.capacity ?? 10);
    this.name = options.name ?? `${os.hostname()}:${process.pid}`;
    this.logger = options.logger ?? defaultLogger;
  }

  /** Names of the registered functions, in the order of the hello. */
  get functions(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /** True from run() until the worker has stopped. */
  get isRunning(): boolean {
    return this.runningNow;
  }

  // Registration.

  /**
   * Registers `handler(context, args)` for work items calling `fn`. Register
   * every handler before run(): the hello lists the functions once.
   */
  register(fn: string, handler: Handler): this {
    if (this.runningNow) {
      throw new Error(
        `cannot register ${JSON.stringify(fn)} while the worker runs; register every ` +
          "handler before run()",
      );
    }
    if (typeof fn !== "string" || fn === "") {
      throw new TypeError(
        `function must be a non-empty string such as "email.send", got ${JSON.stringify(fn)}`,
      );
    }
    if (typeof handler !== "function") {
      throw new TypeError(`handler for ${JSON.stringify(fn)} must be a function`);
    }
    if (this.handlers.has(fn)) {
      throw new Error(`a handler for ${JSON.stringify(fn)} is already registered`);
    }
    this.handlers.set(fn, handler);
    return this;
  }

  /**
   * Registers an on_complete follow-up handler: it receives the finished
   * item's id, the caller's context and the result, decoded from the
   * follow-up's args. Args that cannot be decoded fail the follow-up without
   * a retry.
   */
  onComplete<Context extends JsonValue = JsonValue>(
    fn: string,
    handler: (context: WorkContext, event: CompletionEvent<Context>) => unknown,
  ): this {
    return this.register(fn, defineOnComplete(handler));
  }

  // Running and stopping.

  /**
   * Runs until stop() or terminate() and resolves when the worker stopped.
   *
   * @throws InvalidArgumentError when the server rejects the hello, such as
   *   for an unknown setting; other errors cause a reconnect.
   */
  async run(): Promise<void> {
    if (this.runningNow) {
      throw new Error("the worker is already running");
    }
    if (this.handlers.size === 0) {
      throw new Error(
        "no handler is registered; call worker.register(name, handler) before run()",
      );
    }

    let finish!: () => void;
    this.finished = new Promise((resolve) => (finish = resolve));
    this.resetRunState();
    this.connection = openConnection(this.address, this.options);
    this.service = createClient(WorkerService, this.connection.transport);
    this.logger.info("Worker starting", {
      pools: this.pools,
      functions: this.functions,
      capacity: this.capacity,
      workerName: this.name,
    });

    try {
      await this.connectLoop();
    } finally {
      this.abandonAttempts();
      this.connection.close();
      this.runningNow = false;
      this.notify();
      finish();
      this.logger.info("Worker stopped", { workerName: this.name });
    }
  }

  /**
   * Stops taking work, lets running handlers report, then closes.
   *
   * The worker grants no more credit, waits up to `graceMs` for running
   * handlers to finish and for the server to acknowledge their results, then
   * closes the stream. Attempts still running then are ended by the server
   * as "worker lost" and retried per their policy. A second call while the
   * first waits skips the rest of the grace period.
   */
  async stop(graceMs: number = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    if (!Number.isFinite(graceMs) || graceMs < 0) {
      throw new RangeError(`graceMs is ${graceMs}; use zero or more milliseconds`);
    }
    if (!this.runningNow) {
      return;
    }
    if (this.stopping) {
      this.forceStop = true;
      this.notify();
      await this.finished;
      return;
    }

    this.stopping = true;
    this.stopController.abort();
    this.logger.info("Worker stopping", { workerName: this.name, graceMs });

    const drained = await this.waitUntil(() => this.isDrained(), graceMs);
    if (!drained) {
      this.logger.warn("Worker stop grace period elapsed with attempts running", {
        workIds: [...this.attempts].map((attempt) => attempt.context.workId).sort(),
      });
    }

    this.closing = true;
    const session = this.session;
    if (session !== undefined) {
      this.flush(session);
    }
    const ended = await this.waitUntil(() => !this.runningNow, CLOSE_TIMEOUT_MS);
    if (!ended) {
      // The server did not end the stream after the half-close.
      this.session?.controller.abort();
      await this.finished;
    }
  }

  /**
   * Ends the stream and closes the connection at once, without reporting
   * results, as a crash would. The server ends the attempts leased to the
   * stream as "worker lost"; their handlers see `stream_closed`. Meant for
   * tests and for a second interrupt signal.
   */
  terminate(): void {
    if (!this.runningNow) {
      return;
    }
    this.stopping = true;
    this.forceStop = true;
    this.stopController.abort();
    this.session?.controller.abort();
    this.connection?.close();
    this.notify();
  }

  /**
   * Runs until SIGINT or SIGTERM, then stops within `graceMs`. A second
   * signal stops at once; attempts still running are then ended by the
   * server as "worker lost" and retried per their policy.
   */
  async runUntilSignal(graceMs: number = DEFAULT_SHUTDOWN_GRACE_MS): Promise<void> {
    const stops: Promise<void>[] = [];
    const onSignal = (signal: NodeJS.Signals) => {
      this.logger.info("Worker received a stop signal", { signal });
      stops.push(this.stop(graceMs));
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      await this.run();
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      await Promise.allSettled(stops);
    }
  }

  /**
   * Resolves once the worker's stream got the server's welcome, so the
   * server can assign it work. Resolves at once when it is connected.
   */
  waitUntilConnected(): Promise<void> {
    if (this.session !== undefined && this.session.workerId !== "" && !this.session.closed) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.connectedWaiters.push(resolve));
  }

  private resetRunState(): void {
    this.runningNow = true;
    this.session = undefined;
    this.attempts = new Set();
    this.slots = new Semaphore(this.capacity);
    this.stopping = false;
    this.forceStop = false;
    this.closing = false;
    this.stopController = new AbortController();
  }

  // Connection.

  private async connectLoop(): Promise<void> {
    const backoff = new Backoff(500, this.options.maxReconnectDelayMs ?? 30_000);
    while (!this.stopping) {
      let failure: WorkpoolError | undefined;
      try {
        await this.runSession(backoff);
      } catch (error) {
        failure = fromCallError(error);
      }
      if (this.stopping) {
        return;
      }
      if (failure !== undefined && failure.code !== undefined && FATAL_CODES.has(failure.code)) {
        this.logger.error("Server rejected the worker", {
          code: failure.codeName,
          details: failure.details,
        });
        throw failure;
      }

      const delayMs = backoff.nextDelayMs();
      this.logger.warn(
        failure === undefined
          ? "Server ended the worker stream; reconnecting"
          : "Worker stream failed; reconnecting",
        { code: failure?.codeName, details: failure?.details, delayMs: Math.round(delayMs) },
      );
      await sleep(delayMs, this.stopController.signal);
    }
  }

  private async runSession(backoff: Backoff): Promise<void> {
    const session = new Session();
    this.session = session;
    session.requests.push(
      create(WorkRequestSchema, {
        hello: create(HelloSchema, {
          pools: this.pools,
          functions: this.functions,
          capacity: this.capacity,
          workerName: this.name,
        }),
      }),
    );

    try {
      const responses = this.service!.work(session.requests, {
        signal: session.controller.signal,
      });
      for await (const response of responses) {
        if (response.welcome !== undefined) {
          this.welcome(session, response, backoff);
        }
        this.handleResponse(session, response);
      }
    } finally {
      this.endSession(session);
    }
  }

  private welcome(session: Session, response: WorkResponse, backoff: Backoff): void {
    const welcome = response.welcome!;
    session.workerId = welcome.workerId;
    const intervalMs =
      welcome.heartbeatInterval !== undefined ? fromDuration(welcome.heartbeatInterval) : 0;
    const heartbeatMs = intervalMs > 0 ? intervalMs : FALLBACK_HEARTBEAT_MS;
    clearInterval(session.heartbeatTimer);
    session.heartbeatTimer = setInterval(() => {
      session.heartbeatDue = true;
      this.flush(session);
    }, heartbeatMs);
    backoff.reset();
    this.logger.info("Worker connected", { workerId: session.workerId, heartbeatMs });

    const waiters = this.connectedWaiters;
    this.connectedWaiters = [];
    for (const resolve of waiters) {
      resolve();
    }
  }

  private endSession(session: Session): void {
    session.closed = true;
    clearInterval(session.heartbeatTimer);
    session.requests.end();
    session.controller.abort();
    if (this.session === session) {
      this.session = undefined;
    }

    const orphans = [...session.running.values()];
    for (const attempt of orphans) {
      attempt.context.requestCancel("stream_closed");
    }
    if (orphans.length > 0) {
      this.logger.warn("Worker stream closed with attempts running; their results will be dropped", {
        workerId: session.workerId,
        workIds: orphans.map((attempt) => attempt.context.workId).sort(),
      });
    }
    this.notify();
  }

  // Sending.

  /** Sends what waits in one message, on the next turn of the event loop. */
  private flush(session: Session): void {
    if (session.flushScheduled || session.closed) {
      return;
    }
    session.flushScheduled = true;
    setImmediate(() => {
      session.flushScheduled = false;
      if (session.closed) {
        return;
      }
      const request = session.nextRequest();
      if (request !== undefined) {
        session.requests.push(request);
      }
      if (this.closing && session.results.length === 0) {
        // Half-close: the server then ends the stream.
        session.requests.end();
      }
    });
  }

  // Messages from the server.

  private handleResponse(session: Session, response: WorkResponse): void {
    for (const assignment of response.assignments) {
      this.startAttempt(session, assignment);
    }
    for (const cancel of response.cancels) {
      this.cancelAttempt(session, cancel);
    }
    for (const ack of response.acks) {
      session.unacked.delete(attemptKey(ack.workId, ack.attempt));
      if (!ack.accepted) {
        this.logger.info("Server ignored a stale result", {
          workId: ack.workId,
          attempt: ack.attempt,
        });
      }
    }
    if (response.acks.length > 0) {
      this.notify();
    }
  }

  private startAttempt(session: Session, assignment: Assignment): void {
    const context = new WorkContext({
      workId: assignment.workId,
      attempt: assignment.attempt,
      pool: assignment.pool,
      function: assignment.function,
      leaseExpiresAt: fromTimestamp(assignment.leaseExpiresAt),
      deadline: fromTimestamp(assignment.deadline),
    });
    const attempt = new Attempt(session, context);
    if (session.running.has(attempt.key)) {
      this.logger.error("Duplicate assignment ignored", attempt.logFields());
      return;
    }

    // An assignment that arrives while the worker stops still runs: the
    // protocol has no way to hand it back without ending the attempt.
    session.running.set(attempt.key, attempt);
    this.attempts.add(attempt);
    this.logger.debug("Attempt assigned", attempt.logFields());
    void this.execute(attempt, assignment.args);
  }

  private cancelAttempt(session: Session, cancel: CancelAttempt): void {
    const attempt = session.running.get(attemptKey(cancel.workId, cancel.attempt));
    if (attempt === undefined) {
      this.logger.debug("Cancel request for an attempt that is not running", {
        workId: cancel.workId,
        attempt: cancel.attempt,
      });
      return;
    }

    if (cancel.reason === ProtoCancelReason.LEASE_LOST) {
      attempt.leaseLost = true;
      this.logger.warn("Lease lost; the attempt's result will be dropped", attempt.logFields());
      attempt.context.requestCancel("lease_lost");
    } else if (cancel.reason === ProtoCancelReason.TIMEOUT) {
      this.logger.info("Attempt timed out; canceling its handler", attempt.logFields());
      attempt.context.requestCancel("timeout");
    } else {
      this.logger.info("Cancel requested", attempt.logFields());
      attempt.context.requestCancel("requested");
    }
  }

  // Attempts.

  private async execute(attempt: Attempt, rawArgs: Value | undefined): Promise<void> {
    let result: AttemptResult | undefined;
    await this.slots.acquire();
    try {
      // An attempt that waited for a slot may have lost its stream.
      if (!attempt.session.closed && !attempt.leaseLost) {
        const handler = this.handlers.get(attempt.context.function);
        result = await runHandler(handler, attempt.context, rawArgs, (message, error) =>
          this.logger.warn(message, { ...attempt.logFields(), error: errorMessage(error) }),
        );
      }
    } finally {
      this.slots.release();
      this.attempts.delete(attempt);
      attempt.session.running.delete(attempt.key);
    }
    this.finish(attempt, result);
  }

  private finish(attempt: Attempt, result: AttemptResult | undefined): void {
    const session = attempt.session;
    if (session.closed) {
      if (result !== undefined) {
        this.logger.warn("Result dropped because its worker stream closed", attempt.logFields());
      }
    } else if (attempt.leaseLost) {
      this.logger.info("Result dropped because the lease was lost", attempt.logFields());
      this.grantCredit(session);
    } else if (result !== undefined) {
      session.results.push(result);
      session.unacked.add(attempt.key);
      this.grantCredit(session);
    }
    this.flush(session);
    this.notify();
  }

  private grantCredit(session: Session): void {
    // A stopping worker grants no credit, so the server assigns it nothing
    // beyond the credit it already holds.
    if (!this.stopping) {
      session.credit += 1;
    }
  }

  private abandonAttempts(): void {
    if (this.attempts.size === 0) {
      return;
    }
    this.logger.warn("Worker closing with attempts running; signaling their handlers to cancel", {
      workIds: [...this.attempts].map((attempt) => attempt.context.workId).sort(),
    });
    for (const attempt of this.attempts) {
      attempt.context.requestCancel("shutdown");
    }
  }

  // Stop bookkeeping.

  private notify(): void {
    const listeners = this.stateListeners;
    this.stateListeners = [];
    for (const listener of listeners) {
      listener();
    }
  }

  private isDrained(): boolean {
    if (this.forceStop) {
      return true;
    }
    const session = this.session;
    return session === undefined || session.closed || session.isIdle();
  }

  /** Resolves true once `condition` holds, or false after `timeoutMs`. */
  private async waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return false;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.stateListeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}

function checkPools(pools: readonly string[]): string[] {
  if (!Array.isArray(pools)) {
    throw new TypeError("pools must be an array of pool names");
  }
  if (pools.length === 0) {
    throw new RangeError("pools is empty; list at least one pool to take work from");
  }
  pools.forEach((pool, index) => {
    if (typeof pool !== "string" || pool === "") {
      throw new TypeError(`pools[${index}] must be a non-empty string, got ${JSON.stringify(pool)}`);
    }
  });
  return [...pools];
}

function checkCapacity(capacity: number): number {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new RangeError(
      `capacity is ${capacity}; use an integer from 1 to ${MAX_CAPACITY} handlers at once`,
    );
  }
  return capacity;
}
