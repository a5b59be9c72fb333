/**
 * Progress of a long step on stderr, with cli-progress: a live bar on a terminal, a plain line
 * every few seconds otherwise (CI logs, pipes), so a long wait is never silent.
 */
import cliProgress from "cli-progress";

export interface ProgressBar {
  /** The amount done so far, and the values of the format's own `{tokens}`. */
  update(value: number, payload?: Record<string, string | number>): void;
  setTotal(total: number): void;
  stop(): void;
}

export interface ProgressBarOptions {
  /** Opens every line, e.g. "Kafka jars" or "replay". */
  label: string;
  total: number;
  /** `bytes` shows values as kB/MB. */
  unit: "bytes" | "items";
  /** Extra `{tokens}` after the counts, e.g. "{accepted} accepted"; set through update's payload. */
  detail?: string;
  payload?: Record<string, string | number>;
  stream?: NodeJS.WriteStream;
  /** Seconds between plain lines when the stream is not a terminal (default 5). */
  plainIntervalSeconds?: number;
}

/** Decimal units, as Maven and most download tools print them (1 MB = 1,000,000 bytes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1_000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

export function startProgressBar(options: ProgressBarOptions): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const detail = options.detail ? ` | ${options.detail}` : "";
  const bar = new cliProgress.SingleBar(
    {
      // A terminal gets the bar; a log gets a line a few seconds apart.
      format: tty
        ? `${options.label} [{bar}] {percentage}% | {value} of {total}${detail} | {eta_formatted} left`
        : `${options.label}: {value} of {total} ({percentage}%)${detail}, {duration_formatted} elapsed`,
      stream,
      noTTYOutput: true,
      notTTYSchedule: (options.plainIntervalSeconds ?? 5) * 1000,
      hideCursor: tty,
      etaBuffer: 50,
      formatValue: (value, _options, type) =>
        options.unit === "bytes" && (type === "value" || type === "total")
          ? formatBytes(Number(value))
          : String(value),
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(options.total, 0, options.payload ?? {});
  return {
    update: (value, payload) => bar.update(value, payload ?? {}),
    setTotal: (total) => bar.setTotal(total),
    stop: () => bar.stop(),
  };
}
