// An in-process gRPC server on 127.0.0.1 for tests, built with Connect's
// Node adapter, so the SDK's real transport talks to hand-written services.

import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";

import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/** A running fake server and how to stop it. */
export interface FakeServer {
  address: string;
  close(): Promise<void>;
}

/** Starts a server with the given routes on a free loopback port. */
export async function startFakeServer(routes: (router: ConnectRouter) => void): Promise<FakeServer> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(connectNodeAdapter({ routes, grpc: true }));
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) {
          session.destroy();
        }
        server.close(() => resolve());
      }),
  };
}

/** An unbounded channel of values, read with `next()` from tests. */
export class Channel<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter(item);
    } else {
      this.items.push(item);
    }
  }

  /** Resolves with the next value, or rejects after `timeoutMs`. */
  next(timeoutMs = 5_000): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) {
      return Promise.resolve(item);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(onItem);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`no value within ${timeoutMs} ms`));
      }, timeoutMs);
      // A test that ends while a fake stream waits must not keep Node alive.
      timer.unref();
      const onItem = (value: T) => {
        clearTimeout(timer);
        resolve(value);
      };
      this.waiters.push(onItem);
    });
  }
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
