/** Turns one raw record into a window observation and its dedup key, or the reason it is poison. */
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  CLICK_ID_PARAMS,
  compileFastParser,
  eventMessageSchema,
  type IngestOutcome,
  ingestOutcomeSchema,
  isIngestOutcomeValue,
  UNSURE,
  UTM_PARAMS,
} from "#core/events";
import { PredictionRecordSchema } from "#core/scoring";
import type { WindowObservation } from "#core/windows";
import { toMicros } from "#core/windows";
import type { DecodedMessage } from "../batch/batch-stage";
import type { DedupKey } from "../db/metrics-store";
import { browserDedupDigest, dedupDigest } from "./dedup-digest";
import { clip, describeIssues, unstorableTextReason } from "./poison-reason";

export type RecordKind = "event" | "prediction";
export type EventValidation = "envelope" | "full";

export type DecodedRecord =
  | {
      ok: true;
      observation: WindowObservation;
      dedup: DedupKey;
      /** The validated message, for batch stages (BatchStage.select); not kept past decoding. */
      message: DecodedMessage;
    }
  /** A request's ingest outcome counts (on the event topics beside the events). */
  | { ok: "outcome"; outcome: IngestOutcome; dedup: DedupKey }
  | { ok: false; reason: string }
  /** Well-formed, but not a record the metrics count (a test event, a cross-source copy). */
  | { ok: "skipped"; reason: "test event" | "cross-source copy" };

/** Source value of prediction rows in metric_windows; events can never carry it (web | capi). */
export const PREDICTIONS_SOURCE = "predictions";
/** event_name under which prediction ids are remembered for dedup (`$` keeps it apart from event names). */
export const PREDICTION_DEDUP_NAME = "$prediction";
/** event_name under which outcome records' request ids are remembered for dedup. */
export const OUTCOME_DEDUP_NAME = "$ingest-outcome";

/** Column limits of metric_windows / seen_events; longer values would make the database refuse the batch. */
const MAX_EVENT_NAME_CHARS = 256;
const MAX_CAMPAIGN_CHARS = 256;
const MAX_EVENT_ID_CHARS = 256;
/** The event message's field holding the Meta event, which no stage stores. */
const META_EVENT_KEYS: ReadonlySet<string> = new Set(["event"]);
/** The tenants table's rule for tenant ids. */
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * `envelope` checks every field the metrics read and that `event` is an object, leaving the
 * Meta event (validated by the Worker that produced the message) unparsed: ~4x cheaper per
 * record. `full` re-validates the Meta event too.
 */
const envelopeSchema = eventMessageSchema.extend({ event: z.looseObject({}) });

// zod's interpreter was ~3 µs of the ~9 µs per 1 KB event record (JSON.parse is the rest); the
// fast parsers answer exactly as zod for the records they are sure of (every well-formed one)
// and leave the rest, and so every dead-letter reason, to zod.
// The fast parser cannot compile records keyed by an enum (utm, clickIds) and would run zod on
// them for every record; it compiles them as string-keyed records instead, and
// `knownKeysOnly` then checks what zod's partialRecord adds: every key is one of the enum.
const stringRecords = {
  utm: z.record(z.string(), z.string()).optional(),
  clickIds: z.record(z.string(), z.string()).optional(),
};
const UTM_KEYS: ReadonlySet<string> = new Set(UTM_PARAMS);
const CLICK_ID_KEYS: ReadonlySet<string> = new Set(CLICK_ID_PARAMS);
const envelopeFastParser = compileFastParser(envelopeSchema.extend(stringRecords));
const fullFastParser = compileFastParser(eventMessageSchema.extend(stringRecords));
const predictionFastParser = compileFastParser(PredictionRecordSchema);

function knownKeysOnly(
  record: Record<string, string> | undefined,
  keys: ReadonlySet<string>,
): boolean {
  if (record === undefined) return true;
  for (const key in record) if (!keys.has(key)) return false;
  return true;
}

type ParsedEvent = Pick<
  z.output<typeof envelopeSchema>,
  | "tenant"
  | "source"
  | "eventName"
  | "eventId"
  | "campaign"
  | "eventTimeMs"
  | "value"
  | "currency"
  | "matchQuality"
  | "predictionId"
  | "clickIds"
  | "testEventCode"
  | "keyKind"
  | "crossSourceCopy"
  | "pixelId"
>;

export function createRecordDecoder(validation: EventValidation) {
  const eventSchema: z.ZodType<ParsedEvent> =
    validation === "full" ? eventMessageSchema : envelopeSchema;
  const fastParser = validation === "full" ? fullFastParser : envelopeFastParser;
  const parseFast = (json: unknown): ParsedEvent | typeof UNSURE => {
    const m = fastParser.parse(json);
    if (m === UNSURE) return UNSURE;
    return knownKeysOnly(m.utm, UTM_KEYS) && knownKeysOnly(m.clickIds, CLICK_ID_KEYS) ? m : UNSURE;
  };

  return function decodeRecord(kind: RecordKind, value: Buffer | null): DecodedRecord {
    if (value === null || value.length === 0) return poison("the record has no value");
    const text = value.toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return poison(`the value is not valid JSON (${clip((error as Error).message)})`);
    }
    // Text Postgres cannot hold would make it refuse the batch's statements: refused here,
    // anywhere in a prediction (all of it is stored) or an event's envelope (the Meta event
    // itself is never stored).
    const textProblem = unstorableTextReason(
      text,
      json,
      kind === "event" ? META_EVENT_KEYS : undefined,
    );
    if (textProblem !== undefined) return poison(textProblem);
    if (kind === "prediction") return decodePrediction(json);
    return isIngestOutcomeValue(json) ? decodeOutcome(json) : decodeEvent(json);
  };

  function decodeOutcome(json: unknown): DecodedRecord {
    const parsed = ingestOutcomeSchema.safeParse(json);
    if (!parsed.success) {
      return poison(
        `does not match the ingest outcome record schema v1: ${describeIssues(parsed.error)}`,
      );
    }
    const o = parsed.data;
    const tenantProblem = checkTenant(o.tenant);
    if (tenantProblem !== undefined) return poison(tenantProblem);
    return {
      ok: "outcome",
      outcome: o,
      dedup: dedupKey(o.tenant, OUTCOME_DEDUP_NAME, dedupEventId(o.requestId)),
    };
  }

  function decodeEvent(json: unknown): DecodedRecord {
    let m = parseFast(json);
    if (m === UNSURE) {
      const parsed = eventSchema.safeParse(json);
      if (!parsed.success)
        return poison(
          `does not match the event message schema v1: ${describeIssues(parsed.error)}`,
        );
      m = parsed.data;
    }
    const tenantProblem = checkTenant(m.tenant);
    if (tenantProblem !== undefined) return poison(tenantProblem);
    if (m.eventName.length > MAX_EVENT_NAME_CHARS) {
      return poison(`eventName: longer than ${MAX_EVENT_NAME_CHARS} characters`);
    }
    // Meta keeps test events (sent with a test_event_code) out of its reporting; so do the metrics.
    // They stay in Kafka for anyone who reads the topic.
    if (m.testEventCode !== undefined) return { ok: "skipped", reason: "test event" };
    // The other kind of sender's copy of this event was accepted first and is counted; this one
    // only travels on to the destinations (which deduplicate by the shared event_id).
    if (m.crossSourceCopy === true) return { ok: "skipped", reason: "cross-source copy" };
    let valueMicros: bigint | undefined;
    if (m.value !== undefined && m.currency !== undefined) {
      try {
        valueMicros = toMicros(m.value);
      } catch (error) {
        return poison(`value: ${(error as Error).message}`);
      }
    }
    return {
      ok: true,
      observation: {
        kind: "event",
        tenant: m.tenant,
        source: m.source,
        eventName: m.eventName,
        campaign: m.campaign === undefined ? "" : truncateChars(m.campaign, MAX_CAMPAIGN_CHARS),
        eventTimeMs: m.eventTimeMs,
        valueMicros,
        currency: m.currency,
        matchQuality: m.matchQuality.score,
        attributed: m.predictionId !== undefined,
      },
      dedup:
        m.keyKind === "browser"
          ? browserKey(m.tenant, m.eventName, dedupEventId(m.eventId))
          : dedupKey(m.tenant, m.eventName, dedupEventId(m.eventId)),
      message: { kind: "event", message: m },
    };
  }

  function decodePrediction(json: unknown): DecodedRecord {
    let m = predictionFastParser.parse(json);
    if (m === UNSURE) {
      const parsed = PredictionRecordSchema.safeParse(json);
      if (!parsed.success) {
        return poison(
          `does not match the prediction record schema v1: ${describeIssues(parsed.error)}`,
        );
      }
      m = parsed.data;
    }
    const tenantProblem = checkTenant(m.tenant);
    if (tenantProblem !== undefined) return poison(tenantProblem);
    if (m.model.length > MAX_EVENT_NAME_CHARS) {
      return poison(`model: longer than ${MAX_EVENT_NAME_CHARS} characters`);
    }
    return {
      ok: true,
      observation: {
        kind: "prediction",
        tenant: m.tenant,
        source: PREDICTIONS_SOURCE,
        eventName: m.model,
        campaign: "",
        eventTimeMs: Date.parse(m.scoredAt),
        attributed: false,
      },
      dedup: dedupKey(m.tenant, PREDICTION_DEDUP_NAME, dedupEventId(m.predictionId)),
      message: { kind: "prediction", message: m },
    };
  }
}

/**
 * seen_events keeps ids up to 256 characters; the Worker accepts Meta's 512 (and prediction ids
 * are unbounded). A longer id is
 * remembered by its SHA-256 (hex, prefixed), which is as unique and deterministic.
 */
export function dedupEventId(eventId: string): string {
  if (eventId.length <= MAX_EVENT_ID_CHARS) return eventId;
  return `sha256:${createHash("sha256").update(eventId).digest("hex")}`;
}

function dedupKey(tenant: string, eventName: string, eventId: string): DedupKey {
  return { tenant, eventName, eventId, digest: dedupDigest(tenant, eventName, eventId) };
}

/** A browser event's key: its own namespace, and the server digest that makes it a duplicate too. */
function browserKey(tenant: string, eventName: string, eventId: string): DedupKey {
  return {
    tenant,
    eventName,
    eventId,
    digest: browserDedupDigest(tenant, eventName, eventId),
    serverDigest: dedupDigest(tenant, eventName, eventId),
  };
}

function checkTenant(tenant: string): string | undefined {
  return TENANT_ID.test(tenant)
    ? undefined
    : "tenant: must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";
}

function poison(reason: string): DecodedRecord {
  return { ok: false, reason };
}

/** At most `max` characters (code points, as Postgres counts them), never splitting a pair. */
function truncateChars(s: string, max: number): string {
  if (s.length <= max) return s;
  return Array.from(s).slice(0, max).join("");
}
