import { describe, expect, it } from "vitest";
import { createLogger, type LogLevel } from "./logger";

function recorder(level: LogLevel) {
  const lines: { level: LogLevel; entry: Record<string, unknown> }[] = [];
  const log = createLogger(level, (at, line) => lines.push({ level: at, entry: JSON.parse(line) }));
  return { log, lines };
}

describe("createLogger", () => {
  it("writes entries at or above its level as one JSON object each", () => {
    const { log, lines } = recorder("warn");
    log.debug("d");
    log.info("i");
    log.warn("w", { retryInMs: 5 });
    log.error("e");
    expect(lines).toEqual([
      { level: "warn", entry: { level: "warn", msg: "w", retryInMs: 5 } },
      { level: "error", entry: { level: "error", msg: "e" } },
    ]);
    expect(log.enabled("info")).toBe(false);
    expect(log.enabled("error")).toBe(true);
  });

  it("writes everything at debug and binds fields with `with`", () => {
    const { log, lines } = recorder("debug");
    const child = log.with({ requestId: "r-1" });
    child.debug("starting", { step: 1 });
    log.info("plain");
    expect(lines.map((l) => l.entry)).toEqual([
      { level: "debug", msg: "starting", requestId: "r-1", step: 1 },
      { level: "info", msg: "plain" },
    ]);
  });

  it("takes entries that carry their own level, defaulting to info", () => {
    const { log, lines } = recorder("info");
    log.entry({ level: "error", msg: "predictions were not queued", rows: 3 });
    log.entry({ msg: "ingest batch", produced: 10 });
    log.entry({ level: "debug", msg: "hidden" });
    expect(lines.map((l) => [l.level, l.entry.msg])).toEqual([
      ["error", "predictions were not queued"],
      ["info", "ingest batch"],
    ]);
  });
});
