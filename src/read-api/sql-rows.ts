/** What the read modules share: row and time conversions in SQL, and the query function they run on. */

/** Epoch ms (bigint parameter) to timestamptz, exactly. */
export const TS = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 millisecond')`;
/** Epoch µs (bigint parameter) to timestamptz: Postgres keeps µs, so cursors compare exactly. */
export const TS_US = (p: string) =>
  `('epoch'::timestamptz + ${p}::bigint * interval '1 microsecond')`;
export const MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint::text`;
export const US = (col: string) => `(extract(epoch FROM ${col}) * 1000000)::bigint::text`;

export type Row = Record<string, unknown>;

/** Runs one statement on the request's pool; a database failure is a DependencyUnavailableError. */
export type QueryRows = (text: string, values: unknown[]) => Promise<Row[]>;

export function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
