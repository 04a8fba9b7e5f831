// Errors of the SDK and the one place where gRPC errors become them.

import { Code, ConnectError } from "@connectrpc/connect";

import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";

/** One invalid field of a request, from a google.rpc.BadRequest detail. */
export interface FieldViolation {
  /** Path of the field, such as "work.args" or "work[3].function". */
  readonly field: string;
  /** The rule that the value broke. */
  readonly description: string;
}

/** gRPC status code names, as the gRPC specification spells them. */
export type StatusCodeName =
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

const CODE_NAMES: Record<Code, StatusCodeName> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "UNIMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

/** Returns the gRPC name of a status code, such as "INVALID_ARGUMENT". */
export function statusCodeName(code: Code): StatusCodeName {
  return CODE_NAMES[code] ?? "UNKNOWN";
}

/**
 * Root of every error that the SDK throws on purpose.
 *
 * Errors returned by the server carry the gRPC `code`, its `codeName`, the
 * server's `details` message and any BadRequest `fieldViolations`. Invalid
 * JavaScript input (NaN in args, a negative delay) throws the built-in
 * TypeError or RangeError instead, before any call is made.
 */
export class WorkpoolError extends Error {
  override name = "WorkpoolError";
  /** gRPC status code, or undefined for errors raised by the SDK itself. */
  readonly code: Code | undefined;
  /** Message of the server, without the code prefix that Connect adds. */
  readonly details: string;
  /** Invalid fields listed by the server; empty when it listed none. */
  readonly fieldViolations: readonly FieldViolation[];

  constructor(
    details: string,
    options: {
      code?: Code;
      fieldViolations?: readonly FieldViolation[];
      cause?: unknown;
    } = {},
  ) {
    super(formatMessage(details, options.code, options.fieldViolations ?? []), {
      cause: options.cause,
    });
    this.code = options.code;
    this.details = details;
    this.fieldViolations = options.fieldViolations ?? [];
  }

  /** gRPC name of the code, such as "NOT_FOUND", or undefined. */
  get codeName(): StatusCodeName | undefined {
    return this.code === undefined ? undefined : statusCodeName(this.code);
  }
}

function formatMessage(
  details: string,
  code: Code | undefined,
  violations: readonly FieldViolation[],
): string {
  const prefix = code === undefined ? "" : `${statusCodeName(code)}: `;
  // Servers often repeat the violations in the message; add only the ones
  // that it leaves out.
  const missing = violations
    .filter((violation) => !details.includes(violation.description))
    .map((violation) => `${violation.field}: ${violation.description}`);
  const suffix = missing.length > 0 ? ` (${missing.join("; ")})` : "";
  return `${prefix}${details}${suffix}`;
}

/** The server rejected a request field (INVALID_ARGUMENT). */
export class InvalidArgumentError extends WorkpoolError {
  override name = "InvalidArgumentError";
}

/** The pool or work item does not exist, or its status expired (NOT_FOUND). */
export class NotFoundError extends WorkpoolError {
  override name = "NotFoundError";
}

/** A pool of that name already exists (ALREADY_EXISTS). */
export class AlreadyExistsError extends WorkpoolError {
  override name = "AlreadyExistsError";
}

/** The request does not fit the current state, such as deleting a busy pool. */
export class FailedPreconditionError extends WorkpoolError {
  override name = "FailedPreconditionError";
}

/** A request or message exceeded a size or count limit (RESOURCE_EXHAUSTED). */
export class ResourceExhaustedError extends WorkpoolError {
  override name = "ResourceExhaustedError";
}

/** The completion log no longer contains the requested entries (OUT_OF_RANGE). */
export class OutOfRangeError extends WorkpoolError {
  override name = "OutOfRangeError";
}

/** The server cannot be reached or is shutting down (UNAVAILABLE). */
export class UnavailableError extends WorkpoolError {
  override name = "UnavailableError";
}

/** The call did not finish before its deadline (DEADLINE_EXCEEDED). */
export class DeadlineExceededError extends WorkpoolError {
  override name = "DeadlineExceededError";
}

/** The call carried no valid credentials (UNAUTHENTICATED). */
export class UnauthenticatedError extends WorkpoolError {
  override name = "UnauthenticatedError";
}

/** The caller may not perform this call (PERMISSION_DENIED). */
export class PermissionDeniedError extends WorkpoolError {
  override name = "PermissionDeniedError";
}

/** The server does not implement this call (UNIMPLEMENTED). */
export class UnimplementedError extends WorkpoolError {
  override name = "UnimplementedError";
}

/** The server failed while handling the call (INTERNAL, UNKNOWN, DATA_LOSS). */
export class InternalError extends WorkpoolError {
  override name = "InternalError";
}

/**
 * Throw from a worker handler to fail the work item without a retry.
 *
 * The attempt is reported as a failure marked non-retryable, so the item ends
 * as failed even when its retry policy has attempts left.
 */
export class NonRetryableError extends WorkpoolError {
  override name = "NonRetryableError";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
  }
}

type ErrorClass = new (
  details: string,
  options: { code?: Code; fieldViolations?: readonly FieldViolation[]; cause?: unknown },
) => WorkpoolError;

// Codes without an entry here (CANCELLED, ABORTED) become a WorkpoolError.
const ERROR_CLASSES: Partial<Record<Code, ErrorClass>> = {
  [Code.InvalidArgument]: InvalidArgumentError,
  [Code.NotFound]: NotFoundError,
  [Code.AlreadyExists]: AlreadyExistsError,
  [Code.FailedPrecondition]: FailedPreconditionError,
  [Code.ResourceExhausted]: ResourceExhaustedError,
  [Code.OutOfRange]: OutOfRangeError,
  [Code.Unavailable]: UnavailableError,
  [Code.DeadlineExceeded]: DeadlineExceededError,
  [Code.Unauthenticated]: UnauthenticatedError,
  [Code.PermissionDenied]: PermissionDeniedError,
  [Code.Unimplemented]: UnimplementedError,
  [Code.Internal]: InternalError,
  [Code.Unknown]: InternalError,
  [Code.DataLoss]: InternalError,
};

/**
 * Converts an error of a Connect call to the WorkpoolError subclass of its
 * code. BadRequest field violations come from the google.rpc.Status in the
 * grpc-status-details-bin trailer, which Connect decodes into `details`.
 * Errors that are already WorkpoolErrors pass through unchanged.
 */
export function fromCallError(error: unknown): WorkpoolError {
  if (error instanceof WorkpoolError) {
    return error;
  }

  const connectError = ConnectError.from(error);
  const errorClass = ERROR_CLASSES[connectError.code] ?? WorkpoolError;
  return new errorClass(connectError.rawMessage || statusCodeName(connectError.code), {
    code: connectError.code,
    fieldViolations: fieldViolations(connectError),
    cause: error,
  });
}

function fieldViolations(error: ConnectError): FieldViolation[] {
  const violations: FieldViolation[] = [];
  let badRequests;
  try {
    badRequests = error.findDetails(BadRequestSchema);
  } catch {
    // A detail that does not decode is a server bug; keep the code and
    // message rather than hide them.
    return violations;
  }
  for (const badRequest of badRequests) {
    for (const violation of badRequest.fieldViolations) {
      violations.push({ field: violation.field, description: violation.description });
    }
  }
  return violations;
}
