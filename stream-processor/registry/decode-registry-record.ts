/** Reads one raw `models` record: the registry change it carries, or why it is poison. */
import type { z } from "zod";
import {
  type ModelRegistryRecord,
  modelRegistryRecordSchema,
} from "../../src/core/model-registry-message";

export type DecodedRegistryRecord =
  | { ok: true; record: ModelRegistryRecord }
  | { ok: false; reason: string };

const MAX_REASON_ISSUES = 5;

export function decodeRegistryRecord(value: Buffer | null): DecodedRegistryRecord {
  if (value === null || value.length === 0) return poison("the record has no value");
  const text = value.toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return poison(`the value is not valid JSON (${clip((error as Error).message)})`);
  }
  // Postgres text and jsonb cannot hold U+0000; such a record would make the commit fail.
  if (text.includes("\\u0000")) return poison("the value contains U+0000");
  const parsed = modelRegistryRecordSchema.safeParse(json);
  if (!parsed.success) {
    return poison(`does not match the model registry record schema v1: ${describe(parsed.error)}`);
  }
  return { ok: true, record: parsed.data };
}

function poison(reason: string): DecodedRegistryRecord {
  return { ok: false, reason };
}

function describe(error: z.ZodError): string {
  const parts = error.issues
    .slice(0, MAX_REASON_ISSUES)
    .map((i) => `${i.path.length === 0 ? "(root)" : i.path.map(String).join(".")}: ${i.message}`);
  const more = error.issues.length - MAX_REASON_ISSUES;
  return parts.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
