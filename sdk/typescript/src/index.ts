// Public API of the Workpool TypeScript SDK.

export { WorkpoolClient, type ClientOptions } from "./client.js";
export {
  DEFAULT_TIMEOUT_MS,
  KEEPALIVE_INTERVAL_MS,
  MAX_MESSAGE_BYTES,
  type ConnectionOptions,
} from "./connection.js";
export {
  AlreadyExistsError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NonRetryableError,
  NotFoundError,
  OutOfRangeError,
  PermissionDeniedError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  UnimplementedError,
  WorkpoolError,
  fromCallError,
  statusCodeName,
  type FieldViolation,
  type StatusCodeName,
} from "./errors.js";
export {
  Continue,
  WorkContext,
  completionEventFromArgs,
  defineOnComplete,
  type CancelReason,
  type Handler,
} from "./handlers.js";
export { defaultLogger, silentLogger, type Logger } from "./logger.js";
export * from "./models.js";
export { fromValue, toValue, type JsonValue } from "./values.js";
export { CompletionWatch, type WatchOptions } from "./watch.js";
export { Worker, DEFAULT_SHUTDOWN_GRACE_MS, MAX_CAPACITY, type WorkerOptions } from "./worker.js";
export { Workpool, type EnqueueActionOptions, type WorkpoolOptions } from "./workpool.js";
