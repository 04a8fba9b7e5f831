// Connections shared by the client and the worker: a Connect gRPC transport
// over one HTTP/2 session, with keepalive pings and message size limits.

import type * as http2 from "node:http2";

import type { Interceptor, Transport } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";

/** Largest message the SDK sends or accepts: 64 MiB. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

// The server accepts keepalive pings every 20 s even without active calls. A
// 30 s interval stays above that minimum, so the server never closes the
// connection with GOAWAY "too_many_pings". The pings let an idle watch or
// worker stream notice a dead connection within about 40 s (interval plus
// timeout) instead of waiting for TCP to time out.
export const KEEPALIVE_INTERVAL_MS = 30_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;

/** Deadline of unary calls unless the caller passes another timeoutMs. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** How to reach the server, for WorkpoolClient and Worker. */
export interface ConnectionOptions {
  /**
   * A Connect transport to use instead of opening a connection. The caller
   * keeps it and closes it; the SDK then ignores `nodeOptions`.
   */
  transport?: Transport;
  /**
   * Options of Node's `http2.connect`, such as `ca` for TLS with an
   * `https://` address.
   */
  nodeOptions?: http2.ClientSessionOptions | http2.SecureClientSessionOptions;
  /**
   * Bearer token sent as `authorization: Bearer TOKEN` with every call, for a
   * server that lists tokens. Send it over TLS beyond loopback.
   */
  token?: string;
}

/** An open connection and how to end it. */
export interface Connection {
  readonly transport: Transport;
  /** Closes the HTTP/2 session if the SDK opened it, ending its open calls. */
  close(): void;
}

/**
 * Opens a connection to `address`: "host:port" for plain text (such as
 * "127.0.0.1:50051"), or an "http://" or "https://" URL.
 */
export function openConnection(address: string, options: ConnectionOptions = {}): Connection {
  if (options.transport !== undefined) {
    return { transport: options.transport, close: () => {} };
  }

  const baseUrl = baseUrlOf(address);
  const interceptors = options.token === undefined ? [] : [bearer(options.token)];
  const sessionManager = new Http2SessionManager(
    baseUrl,
    {
      pingIntervalMs: KEEPALIVE_INTERVAL_MS,
      pingTimeoutMs: KEEPALIVE_TIMEOUT_MS,
      pingIdleConnection: true,
    },
    options.nodeOptions,
  );
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    interceptors,
    readMaxBytes: MAX_MESSAGE_BYTES,
    writeMaxBytes: MAX_MESSAGE_BYTES,
  });
  return { transport, close: () => sessionManager.abort() };
}

// The token is checked once here, so that a bad one fails when the client is
// made rather than on its first call.
function bearer(token: string): Interceptor {
  if (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError(
      "token must be a non-empty string of printable ASCII without spaces, " +
        "as made by `workpool token create`",
    );
  }
  const value = `Bearer ${token}`;
  return (next) => async (request) => {
    request.header.set("authorization", value);
    return await next(request);
  };
}

/** Returns the base URL of an address given as "host:port" or as a URL. */
export function baseUrlOf(address: string): string {
  if (typeof address !== "string" || address.length === 0) {
    throw new TypeError(
      `address must be a server address such as "127.0.0.1:50051", got ${JSON.stringify(address)}`,
    );
  }
  if (address.startsWith("http://") || address.startsWith("https://")) {
    return address;
  }
  if (address.includes("://")) {
    throw new TypeError(
      `address ${address} has an unsupported scheme; use "host:port", "http://host:port" ` +
        'or "https://host:port"',
    );
  }
  return `http://${address}`;
}
