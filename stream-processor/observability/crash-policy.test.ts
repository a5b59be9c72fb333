import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { installCrashPolicy, isDatabaseDriverFault } from "./crash-policy";

function errorWithStack(message: string, frames: string[]): Error {
  const error = new TypeError(message);
  error.stack = [`TypeError: ${message}`, ...frames.map((f) => `    at ${f}`)].join("\n");
  return error;
}

const DRIVER_FRAME =
  "Client._handleRowDescription (/app/node_modules/@neondatabase/serverless/index.mjs:1044:59)";
const APP_FRAME = "MetricsPipeline.write (/app/stream-processor/pipeline/metrics-pipeline.ts:88:5)";

describe("isDatabaseDriverFault", () => {
  it.each([
    ["thrown inside the driver", [DRIVER_FRAME, "EventEmitter.emit (node:events:519:28)"], true],
    ["thrown inside ws", ["Receiver.getData (/app/node_modules/ws/lib/receiver.js:9:1)"], true],
    ["thrown by Driftline code the driver called back", [APP_FRAME, DRIVER_FRAME], false],
    ["no stack frames", [], false],
  ])("%s → %s", (_, frames, expected) => {
    expect(isDatabaseDriverFault(errorWithStack("Cannot read properties of null", frames))).toBe(
      expected,
    );
  });

  it("is false for non-errors", () => {
    expect(isDatabaseDriverFault("boom")).toBe(false);
    expect(isDatabaseDriverFault(null)).toBe(false);
  });
});

describe("installCrashPolicy", () => {
  it("survives a driver fault and exits 1 on anything else", () => {
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const exits: number[] = [];
    const uninstall = installCrashPolicy(log, (code) => exits.push(code));
    // Called directly, not through process.emit: the test runner has listeners of its own.
    const listener = process.listeners("uncaughtException").at(-1)!;
    try {
      listener(errorWithStack("null", [DRIVER_FRAME]), "uncaughtException");
      expect(exits).toEqual([]);
      expect(lines.join("")).toMatch(/treating the database as unavailable/);
      listener(errorWithStack("bug", [APP_FRAME]), "uncaughtException");
      expect(exits).toEqual([1]);
    } finally {
      uninstall();
    }
  });
});
