/** What the stream processor does with an exception nothing caught: survive a database driver fault, crash on a bug. */
import type { Logger } from "pino";

/** Stack frames of the database driver (bundled pg) and its WebSocket transport. */
const DRIVER_FRAME = /node_modules[\\/](@neondatabase[\\/]serverless|ws)[\\/]/;

/**
 * True when the error was thrown from inside the database driver's own event handling (a
 * connection's protocol out of step, a socket torn down mid-message): the database is, for this
 * process, unavailable; the pool drops the connection and the batch in hand is retried. Only
 * the innermost frames count, so a bug in Driftline code called back by the driver still crashes.
 */
export function isDatabaseDriverFault(error: unknown): boolean {
  if (!(error instanceof Error) || error.stack === undefined) return false;
  const frames = error.stack.split("\n").filter((line) => line.trimStart().startsWith("at "));
  const innermost = frames[0];
  return innermost !== undefined && DRIVER_FRAME.test(innermost);
}

/**
 * Crash only on bugs: an uncaught driver fault is logged and survived (the database is treated
 * as unavailable: the batch is held and retried, connections are reopened); anything else is
 * logged as fatal and exits 1, so the supervisor reports it and restarts the process.
 */
export function installCrashPolicy(
  log: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  const onFault = (error: unknown, origin: string) => {
    if (isDatabaseDriverFault(error)) {
      log.error(
        { err: error, origin },
        "database driver fault outside any query: treating the database as unavailable; the connection is dropped and the work retried",
      );
      return;
    }
    log.fatal({ err: error, origin }, "uncaught exception (a bug): exiting");
    exit(1);
  };
  const onException = (error: Error, origin: string) => onFault(error, origin);
  const onRejection = (reason: unknown) => onFault(reason, "unhandledRejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}
