/** The Worker's one logger: levelled JSON lines on the console, which Workers Logs index by field. */

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** An entry carrying its own `level` (default info) and `msg`, for ports taking `(entry) => void`. */
  entry(entry: LogFields): void;
  /** A logger adding `fields` (e.g. the request id) to every entry. */
  with(fields: LogFields): Logger;
  /** Whether `level` is written, so a caller can skip building an expensive entry. */
  enabled(level: LogLevel): boolean;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where lines go; the console by default (Workers Logs parse JSON lines into fields). */
export type LogSink = (level: LogLevel, line: string) => void;

const consoleSink: LogSink = (level, line) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else if (level === "debug") console.debug(line);
  else console.log(line);
};

function isLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && value in RANK;
}

/**
 * One JSON object per line: `{ level, msg, …bound fields, …fields }`; entries below `level` cost
 * one comparison. Hand-written rather than pino: pino's Worker build needs `nodejs_compat` and
 * writes objects, not the JSON lines Workers Logs index, and this is all the Worker needs.
 *
 * @example
 * const log = createLogger("info");
 * log.with({ requestId }).warn("rate limit check failed", { retryInMs: 10_000 });
 */
export function createLogger(
  level: LogLevel,
  sink: LogSink = consoleSink,
  bound: LogFields = {},
): Logger {
  const threshold = RANK[level];
  const write = (at: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[at] < threshold) return;
    sink(at, JSON.stringify({ level: at, msg, ...bound, ...fields }));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    entry: ({ level: at, msg, ...fields }) =>
      write(isLevel(at) ? at : "info", typeof msg === "string" ? msg : "", fields),
    with: (fields) => createLogger(level, sink, { ...bound, ...fields }),
    enabled: (at) => RANK[at] >= threshold,
  };
}
