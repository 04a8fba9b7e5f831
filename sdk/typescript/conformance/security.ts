// Connection settings of the runners: TLS when WORKPOOL_CA_FILE names the
// CA's PEM file, and a bearer token when WORKPOOL_TOKEN is set. The
// orchestrator sets both for the scenarios and neither for the flows.

import { readFileSync } from "node:fs";

import type { ConnectionOptions } from "../src/index.js";

/** Returns the address to dial: an https URL when TLS is on. */
export function serverAddress(server: string): string {
  return process.env.WORKPOOL_CA_FILE ? `https://${server}` : server;
}

/** Connection options for every client and worker a runner makes. */
export function securityOptions(): ConnectionOptions {
  const options: ConnectionOptions = {};
  const caFile = process.env.WORKPOOL_CA_FILE;
  if (caFile) {
    options.nodeOptions = { ca: readFileSync(caFile) };
  }
  const token = process.env.WORKPOOL_TOKEN;
  if (token) {
    options.token = token;
  }
  return options;
}
