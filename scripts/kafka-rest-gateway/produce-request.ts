/** Kafka REST Proxy v3 produce bodies: zod schemas, and their translation into Kafka record bytes. */
import { z } from "zod";
import { ValidationError } from "#core/errors";
import type { OutgoingRecord } from "./record-producer";

/** The embedded formats that need no Schema Registry (the ones Confluent Cloud's produce API takes). */
export const DATA_TYPES = ["BINARY", "JSON", "STRING"] as const;
export type DataType = (typeof DATA_TYPES)[number];

/** Fields of Confluent's data object that need a Schema Registry, which this gateway has not. */
const SCHEMA_FIELDS = ["subject", "subject_name_strategy", "schema_id", "schema_version", "schema"];

/** RFC 4648 base64 with padding, as Java's `Base64.getDecoder()` (Confluent's decoder) demands. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const ProduceRequestData = z
  .object({
    type: z.enum(DATA_TYPES, { message: `type must be one of ${DATA_TYPES.join(", ")}` }),
    data: z.unknown(),
  })
  .loose()
  .superRefine((d, ctx) => {
    const schemaField = SCHEMA_FIELDS.find((f) => f in d);
    if (schemaField !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [schemaField],
        message: "Schema Registry formats are not supported; send type BINARY, JSON or STRING",
      });
    }
    const unknown = Object.keys(d).filter(
      (k) => k !== "type" && k !== "data" && !SCHEMA_FIELDS.includes(k),
    );
    for (const k of unknown) {
      ctx.addIssue({ code: "custom", path: [k], message: "unknown field (allowed: type, data)" });
    }
    if (d.data === null || d.data === undefined) return;
    if (d.type === "STRING" && typeof d.data !== "string") {
      ctx.addIssue({ code: "custom", path: ["data"], message: "must be a string for type STRING" });
    }
    if (d.type === "BINARY" && (typeof d.data !== "string" || !BASE64.test(d.data))) {
      ctx.addIssue({
        code: "custom",
        path: ["data"],
        message: "must be a base64 string (RFC 4648, padded) for type BINARY",
      });
    }
  });

const ProduceRequestHeader = z.strictObject({
  name: z.string().min(1, "header name must not be empty"),
  value: z
    .string()
    .regex(BASE64, "header value must be base64 (RFC 4648, padded)")
    .nullable()
    .optional(),
});

const recordShape = {
  partition_id: z.number().int().min(0, "must be 0 or more").nullable().optional(),
  headers: z.array(ProduceRequestHeader).nullable().optional(),
  key: ProduceRequestData.nullable().optional(),
  value: ProduceRequestData.nullable().optional(),
  timestamp: z.iso
    .datetime({ offset: true, message: "must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z" })
    .nullable()
    .optional(),
};

/** `POST …/records`: one record. Unknown fields are rejected so a typo (`values`) is not lost. */
export const ProduceRequest = z.strictObject(recordShape);
export type ProduceRequest = z.infer<typeof ProduceRequest>;

/** Confluent's rule for batch entry ids: echoed back, so a caller can match results to records. */
const EntryId = z
  .string({ message: "id must be a string" })
  .min(1, "id must not be empty")
  .max(80, "id must be at most 80 characters")
  .regex(/^[0-9a-zA-Z_-]+$/, "id may contain only letters, digits, '-' and '_'");

/** `POST …/records:batch`: only the envelope is checked here; each entry is checked on its own. */
export const ProduceBatchEnvelope = z.strictObject({
  entries: z.array(z.looseObject({ id: EntryId })).min(1, "entries must not be empty"),
});
export const ProduceBatchEntry = z.strictObject({ id: EntryId, ...recordShape });
export type ProduceBatchEntry = z.infer<typeof ProduceBatchEntry>;

/** One message naming each bad field, e.g. `value.data: must be a string for type STRING`. */
export function describeIssues(error: z.ZodError, prefix = ""): ValidationError {
  const issues = error.issues.map((i) => ({
    field: [prefix, ...i.path.map(String)].filter(Boolean).join(".") || "(body)",
    message: i.message,
  }));
  const text = issues.map((i) => `${i.field}: ${i.message}`).join("; ");
  return new ValidationError(`Invalid produce request: ${text}`, issues);
}

export interface EncodedRecord {
  record: OutgoingRecord;
  /** For the response's `key`/`value` objects: the type sent and the serialised size in bytes. */
  key: { type: DataType; size: number } | undefined;
  value: { type: DataType; size: number } | undefined;
}

function encodeData(data: z.infer<typeof ProduceRequestData> | null | undefined): {
  bytes: Buffer | null;
  info: { type: DataType; size: number } | undefined;
} {
  if (data === null || data === undefined) return { bytes: null, info: undefined };
  // `data: null` is a Kafka null (a tombstone when it is the value), whatever the type.
  let bytes: Buffer | null = null;
  if (data.data !== null && data.data !== undefined) {
    if (data.type === "JSON") bytes = Buffer.from(JSON.stringify(data.data), "utf8");
    else if (data.type === "STRING") bytes = Buffer.from(data.data as string, "utf8");
    else bytes = Buffer.from(data.data as string, "base64");
  }
  return { bytes, info: { type: data.type, size: bytes?.length ?? 0 } };
}

/** Turns a validated request into the bytes Kafka stores. `nowMs` stamps records without a timestamp. */
export function encodeRecord(request: ProduceRequest, nowMs: number): EncodedRecord {
  const key = encodeData(request.key);
  const value = encodeData(request.value);
  return {
    record: {
      partition: request.partition_id ?? undefined,
      key: key.bytes,
      value: value.bytes,
      headers: (request.headers ?? []).map((h) => ({
        name: h.name,
        value: h.value === null || h.value === undefined ? null : Buffer.from(h.value, "base64"),
      })),
      timestampMs: request.timestamp ? Date.parse(request.timestamp) : nowMs,
    },
    key: key.info,
    value: value.info,
  };
}
