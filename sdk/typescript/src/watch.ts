// CompletionWatch: a WatchCompletions subscription that reconnects and
// resumes after the last completion it delivered.

import { Code, ConnectError, type Client } from "@connectrpc/connect";

import type { WatchCompletionsResponse, WorkpoolService } from "../gen/workpool/v1/workpool_service_pb.js";
import { Backoff, sleep } from "./backoff.js";
import { completionFromProto, watchRequest } from "./convert.js";
import { fromCallError, type WorkpoolError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Completion } from "./models.js";

/** Options of WorkpoolClient.watchCompletions. */
export interface WatchOptions {
  /** Only completions of these pools; empty or left out means every pool. */
  pools?: readonly string[];
  /** Only completions of these items, at most 1,000; empty means every item. */
  workIds?: readonly string[];
  /**
   * Replay the log after this sequence, then follow it live. Left out, the
   * watch starts at the end of the log as of its first connection.
   */
  afterSequence?: number;
  /** Aborting the signal closes the watch, like close(). */
  signal?: AbortSignal;
  /** Cap of the delay between reconnect attempts; 10 s by default. */
  maxReconnectDelayMs?: number;
}

/**
 * Returns true for errors after which a watch or worker stream reconnects:
 * UNAVAILABLE, which the server sends when it shuts down, and the errors
 * that Connect raises for a connection that broke without a gRPC status.
 * Call it only for calls that the SDK did not cancel itself.
 */
export function isConnectionLoss(error: WorkpoolError): boolean {
  if (error.code === Code.Unavailable) {
    return true;
  }
  // connect-node reports a reset connection or destroyed stream as ABORTED,
  // and a stream of a connection that died (a killed server) as CANCELLED
  // from the HTTP/2 CANCEL code. This server sends neither code itself.
  if (error.code === Code.Aborted || error.code === Code.Canceled) {
    return true;
  }
  if (error.code === Code.Internal || error.code === Code.Unknown) {
    return hasNodeNetworkCause(error.cause) || /http\/2|missing trailer|premature close/i.test(error.details);
  }
  return false;
}

function hasNodeNetworkCause(cause: unknown): boolean {
  const seen = new Set<unknown>();
  while (cause instanceof Error && !seen.has(cause)) {
    seen.add(cause);
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && /^(ERR_HTTP2_|ECONN|EPIPE|ERR_STREAM_)/.test(code)) {
      return true;
    }
    cause = cause.cause;
  }
  return false;
}

/**
 * A subscription to the completion log, iterated with `for await`.
 *
 * It connects when the iteration starts. When the server restarts or the
 * connection breaks, it reconnects with capped exponential backoff and
 * resumes after `lastSequence`, so it never delivers a sequence twice. Any
 * other error, such as OUT_OF_RANGE when retention already removed entries
 * after `afterSequence`, ends the iteration by throwing a WorkpoolError.
 * One watch can be iterated once.
 */
export class CompletionWatch implements AsyncIterable<Completion> {
  /**
   * Sequence to resume after: that of the last completion delivered, or the
   * log's head from the first response when none was delivered yet.
   */
  lastSequence: number | undefined;

  /**
   * Resolves once the first response set the watch's position in the log,
   * so completions from then on are delivered. Rejects when the watch fails
   * before that.
   */
  readonly started: Promise<void>;

  private closed = false;
  private iterated = false;
  private readonly closeController = new AbortController();
  private resolveStarted!: () => void;
  private rejectStarted!: (error: unknown) => void;

  constructor(
    private readonly service: Client<typeof WorkpoolService>,
    private readonly options: WatchOptions,
    private readonly logger: Logger,
  ) {
    this.lastSequence = options.afterSequence;
    // Validate before the first connection.
    watchRequest(options.pools ?? [], options.workIds ?? [], options.afterSequence);
    this.started = new Promise<void>((resolve, reject) => {
      this.resolveStarted = resolve;
      this.rejectStarted = reject;
    });
    // A caller that never awaits `started` must not see an unhandled rejection.
    this.started.catch(() => {});
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
    if (options.signal?.aborted) {
      this.close();
    }
  }

  /** Ends the subscription; a pending iteration step finishes as done. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.closeController.abort();
    this.rejectStarted(new ConnectError("the watch was closed before it started", Code.Canceled));
  }

  [Symbol.asyncIterator](): AsyncIterator<Completion> {
    if (this.iterated) {
      throw new TypeError("a CompletionWatch can be iterated once; call watchCompletions again");
    }
    this.iterated = true;
    return this.run();
  }

  private async *run(): AsyncGenerator<Completion> {
    const backoff = new Backoff(200, this.options.maxReconnectDelayMs ?? 10_000);
    try {
      while (!this.closed) {
        let connected = false;
        let failure: WorkpoolError | undefined;
        const request = watchRequest(
          this.options.pools ?? [],
          this.options.workIds ?? [],
          this.lastSequence,
        );
        const responses = this.service.watchCompletions(request, {
          signal: this.closeController.signal,
        });
        try {
          for await (const response of responses) {
            connected = true;
            backoff.reset();
            yield* this.accept(response);
          }
        } catch (error) {
          if (this.closed) {
            return;
          }
          failure = fromCallError(error);
          if (!isConnectionLoss(failure)) {
            throw failure;
          }
        }

        this.logger.info(
          failure === undefined
            ? "Server ended the completion watch; reconnecting"
            : "Completion watch disconnected; reconnecting",
          { afterSequence: this.lastSequence, code: failure?.codeName, connected },
        );
        await sleep(backoff.nextDelayMs(), this.closeController.signal);
      }
    } catch (error) {
      this.rejectStarted(error);
      throw error;
    } finally {
      this.close();
    }
  }

  private *accept(response: WatchCompletionsResponse): Generator<Completion> {
    if (this.lastSequence === undefined) {
      this.lastSequence = Number(response.headSequence);
    }
    this.resolveStarted();

    for (const message of response.completions) {
      const sequence = Number(message.sequence);
      // A replay after a reconnect may repeat entries already delivered.
      if (this.lastSequence !== undefined && sequence <= this.lastSequence) {
        continue;
      }
      const completion = completionFromProto(message);
      this.lastSequence = sequence;
      yield completion;
    }
  }
}
