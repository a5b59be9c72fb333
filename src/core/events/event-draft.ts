/** An event read far enough to check and normalise it: the shape both sources' drafts share. */

import type { z } from "zod";
import type { FieldIssue } from "../errors.ts";
import type { CustomDataInput } from "./capi-event-schema.ts";
import { compileFastParser, UNSURE } from "./compile-fast-parser.ts";
import type { ClickIdParam, MetaServerEvent, UtmParam } from "./event-message-schema.ts";
import { hashEmailsInValue } from "./hash-free-form-emails.ts";
import { forgetParsedUrls, rememberParsedUrl } from "./query-params.ts";
import type { UserDataInput } from "./user-data-schema.ts";
import { missingIsRequired, toFieldIssues } from "./zod-issues.ts";

/**
 * Keys of a Meta event that `buildEventMessage` sets itself; a draft's `event` may carry them (a CAPI
 * draft's is the parsed input event, not a copy without them) and they are skipped.
 */
export const OWN_EVENT_KEYS = new Set([
  "event_name",
  "event_time",
  "event_id",
  "user_data",
  "custom_data",
]);

/** The Meta event without event_time, event_id, user_data and custom_data (set once accepted). */
export type DraftMetaEvent = Omit<
  MetaServerEvent,
  "event_time" | "event_id" | "user_data" | "custom_data"
>;

/** An event read far enough to normalise its user_data; `errors` are its field problems so far. */
export type EventDraft =
  | { kind: "invalid"; eventId: string | null; errors: FieldIssue[] }
  | {
      kind: "draft";
      eventId: string | null;
      errors: FieldIssue[];
      /** NaN when event_time could not be read (already in `errors`). */
      eventTimeMs: number;
      actionSource: MetaServerEvent["action_source"];
      /** The event's other fields, in order; keys in OWN_EVENT_KEYS are skipped. */
      event: DraftMetaEvent;
      userData: UserDataInput;
      customData: MetaServerEvent["custom_data"];
      campaign: string | undefined;
      utm: Partial<Record<UtmParam, string>>;
      clickIds: Partial<Record<ClickIdParam, string>>;
      predictionId: string | undefined;
    };

/** Numbers where Meta expects numbers (the SDK's parseFloat), currency upper-cased. */
export function normalizeCustomData(
  customData: CustomDataInput | undefined,
): MetaServerEvent["custom_data"] {
  if (customData === undefined) return undefined;
  // Custom properties are free-form: email addresses in them are hashed (hashEmailsInValue).
  const out: Record<string, unknown> = { ...hashEmailsInValue(customData) };
  for (const key of ["value", "predicted_ltv", "net_revenue"] as const) {
    const v = customData[key];
    if (v !== undefined) out[key] = typeof v === "number" ? v : Number.parseFloat(v);
  }
  if (customData.num_items !== undefined) out.num_items = Number(customData.num_items);
  if (customData.order_id !== undefined) out.order_id = String(customData.order_id);
  if (customData.currency !== undefined) out.currency = customData.currency.trim().toUpperCase();
  if (customData.contents !== undefined) {
    out.contents = customData.contents.map((c) =>
      c.item_price === undefined || typeof c.item_price === "number"
        ? c
        : { ...c, item_price: Number.parseFloat(c.item_price) },
    );
  }
  return out as MetaServerEvent["custom_data"];
}

/** The sender's event_id when it can be read from an event that failed its schema, else null. */
export function readEventId(raw: unknown): string | null {
  if (typeof raw !== "object" || raw === null) return null;
  const id = (raw as Record<string, unknown>).event_id;
  if (typeof id === "string" && id.length > 0 && id.length <= 512) return id;
  if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) return String(id);
  return null;
}

/**
 * A reader of one source's events against `schema`: an event that fails it comes back as an
 * invalid draft with its field issues under `prefix`. zod's interpreter is most of the
 * validation cost in workerd (no JIT there); the fast parser answers exactly as zod for the
 * events it is sure of and leaves the rest, errors included, to it.
 */
export function createEventReader<S extends z.ZodType>(schema: S) {
  const fastParser = compileFastParser(schema, { onUrl: rememberParsedUrl });
  return (
    raw: unknown,
    prefix: PropertyKey[],
  ): { ok: true; event: z.output<S> } | { ok: false; draft: EventDraft } => {
    forgetParsedUrls();
    const fast = fastParser.parse(raw);
    if (fast !== UNSURE) return { ok: true, event: fast };
    const parsed = schema.safeParse(raw, { error: missingIsRequired });
    if (parsed.success) return { ok: true, event: parsed.data };
    return {
      ok: false,
      draft: {
        kind: "invalid",
        eventId: readEventId(raw),
        errors: toFieldIssues(parsed.error, prefix),
      },
    };
  };
}
