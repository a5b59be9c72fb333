/** The forms an ingest queue message body takes: one `IngestMessage` (object or JSON text) or a bundle of them (JSON text). */
import { IngestBundleEnvelope, IngestMessage } from "./ingest-message";

/**
 * Event messages travel as text (`contentType: "text"`): the Worker already has each event's JSON
 * for its size check, so the queue body is that JSON inside a small frame instead of an object the
 * runtime serialises again (and Miniflare's local queue parses, re-serialises and clones). Events
 * are sent as bundles (`ingestBundleText`); single-record text bodies are what Workers before
 * bundling sent, still read so messages queued across a deploy are produced. Other producers
 * (model notices) send objects (`contentType: "json"`).
 */
export type IngestQueueBody = IngestMessage | string;

/**
 * `JSON.stringify({ topic, key, value })` built around `valueJson`, the value's own JSON text, so
 * the value is not serialised again.
 */
export function ingestMessageText(
  topic: IngestMessage["topic"],
  key: string,
  valueJson: string,
): string {
  return `{"topic":${JSON.stringify(topic)},"key":${JSON.stringify(key)},"value":${valueJson}}`;
}

/** The bytes `ingestBundleText` adds around its records (ASCII; one more digit per tenfold attempts). */
export function bundleFrameBytes(records: number, attempts = 0): number {
  return BUNDLE_HEAD.length + String(attempts).length + BUNDLE_RECORDS.length + 2 + records - 1;
}

const BUNDLE_HEAD = '{"bundle":1,"attempts":';
const BUNDLE_RECORDS = ',"records":[';

/**
 * The JSON text of an `IngestBundleEnvelope` around records that are already JSON text (from
 * `ingestMessageText`), joined without parsing or serialising them again.
 */
export function ingestBundleText(recordTexts: readonly string[], attempts = 0): string {
  const head = `${BUNDLE_HEAD}${attempts}${BUNDLE_RECORDS}`;
  const last = recordTexts.length - 1;
  if (last < 0) return `${head}]}`;
  // The frame joins the records' array rather than being concatenated around its result: that
  // would be a rope of ~120 KB the queue's serialiser flattens into yet another copy.
  const parts = recordTexts.slice();
  parts[0] = head + parts[0];
  parts[last] = `${parts[last]}]}`;
  return parts.join(",");
}

/**
 * The body as the consumer validates it: text is parsed as JSON (undefined when it is not JSON,
 * which the schema checks then refuse), objects are returned as they are.
 */
export function readIngestQueueBody(body: unknown): unknown {
  if (typeof body !== "string") return body;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** A record of a bundle that is not an `IngestMessage`, by position, with zod's first complaint. */
export interface MalformedRecord {
  index: number;
  reason: string;
}

export type ParsedIngestQueueBody =
  | { kind: "message"; message: IngestMessage }
  | {
      kind: "bundle";
      /** The well-formed records, in bundle order. */
      records: IngestMessage[];
      /** Deliveries of these records in earlier messages (see `IngestBundleEnvelope`). */
      attempts: number;
      malformed: MalformedRecord[];
    }
  | { kind: "malformed"; reason: string };

/**
 * Reads a queue message body into its records: a bundle (a body with a `bundle` field) or one
 * `IngestMessage`. Never throws; a body that is neither is `malformed`.
 */
export function parseIngestQueueBody(body: unknown): ParsedIngestQueueBody {
  const value = readIngestQueueBody(body);
  if (typeof value === "object" && value !== null && "bundle" in value) {
    const envelope = IngestBundleEnvelope.safeParse(value);
    if (!envelope.success) return { kind: "malformed", reason: firstIssue(envelope.error) };
    const records: IngestMessage[] = [];
    const malformed: MalformedRecord[] = [];
    envelope.data.records.forEach((record, index) => {
      const parsed = IngestMessage.safeParse(record);
      if (parsed.success) records.push(parsed.data);
      else malformed.push({ index, reason: firstIssue(parsed.error) });
    });
    return { kind: "bundle", records, attempts: envelope.data.attempts, malformed };
  }
  const parsed = IngestMessage.safeParse(value);
  return parsed.success
    ? { kind: "message", message: parsed.data }
    : {
        kind: "malformed",
        reason: value === undefined ? "not JSON" : firstIssue(parsed.error),
      };
}

function firstIssue(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  return `${issue?.path.map(String).join(".") || "(body)"}: ${issue?.message ?? "invalid"}`;
}
