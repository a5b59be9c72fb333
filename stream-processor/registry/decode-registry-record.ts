/** Reads one raw `models` record: the registry change it carries, or why it is poison. */
import { type ModelRegistryRecord, modelRegistryRecordSchema } from "#core/model-registry-message";
import { clip, describeIssues, unstorableTextReason } from "../pipeline/poison-reason";

export type DecodedRegistryRecord =
  | { ok: true; record: ModelRegistryRecord }
  | { ok: false; reason: string };

export function decodeRegistryRecord(value: Buffer | null): DecodedRegistryRecord {
  if (value === null || value.length === 0) return poison("the record has no value");
  const text = value.toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return poison(`the value is not valid JSON (${clip((error as Error).message)})`);
  }
  // The manifest is stored whole (jsonb): text Postgres cannot hold anywhere in the record would
  // make it refuse the record.
  const textProblem = unstorableTextReason(text, json);
  if (textProblem !== undefined) return poison(textProblem);
  const parsed = modelRegistryRecordSchema.safeParse(json);
  if (!parsed.success) {
    return poison(
      `does not match the model registry record schema v1: ${describeIssues(parsed.error)}`,
    );
  }
  return { ok: true, record: parsed.data };
}

function poison(reason: string): DecodedRegistryRecord {
  return { ok: false, reason };
}
