/** Query parameters every read list shares: page size, opaque cursor, and a bounded time range. */
import { z } from "@hono/zod-openapi";
import { ValidationError } from "#core/errors";
import { instantSchema } from "#core/read-models";
import type { TimeKey } from "./read-store";

export const DAY_MS = 86_400_000;
/** A range asked without `from` covers this long before `to`. */
export const DEFAULT_RANGE_MS = DAY_MS;
/** Longest range one request may cover: keeps every read to a bounded index range. */
export const MAX_RANGE_MS = 31 * DAY_MS;

export const LimitParam = z.coerce
  .number()
  .int()
  .min(1)
  .max(1000)
  .default(100)
  .openapi({ param: { name: "limit", in: "query" }, description: "Rows per page (1–1000)" });

export const CursorParam = z
  .string()
  .max(512)
  .optional()
  .openapi({
    param: { name: "cursor", in: "query" },
    description: "The `nextCursor` of the previous page; omit for the first page",
  });

const instantDoc = (name: "from" | "to", what: string) =>
  z
    .string()
    .optional()
    .openapi({
      param: { name, in: "query" },
      description: `${what}: epoch ms or an ISO 8601 date-time with a zone`,
      example: name === "from" ? "2026-11-21T00:00:00Z" : "2026-11-22T00:00:00Z",
    });
export const FromParam = instantDoc("from", "Start of the range (inclusive; default: `to` − 24 h)");
export const ToParam = instantDoc("to", "End of the range (exclusive; default: now)");

/** `from`/`to` as epoch ms: valid instants, from < to, at most 31 days apart. */
export function readRange(
  raw: { from?: string | undefined; to?: string | undefined },
  nowMs: number,
): { fromMs: number; toMs: number } {
  const parse = (field: "from" | "to", value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const parsed = instantSchema.safeParse(value);
    if (!parsed.success) {
      throw new ValidationError(`\`${field}\` is not a time.`, [
        { field, message: parsed.error.issues[0]?.message ?? "not a time" },
      ]);
    }
    return parsed.data;
  };
  const toMs = parse("to", raw.to) ?? nowMs;
  const fromMs = parse("from", raw.from) ?? toMs - DEFAULT_RANGE_MS;
  if (fromMs >= toMs) {
    throw new ValidationError("`from` must be before `to`.", [
      { field: "from", message: "must be before to" },
    ]);
  }
  if (toMs - fromMs > MAX_RANGE_MS) {
    throw new ValidationError(
      "The range is longer than 31 days: narrow `from`/`to` and page through shorter ranges.",
      [{ field: "from", message: "range from → to may cover at most 31 days" }],
    );
  }
  return { fromMs, toMs };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** base64url of the JSON `[atUs, id]`: opaque to callers, exact for the store. */
export function encodeCursor(key: TimeKey): string {
  let binary = "";
  for (const b of encoder.encode(JSON.stringify([key.atUs, key.id]))) {
    binary += String.fromCharCode(b);
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The key a cursor stands for; a cursor this API did not hand out is a 400 on `cursor`. */
export function decodeCursor(cursor: string | undefined): TimeKey | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  const bad = () =>
    new ValidationError("The cursor is not one this API handed out; start again without it.", [
      { field: "cursor", message: "pass the nextCursor of the previous page unchanged" },
    ]);
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
    const binary = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    parsed = JSON.parse(decoder.decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0))));
  } catch {
    throw bad();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== "string" ||
    !/^-?\d{1,19}$/.test(parsed[0]) ||
    typeof parsed[1] !== "string" ||
    parsed[1].length === 0 ||
    parsed[1].length > 128
  ) {
    throw bad();
  }
  return { atUs: parsed[0], id: parsed[1] };
}

/** The first `limit` entries and, when the store found one more, the cursor after the last. */
export function pageOf<T extends { key: TimeKey }>(
  entries: T[],
  limit: number,
): { items: T[]; nextCursor?: string } {
  if (entries.length <= limit) return { items: entries };
  const items = entries.slice(0, limit);
  return { items, nextCursor: encodeCursor(items[items.length - 1]!.key) };
}
