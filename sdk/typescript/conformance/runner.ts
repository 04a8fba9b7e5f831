#!/usr/bin/env node
// Conformance runner of the TypeScript SDK; tests/conformance/README.md
// describes its command line, the scenario files and the roles.
//
//   node dist/conformance/runner.js --server 127.0.0.1:PORT \
//     --scenarios tests/conformance/scenarios [--only NAME]
//   node dist/conformance/runner.js --server ... --role enqueue|worker|watch --pool P --count N [--after S]

import { readFile, readdir } from "node:fs/promises";
import * as path from "node:path";
import { parseArgs } from "node:util";

import { Worker, WorkpoolClient, silentLogger } from "../src/index.js";
import { ScenarioRun, type Scenario } from "./scenario.js";
import { securityOptions, serverAddress } from "./security.js";

const LANGUAGE = "typescript";

const USAGE = `usage:
  runner --server HOST:PORT --scenarios DIR [--only NAME]
  runner --server HOST:PORT --role enqueue --pool P --count N
  runner --server HOST:PORT --role worker --pool P --count N
  runner --server HOST:PORT --role watch --pool P --after S --count N`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      server: { type: "string" },
      scenarios: { type: "string" },
      only: { type: "string" },
      role: { type: "string" },
      pool: { type: "string" },
      count: { type: "string" },
      after: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.server === undefined) {
    console.error(`--server is missing\n${USAGE}`);
    return 2;
  }

  const server = serverAddress(values.server);
  if (values.role !== undefined) {
    return runRole(server, values.role, values);
  }
  if (values.scenarios === undefined) {
    console.error(`--scenarios or --role is missing\n${USAGE}`);
    return 2;
  }
  return runScenarios(server, values.scenarios, values.only);
}

async function runScenarios(server: string, folder: string, only: string | undefined): Promise<number> {
  const files = (await readdir(folder)).filter((file) => file.endsWith(".json")).sort();
  const client = new WorkpoolClient(server, { ...securityOptions(), logger: silentLogger });
  let passed = 0;
  let failed = 0;
  try {
    for (const file of files) {
      let scenario: Scenario;
      try {
        scenario = JSON.parse(await readFile(path.join(folder, file), "utf8")) as Scenario;
      } catch (error) {
        console.log(`FAIL ${file}: invalid scenario file: ${String(error)}`);
        failed += 1;
        continue;
      }
      const name = scenario.name ?? path.basename(file, ".json");
      if (only !== undefined && name !== only) {
        continue;
      }
      try {
        await new ScenarioRun(client, server, scenario).run();
        console.log(`PASS ${name}`);
        passed += 1;
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        console.log(`FAIL ${name}: ${reason}`);
        failed += 1;
      }
    }
  } finally {
    client.close();
  }
  console.log(`${LANGUAGE}: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

type RoleArgs = { pool?: string | undefined; count?: string | undefined; after?: string | undefined };

async function runRole(server: string, role: string, args: RoleArgs): Promise<number> {
  if (args.pool === undefined || args.count === undefined) {
    console.error(`--pool and --count are required with --role\n${USAGE}`);
    return 2;
  }
  const pool = args.pool;
  const count = Number(args.count);
  if (!Number.isInteger(count) || count < 0) {
    console.error(`--count is ${args.count}; use an integer of 0 or more`);
    return 2;
  }

  switch (role) {
    case "enqueue":
      return enqueueRole(server, pool, count);
    case "worker":
      return workerRole(server, pool, count);
    case "watch": {
      const after = Number(args.after ?? "0");
      if (!Number.isInteger(after) || after < 0) {
        console.error(`--after is ${String(args.after)}; use a sequence of 0 or more`);
        return 2;
      }
      return watchRole(server, pool, after, count);
    }
    default:
      console.error(`unknown role ${role}; use enqueue, worker or watch`);
      return 2;
  }
}

async function enqueueRole(server: string, pool: string, count: number): Promise<number> {
  const client = new WorkpoolClient(server, { ...securityOptions(), logger: silentLogger });
  try {
    for (let index = 0; index < count; index++) {
      const workId = await client.enqueue(pool, "echo", { index });
      console.log(JSON.stringify({ work_id: workId }));
    }
  } finally {
    client.close();
  }
  return 0;
}

async function workerRole(server: string, pool: string, count: number): Promise<number> {
  const worker = new Worker(server, {
    ...securityOptions(),
    pools: [pool],
    capacity: 4,
    logger: silentLogger,
  });
  let ran = 0;
  worker.register("echo", (context, args) => {
    ran += 1;
    console.log(JSON.stringify({ work_id: context.workId, attempt: context.attempt }));
    if (ran >= count) {
      // Stop after this handler returns, so its result is reported first.
      setImmediate(() => void worker.stop(10_000));
    }
    return args;
  });
  if (count === 0) {
    return 0;
  }
  await worker.run();
  return 0;
}

async function watchRole(server: string, pool: string, after: number, count: number): Promise<number> {
  const client = new WorkpoolClient(server, { ...securityOptions(), logger: silentLogger });
  let received = 0;
  try {
    if (count === 0) {
      return 0;
    }
    for await (const completion of client.watchCompletions({ pools: [pool], afterSequence: after })) {
      const line: Record<string, unknown> = {
        sequence: completion.sequence,
        work_id: completion.workId,
        result: completion.result.kind,
      };
      if (completion.result.kind === "success") {
        line["return_value"] = completion.result.returnValue;
      } else if (completion.result.kind === "failure") {
        line["error"] = completion.result.error;
      }
      console.log(JSON.stringify(line));
      received += 1;
      if (received >= count) {
        break;
      }
    }
  } finally {
    client.close();
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  },
);
