// WorkpoolClient: enqueue work, read its status, cancel it, watch
// completions and manage pools.

import { create } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Client } from "@connectrpc/connect";

import {
  CreatePoolRequestSchema,
  DeletePoolRequestSchema,
  GetPoolRequestSchema,
  ListPoolsRequestSchema,
  PoolService,
} from "../gen/workpool/v1/pool_service_pb.js";
import {
  CancelAllRequestSchema,
  CancelRequestSchema,
  EnqueueBatchRequestSchema,
  EnqueueRequestSchema,
  ExplainRequestSchema,
  StatusBatchRequestSchema,
  StatusRequestSchema,
  WorkpoolService,
} from "../gen/workpool/v1/workpool_service_pb.js";
import { DEFAULT_TIMEOUT_MS, openConnection, type Connection, type ConnectionOptions } from "./connection.js";
import {
  cancelOutcomeFromProto,
  explanationFromProto,
  poolFromProto,
  poolSettingsThatDiffer,
  poolSettingsToProto,
  statusFromProto,
  updatePoolRequest,
  workItemToSpec,
} from "./convert.js";
import { AlreadyExistsError, NotFoundError, fromCallError } from "./errors.js";
import { defaultLogger, type Logger } from "./logger.js";
import type {
  CancelAllResult,
  CancelOutcome,
  EnqueueOptions,
  EnqueueResult,
  Explanation,
  Pool,
  PoolSettings,
  WorkItem,
  WorkStatus,
} from "./models.js";
import { CompletionWatch, type WatchOptions } from "./watch.js";

/** Options of a WorkpoolClient. */
export interface ClientOptions extends ConnectionOptions {
  /** Deadline of every unary call in ms; null for none. 30 s by default. */
  timeoutMs?: number | null;
  /** Logger of watch reconnects; the default writes warnings to the console. */
  logger?: Logger;
}

/**
 * Client of the WorkpoolService and PoolService.
 *
 * It opens one HTTP/2 connection with keepalive pings every 30 s and 64 MiB
 * message limits. Call `close()` when done, because the open connection
 * keeps the Node process alive. Every method throws a WorkpoolError
 * subclass chosen by the gRPC status code, such as NotFoundError.
 */
export class WorkpoolClient {
  private readonly connection: Connection;
  private readonly workpool: Client<typeof WorkpoolService>;
  private readonly pools: Client<typeof PoolService>;
  private readonly timeoutMs: number | undefined;
  private readonly logger: Logger;

  /** `address` is "host:port", such as "127.0.0.1:50051", or a URL. */
  constructor(address: string, options: ClientOptions = {}) {
    this.connection = openConnection(address, options);
    this.workpool = createClient(WorkpoolService, this.connection.transport);
    this.pools = createClient(PoolService, this.connection.transport);
    this.timeoutMs =
      options.timeoutMs === null ? undefined : (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.logger = options.logger ?? defaultLogger;
  }

  /** Closes the connection if the client opened it, ending open watches. */
  close(): void {
    this.connection.close();
  }

  // Work items.

  /**
   * Enqueues one call of `fn` in `pool` and returns its work id.
   *
   * `options.retry` is undefined for the pool's default, true for the pool's
   * retry policy, false for a single attempt, or a RetryPolicy. A repeated
   * `idempotencyKey` returns the id of the first item.
   *
   * @throws NotFoundError when the pool does not exist.
   * @throws InvalidArgumentError when the server rejects a field.
   */
  async enqueue(pool: string, fn: string, args?: unknown, options: EnqueueOptions = {}): Promise<string> {
    const result = await this.enqueueWithResult(pool, { ...options, function: fn, args });
    return result.workId;
  }

  /**
   * Enqueues one item and returns its id, whether its idempotency key matched
   * an earlier item, and the completion sequence to watch from.
   */
  async enqueueWithResult(pool: string, item: WorkItem): Promise<EnqueueResult> {
    const request = create(EnqueueRequestSchema, { pool, work: workItemToSpec(item) });
    const response = await this.call(() => this.workpool.enqueue(request, this.callOptions()));
    return {
      workId: response.workId,
      deduplicated: response.deduplicated,
      completionSequence: Number(response.completionSequence),
    };
  }

  /** Enqueues several items in one pool, all or none; returns ids in order. */
  async enqueueBatch(pool: string, items: readonly WorkItem[]): Promise<string[]> {
    const work = items.map((item, index) => workItemToSpec(item, `items[${index}]`));
    const request = create(EnqueueBatchRequestSchema, { pool, work });
    const response = await this.call(() => this.workpool.enqueueBatch(request, this.callOptions()));
    return response.workIds;
  }

  /**
   * Returns the status of a work item.
   *
   * @throws NotFoundError when the id was never issued or its status expired.
   */
  async status(workId: string): Promise<WorkStatus> {
    const request = create(StatusRequestSchema, { workId });
    const response = await this.call(() => this.workpool.status(request, this.callOptions()));
    if (response.status === undefined) {
      throw new NotFoundError(`server returned no status for ${workId}`);
    }
    return statusFromProto(response.status);
  }

  /** Returns the status of several items in order; unknown ids get "not_found". */
  async statusBatch(workIds: readonly string[]): Promise<WorkStatus[]> {
    const request = create(StatusBatchRequestSchema, { workIds: [...workIds] });
    const response = await this.call(() => this.workpool.statusBatch(request, this.callOptions()));
    return response.statuses.map(statusFromProto);
  }

  /**
   * Returns why a work item is not running now, such as a paused pool, a
   * backoff or no worker serving its function.
   *
   * @throws NotFoundError when the id was never issued or its status expired.
   */
  async explain(workId: string): Promise<Explanation> {
    const request = create(ExplainRequestSchema, { workId });
    const response = await this.call(() => this.workpool.explain(request, this.callOptions()));
    return explanationFromProto(response);
  }

  /** Cancels a work item and returns what the cancel did. */
  async cancel(workId: string): Promise<CancelOutcome> {
    const request = create(CancelRequestSchema, { workId });
    const response = await this.call(() => this.workpool.cancel(request, this.callOptions()));
    return cancelOutcomeFromProto(response.outcome);
  }

  /** Cancels every item of `pool` enqueued before this call. */
  async cancelAll(pool: string): Promise<CancelAllResult> {
    const request = create(CancelAllRequestSchema, { pool });
    const response = await this.call(() => this.workpool.cancelAll(request, this.callOptions()));
    return {
      canceledCount: Number(response.canceledCount),
      cancelRequestedCount: Number(response.cancelRequestedCount),
    };
  }

  /**
   * Subscribes to the completion log; iterate the result with `for await`.
   *
   * Left out, `afterSequence` starts the watch at the end of the log as of
   * its first connection. The watch reconnects when the server restarts or
   * the connection breaks and resumes after the last completion it
   * delivered, so none is lost or repeated. Leave the loop, call `close()`
   * or abort `options.signal` to stop it.
   */
  watchCompletions(options: WatchOptions = {}): CompletionWatch {
    return new CompletionWatch(this.workpool, options, this.logger);
  }

  // Pools.

  /**
   * Creates a pool; settings left out take the server's defaults.
   *
   * @throws AlreadyExistsError when a pool of that name exists.
   */
  async createPool(name: string, settings: PoolSettings = {}): Promise<Pool> {
    const { pool } = poolSettingsToProto(name, settings);
    const request = create(CreatePoolRequestSchema, { pool });
    const response = await this.call(() => this.pools.createPool(request, this.callOptions()));
    return poolFromProto(response.pool ?? pool);
  }

  /**
   * Returns a pool with its counts of pending and running items.
   *
   * @throws NotFoundError when no pool has that name.
   */
  async getPool(name: string): Promise<Pool> {
    const request = create(GetPoolRequestSchema, { name });
    const response = await this.call(() => this.pools.getPool(request, this.callOptions()));
    if (response.pool === undefined) {
      throw new NotFoundError(`server returned no pool for ${name}`);
    }
    return poolFromProto(response.pool, response.stats);
  }

  /** Returns every pool in name order, reading all pages. */
  async listPools(pageSize = 0): Promise<Pool[]> {
    const pools: Pool[] = [];
    let pageToken = "";
    for (;;) {
      const request = create(ListPoolsRequestSchema, { pageSize, pageToken });
      const response = await this.call(() => this.pools.listPools(request, this.callOptions()));
      pools.push(...response.pools.map((pool) => poolFromProto(pool)));
      pageToken = response.nextPageToken;
      if (pageToken === "") {
        return pools;
      }
    }
  }

  /**
   * Changes the given settings of a pool and leaves the others alone. The
   * update mask lists exactly the settings given; null for `defaultRetry` or
   * `statusTtlMs` restores the server's default.
   *
   * @throws NotFoundError when no pool has that name.
   */
  async updatePool(name: string, settings: PoolSettings): Promise<Pool> {
    const request = updatePoolRequest(name, settings);
    const response = await this.call(() => this.pools.updatePool(request, this.callOptions()));
    if (response.pool === undefined) {
      throw new NotFoundError(`server returned no pool for ${name}`);
    }
    return poolFromProto(response.pool);
  }

  /**
   * Deletes a pool.
   *
   * @throws NotFoundError when no pool has that name.
   * @throws FailedPreconditionError when the pool has pending or running items.
   */
  async deletePool(name: string): Promise<void> {
    const request = create(DeletePoolRequestSchema, { name });
    await this.call(() => this.pools.deletePool(request, this.callOptions()));
  }

  /**
   * Creates the pool if it is missing, or updates the settings that differ.
   * Settings left out are not compared, so an existing pool keeps its value
   * and a new one gets the server's default.
   */
  async ensurePool(name: string, settings: PoolSettings = {}): Promise<Pool> {
    // Validate before any call.
    poolSettingsToProto(name, settings);

    let current: Pool;
    try {
      current = await this.getPool(name);
    } catch (error) {
      if (!(error instanceof NotFoundError)) {
        throw error;
      }
      try {
        return await this.createPool(name, settings);
      } catch (createError) {
        if (!(createError instanceof AlreadyExistsError)) {
          throw createError;
        }
        // Another process created it between the two calls.
        current = await this.getPool(name);
      }
    }

    const changed = poolSettingsThatDiffer(current, settings);
    if (Object.keys(changed).length === 0) {
      return current;
    }
    return this.updatePool(name, changed);
  }

  private callOptions(): CallOptions {
    return this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs };
  }

  private async call<T>(invoke: () => Promise<T>): Promise<T> {
    try {
      return await invoke();
    } catch (error) {
      throw fromCallError(error);
    }
  }
}
