/** The draft of one Conversions API server event: parsed, its requirements checked, its URLs read. */

import type { FieldIssue } from "../errors.ts";
import { actionSourceRequirements, purchaseRequirements } from "./action-source-requirements.ts";
import { capiServerEventSchema } from "./capi-event-schema.ts";
import { compileFastParser, UNSURE } from "./compile-fast-parser.ts";
import { type EventDraft, normalizeCustomData, readEventId } from "./event-draft.ts";
import { capiEventTimeMs } from "./event-time.ts";
import { hashEmailsInUrl } from "./hash-free-form-emails.ts";
import {
  forgetParsedUrls,
  queryParams,
  readClickIds,
  readUtm,
  rememberParsedUrl,
} from "./query-params.ts";
import { fieldAt, missingIsRequired, toFieldIssues } from "./zod-issues.ts";

// zod's interpreter is most of the validation cost in workerd (no JIT there); the fast parser
// answers exactly as zod for the events it is sure of and leaves the rest, errors included, to it.
const capiEventFastParser = compileFastParser(capiServerEventSchema, { onUrl: rememberParsedUrl });

function parseCapiEvent(raw: unknown) {
  forgetParsedUrls();
  const fast = capiEventFastParser.parse(raw);
  if (fast !== UNSURE) return { success: true as const, data: fast };
  return capiServerEventSchema.safeParse(raw, { error: missingIsRequired });
}

export function draftCapiEvent(raw: unknown, prefix: PropertyKey[]): EventDraft {
  const parsed = parseCapiEvent(raw);
  if (!parsed.success) {
    return {
      kind: "invalid",
      eventId: readEventId(raw),
      errors: toFieldIssues(parsed.error, prefix),
    };
  }
  const e = parsed.data;
  const errors: FieldIssue[] = [];

  let eventTimeMs = Number.NaN;
  const time = capiEventTimeMs(e.event_time);
  if (typeof time === "number") eventTimeMs = time;
  else errors.push({ field: fieldAt(prefix, "event_time"), message: time.message });

  actionSourceRequirements(e, prefix, errors);
  purchaseRequirements(e.event_name, e.custom_data, prefix, errors);

  const { user_data, custom_data } = e;
  // Email addresses in the URLs are hashed before anything reads them (see hashEmailsInUrl).
  if (e.event_source_url !== undefined) e.event_source_url = hashEmailsInUrl(e.event_source_url);
  if (e.referrer_url !== undefined) e.referrer_url = hashEmailsInUrl(e.referrer_url);
  const params = queryParams(e.event_source_url);
  const utm = readUtm(params, {});
  const predictionId = custom_data?.prediction_id;
  return {
    kind: "draft",
    eventId: e.event_id === undefined ? null : String(e.event_id),
    errors,
    eventTimeMs,
    actionSource: e.action_source,
    // Not a copy without user_data, custom_data, event_time and event_id: buildEventMessage skips them.
    event: e,
    userData: user_data,
    customData: normalizeCustomData(custom_data),
    campaign: utm.campaign,
    utm,
    clickIds: readClickIds(params, {}, user_data.fbc),
    predictionId:
      typeof predictionId === "string" && predictionId.length > 0 ? predictionId : undefined,
  };
}
