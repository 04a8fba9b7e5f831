// Worker handlers: their context, how they are called and how their results
// become AttemptResult messages.

import { create } from "@bufbuild/protobuf";

import {
  AttemptContinuationSchema,
  AttemptFailureSchema,
  AttemptResultSchema,
  AttemptSuccessSchema,
  type AttemptResult,
} from "../gen/workpool/v1/worker_service_pb.js";
import { NonRetryableError } from "./errors.js";
import type { CompletionEvent, Result } from "./models.js";
import { fromValue, toValue, type JsonValue } from "./values.js";
import type { Value } from "@bufbuild/protobuf/wkt";

/**
 * A worker handler: receives the attempt's context and the decoded args, and
 * returns (or resolves to) the JSON-like return value, or `new Continue(args)`
 * to run the item again at once with new args. Throw NonRetryableError to
 * fail the item without a retry; any other error fails the attempt and the
 * item's retry policy decides what follows.
 */
// `any` lets handlers declare the args type they expect without a cast.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler<Args = any> = (context: WorkContext, args: Args) => unknown;

/** Why a handler's cancel signal was raised. */
export type CancelReason =
  /** A client canceled the item; a handler that still returns reports success. */
  | "requested"
  /** The server no longer holds the lease for this worker; the result is dropped. */
  | "lease_lost"
  /** The worker's stream closed; the server already ended the attempt. */
  | "stream_closed"
  /** The worker stopped and its grace period ended. */
  | "shutdown"
  /**
   * The attempt ran past its attempt timeout. The server already ended it as
   * a failure, retried per the item's policy, and drops this result.
   */
  | "timeout";

/**
 * Handler result that ends the attempt and runs the item again at once with
 * `args`: `return new Continue({ page: page + 1 })`. The item keeps its id,
 * and the next attempt starts with a fresh retry budget.
 */
export class Continue {
  constructor(readonly args: unknown = null) {}
}

/**
 * Attempt details and the cooperative cancel signal passed to a handler.
 *
 * `signal` aborts when a client cancels the item, when the attempt runs past
 * its attempt timeout, when the server reports the lease lost, when the stream that assigned the attempt closes, and when
 * a stopping worker's grace period ends. Pass it to APIs that accept an
 * AbortSignal, such as `fetch`, or check `cancelRequested`. The handler's
 * promise is never abandoned: it decides when to stop.
 */
export class WorkContext {
  readonly workId: string;
  /** Attempt number, from 1. */
  readonly attempt: number;
  readonly pool: string;
  readonly function: string;
  /** Time the lease ends unless a heartbeat renews it; the worker renews it. */
  readonly leaseExpiresAt: Date | undefined;
  /** Time the server ends the attempt as timed out; undefined without a timeout. */
  readonly deadline: Date | undefined;
  /** Why the cancel signal was raised, or undefined while it was not. */
  cancelReason: CancelReason | undefined;

  private readonly controller = new AbortController();

  constructor(fields: {
    workId: string;
    attempt: number;
    pool: string;
    function: string;
    leaseExpiresAt?: Date | undefined;
    deadline?: Date | undefined;
  }) {
    this.workId = fields.workId;
    this.attempt = fields.attempt;
    this.pool = fields.pool;
    this.function = fields.function;
    this.leaseExpiresAt = fields.leaseExpiresAt;
    this.deadline = fields.deadline;
  }

  /** Aborts when a cancel is requested; see the class comment for when. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** True once a cancel was requested. */
  get cancelRequested(): boolean {
    return this.controller.signal.aborted;
  }

  /** Resolves when a cancel is requested, at once if it already was. */
  whenCancelRequested(): Promise<CancelReason> {
    return new Promise((resolve) => {
      if (this.cancelReason !== undefined) {
        resolve(this.cancelReason);
        return;
      }
      this.signal.addEventListener("abort", () => resolve(this.cancelReason ?? "requested"), {
        once: true,
      });
    });
  }

  /** Raises the cancel signal; the first reason wins. Called by the worker. */
  requestCancel(reason: CancelReason): void {
    if (this.cancelReason !== undefined) {
      return;
    }
    this.cancelReason = reason;
    this.controller.abort(new Error(`work item ${this.workId} cancel requested: ${reason}`));
  }
}

/**
 * Runs one attempt and builds the AttemptResult to report.
 *
 * Errors become failures with the message "Name: message". NonRetryableError,
 * a missing handler and a return value that is not JSON-like are marked
 * non-retryable, because a retry would fail the same way.
 */
export async function runHandler(
  handler: Handler | undefined,
  context: WorkContext,
  rawArgs: Value | undefined,
  onError: (message: string, error: unknown) => void,
): Promise<AttemptResult> {
  const result = create(AttemptResultSchema, {
    workId: context.workId,
    attempt: context.attempt,
  });
  const fail = (error: string, nonRetryable: boolean) => {
    result.outcome = {
      case: "failure",
      value: create(AttemptFailureSchema, { error, nonRetryable }),
    };
    return result;
  };

  if (handler === undefined) {
    // The hello listed only registered functions, so this is a server bug.
    onError("Assignment for an unregistered function", undefined);
    return fail(`no handler is registered for ${JSON.stringify(context.function)} on this worker`, true);
  }

  let returned: unknown;
  try {
    returned = await handler(context, fromValue(rawArgs));
  } catch (error) {
    const nonRetryable = error instanceof NonRetryableError;
    onError(nonRetryable ? "Handler failed; not retrying" : "Handler failed", error);
    return fail(errorMessage(error), nonRetryable);
  }

  if (returned instanceof Continue) {
    let args: Value;
    try {
      args = toValue(returned.args, "continuation args");
    } catch (error) {
      onError("Handler continued with args that are not JSON-like", error);
      return fail(errorMessage(error), true);
    }
    result.outcome = {
      case: "continuation",
      value: create(AttemptContinuationSchema, { args }),
    };
    return result;
  }

  let returnValue: Value;
  try {
    returnValue = toValue(returned, "return value");
  } catch (error) {
    onError("Handler returned a value that is not JSON-like", error);
    return fail(errorMessage(error), true);
  }
  result.outcome = {
    case: "success",
    value: create(AttemptSuccessSchema, { returnValue }),
  };
  return result;
}

/** Formats a thrown value as "Name: message", the form reported to the server. */
export function errorMessage(error: unknown): string {
  if (error instanceof NonRetryableError) {
    return `${error.name}: ${error.details}`;
  }
  if (error instanceof Error) {
    return `${error.name}: ${error.message}`;
  }
  return String(error);
}

/**
 * Decodes the args of an on_complete follow-up: `{work_id, context, result}`
 * where result is `{kind: "success", return_value}`, `{kind: "failure",
 * error}` or `{kind: "canceled"}`.
 *
 * @throws NonRetryableError when the args do not have that shape, because
 *   they stay malformed on every retry.
 */
export function completionEventFromArgs(args: JsonValue): CompletionEvent {
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new NonRetryableError(
      "on_complete args must be an object with work_id, context and result",
    );
  }
  const workId = args["work_id"];
  if (typeof workId !== "string" || workId === "") {
    throw new NonRetryableError(
      `on_complete args have no valid work_id: ${JSON.stringify(workId)}`,
    );
  }
  return {
    workId,
    context: args["context"] ?? null,
    result: followUpResult(args["result"]),
  };
}

function followUpResult(raw: JsonValue | undefined): Result {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new NonRetryableError(
      `on_complete args have no valid result object: ${JSON.stringify(raw)}`,
    );
  }
  switch (raw["kind"]) {
    case "success":
      return { kind: "success", returnValue: raw["return_value"] ?? null };
    case "failure": {
      const error = raw["error"];
      return {
        kind: "failure",
        error: error === undefined || error === null ? "" : String(error),
        nonRetryable: raw["non_retryable"] === true,
      };
    }
    case "canceled":
      return { kind: "canceled" };
    default:
      throw new NonRetryableError(
        `on_complete result has the kind ${JSON.stringify(raw["kind"])}; expected ` +
          '"success", "failure" or "canceled"',
      );
  }
}

/**
 * Wraps an on_complete handler so it receives a decoded CompletionEvent
 * instead of raw args. Register the result under the follow-up function's
 * name: `worker.register("email.done", defineOnComplete(handler))`.
 */
export function defineOnComplete<Context extends JsonValue = JsonValue>(
  handler: (context: WorkContext, event: CompletionEvent<Context>) => unknown,
): Handler<JsonValue> {
  return (context, args) =>
    handler(context, completionEventFromArgs(args) as CompletionEvent<Context>);
}
