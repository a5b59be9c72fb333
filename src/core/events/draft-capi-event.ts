/** The draft of one Conversions API server event: parsed, its requirements checked, its URLs read. */

import type { FieldIssue } from "../errors.ts";
import { actionSourceRequirements, purchaseRequirements } from "./action-source-requirements.ts";
import { capiServerEventSchema } from "./capi-event-schema.ts";
import { createEventReader, type EventDraft, normalizeCustomData } from "./event-draft.ts";
import { capiEventTimeMs } from "./event-time.ts";
import { hashEmailsInUrl } from "./hash-free-form-emails.ts";
import { queryParams, readClickIds, readUtm, stripEventUrl } from "./query-params.ts";
import { DEFAULT_URL_QUERY_ALLOWLIST, type UrlQueryAllowlist } from "./url-query-allowlist.ts";
import { fieldAt } from "./zod-issues.ts";

const readCapiEvent = createEventReader(capiServerEventSchema);

export function draftCapiEvent(
  raw: unknown,
  prefix: PropertyKey[],
  allowlist: UrlQueryAllowlist = DEFAULT_URL_QUERY_ALLOWLIST,
): EventDraft {
  const read = readCapiEvent(raw, prefix);
  if (!read.ok) return read.draft;
  const e = read.event;
  const errors: FieldIssue[] = [];

  let eventTimeMs = Number.NaN;
  const time = capiEventTimeMs(e.event_time);
  if (typeof time === "number") eventTimeMs = time;
  else errors.push({ field: fieldAt(prefix, "event_time"), message: time.message });

  actionSourceRequirements(e, prefix, errors);
  purchaseRequirements(e.event_name, e.custom_data, prefix, errors);

  const { user_data, custom_data } = e;
  // Query parameters off the allow-list are dropped, and email addresses in the rest hashed,
  // before anything reads the URLs (see stripUrlQuery and hashEmailsInUrl).
  if (e.event_source_url !== undefined) {
    e.event_source_url = hashEmailsInUrl(stripEventUrl(e.event_source_url, allowlist));
  }
  if (e.referrer_url !== undefined) {
    e.referrer_url = hashEmailsInUrl(stripEventUrl(e.referrer_url, allowlist));
  }
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
