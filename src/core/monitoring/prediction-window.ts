/** The sliding window of a model version's most recent predictions: one ring buffer column per monitored feature and the score. */

import { ValidationError } from "../errors.ts";

/** Column name of the model's score in windows, drift results and alerts. */
export const SCORE_COLUMN = "__score__";

/** A monitored column: a manifest feature (or the score) and how its values are read. */
export interface WindowColumn {
  name: string;
  type: "number" | "categorical";
}

/** One prediction as the window keeps it. */
export interface WindowRow {
  /** Feature values by name, as logged on the `predictions` topic. */
  features: Readonly<Record<string, unknown>>;
  score: number;
  /** Scoring time, epoch ms. */
  predictedAtMs: number;
}

/**
 * Fixed-capacity ring buffer of the last `capacity` predictions, column by column. Values the
 * drift tests cannot read (a string in a numeric column, NaN, a number in a categorical one, an
 * absent feature) are kept as missing (null) and counted in `invalid`, so one malformed row
 * never stops monitoring. Order inside the buffer is irrelevant to the drift tests.
 */
export class PredictionWindow {
  readonly capacity: number;
  readonly columns: readonly WindowColumn[];
  private readonly values: (number | string | null)[][];
  private readonly times: Float64Array;
  private next = 0;
  private filled = 0;
  /** Values replaced by null because they had the wrong type (since the window was built). */
  invalid = 0;

  constructor(columns: readonly WindowColumn[], capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new ValidationError(`window capacity ${capacity} must be a whole number ≥ 1`, [
        { field: "capacity", message: "must be a positive integer" },
      ]);
    }
    const names = new Set<string>();
    for (const c of columns) {
      if (names.has(c.name)) {
        throw new ValidationError(`window column ${c.name} repeats`, [
          { field: "columns", message: `"${c.name}" appears twice` },
        ]);
      }
      names.add(c.name);
    }
    this.capacity = capacity;
    this.columns = columns;
    this.values = columns.map(() => new Array<number | string | null>(capacity).fill(null));
    this.times = new Float64Array(capacity);
  }

  /** Predictions held (≤ capacity). */
  get size(): number {
    return this.filled;
  }

  /** Adds one prediction, evicting the oldest once full. */
  push(row: WindowRow): void {
    const slot = this.next;
    for (let c = 0; c < this.columns.length; c++) {
      const column = this.columns[c] as WindowColumn;
      const raw = column.name === SCORE_COLUMN ? row.score : row.features[column.name];
      (this.values[c] as (number | string | null)[])[slot] = this.read(column, raw);
    }
    this.times[slot] = row.predictedAtMs;
    this.next = (slot + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
  }

  private read(column: WindowColumn, raw: unknown): number | string | null {
    if (raw === undefined || raw === null) return null;
    if (column.type === "number") {
      if (typeof raw === "number" && Number.isFinite(raw)) return raw;
    } else if (typeof raw === "string") {
      return raw;
    }
    this.invalid++;
    return null;
  }

  /** The held values of `column` (a copy, any order; null = missing). */
  columnValues(column: string): (number | string | null)[] {
    const c = this.columns.findIndex((x) => x.name === column);
    if (c < 0) {
      throw new ValidationError(`the window has no column ${column}`, [
        { field: "column", message: "is not monitored" },
      ]);
    }
    const all = this.values[c] as (number | string | null)[];
    return this.filled === this.capacity ? all.slice() : all.slice(0, this.filled);
  }

  /** Earliest and latest scoring time held, epoch ms (undefined when empty). */
  timeRange(): { startMs: number; endMs: number } | undefined {
    if (this.filled === 0) return undefined;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.filled; i++) {
      const t = this.times[i] as number;
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    return { startMs: lo, endMs: hi };
  }
}
