/** The stream processor's structured logger (pino, JSON lines on stdout). */
import { type Logger, pino } from "pino";
import type { StreamConfig } from "../config";

export function createLogger(level: StreamConfig["logLevel"]): Logger {
  return pino({
    level,
    base: { service: "driftline-stream-processor", pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Connection strings and credentials never reach the logs, whatever a caller passes.
    redact: {
      paths: ["databaseUrl", "password", "*.password", "authorization", "*.authorization"],
      censor: "***",
    },
  });
}
