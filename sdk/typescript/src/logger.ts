// The logging interface of the SDK. Messages are constant; ids, codes and
// errors go in the fields object.

/** Receives the SDK's log records; `console` satisfies it. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Drops every record. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * The default: warnings and errors go to `console.warn` and `console.error`
 * with their fields, and debug and info records are dropped.
 */
export const defaultLogger: Logger = {
  debug() {},
  info() {},
  warn(message, fields) {
    console.warn(`workpool: ${message}`, fields ?? {});
  },
  error(message, fields) {
    console.error(`workpool: ${message}`, fields ?? {});
  },
};
