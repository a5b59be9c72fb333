/** Reads an event request body by its media type (JSON, sendBeacon text/plain, Graph API forms) into JSON. */
import type { HonoRequest } from "hono";
import { DriftlineError, ValidationError } from "#core/errors";
import { type EventSource, MAX_EVENTS_PER_REQUEST } from "#core/events";
import { assertJsonDepth, jsonMayHoldUnstorableText, jsonSyntaxProblem } from "#core/text";
import { shownContentType } from "../http/shown-content-type";

/** Media types each route accepts (what `Content-Type` may say, parameters aside). */
export const ACCEPTED_MEDIA_TYPES: Record<EventSource, readonly string[]> = {
  // navigator.sendBeacon(url, string) sends text/plain;charset=UTF-8: the one type a page can
  // send cross-origin without a CORS preflight.
  web: ["application/json", "text/plain"],
  // Meta's Graph API also takes its parameters as form fields (`curl -F data=[…]`), with `data`
  // holding the JSON array of events.
  capi: [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
  ],
};

export interface EventsBody {
  /** The JSON body, unvalidated; for forms, the fields rebuilt as a CAPI body. */
  body: unknown;
  /** `access_token` from the body (CAPI only); removed from `body`. */
  accessToken?: string;
  /** Events the body carries (before validation), for the key's events budget. */
  eventCount: number;
  /**
   * True when the JSON text can hold no string Postgres refuses (`jsonMayHoldUnstorableText`),
   * so the events need no text check of their own; absent for forms.
   */
  storableText?: true;
}

/** Graph API form fields that are not events. */
const FORM_TEXT_FIELDS = ["test_event_code", "partner_agent"] as const;

/**
 * Parses the body once per request (Hono caches the raw text / form data, so a second call is
 * cheap and returns the same result). Throws 415 for a media type the route does not take, 400
 * for a body that is not JSON, 413 for more than 1000 events.
 */
export async function readEventsBody(req: HonoRequest, source: EventSource): Promise<EventsBody> {
  const contentType = req.header("content-type");
  const essence = contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
  const where = `POST ${req.path}`;
  // No Content-Type (e.g. sendBeacon with an untyped Blob) is read as JSON.
  if (essence !== "" && !isJsonType(essence) && !ACCEPTED_MEDIA_TYPES[source].includes(essence)) {
    throw unsupported(contentType, where, source);
  }
  if (essence === "application/x-www-form-urlencoded" || essence === "multipart/form-data") {
    const result = readForm(await formData(req));
    return { ...result, eventCount: checkEventCount(result.body, source) };
  }
  const text = await req.text();
  const result = extractAccessToken(parseJson(text), source);
  const eventCount = checkEventCount(result.body, source);
  return jsonMayHoldUnstorableText(text)
    ? { ...result, eventCount }
    : { ...result, eventCount, storableText: true };
}

function isJsonType(essence: string): boolean {
  return essence === "application/json" || /^application\/[\w.-]+\+json$/.test(essence);
}

function unsupported(contentType: string | undefined, where: string, source: EventSource) {
  return new DriftlineError(
    "UNSUPPORTED_MEDIA_TYPE",
    `Content-Type ${shownContentType(contentType)} is not accepted by ${where}; send ${ACCEPTED_MEDIA_TYPES[source].join(", ")}.`,
  );
}

function parseJson(text: string): unknown {
  if (text.trim() === "") {
    throw new ValidationError("The body is empty; send the events as JSON.", [
      { field: "(body)", message: "is required" },
    ]);
  }
  assertJsonDepth(text);
  try {
    return JSON.parse(text);
  } catch (err) {
    const why = jsonSyntaxProblem(err);
    throw new ValidationError(`The body is not valid JSON: ${why}.`, [
      { field: "(body)", message: `is not valid JSON (${why})` },
    ]);
  }
}

/** Meta takes the access token as a body parameter too; it is a credential, never an event field. */
function extractAccessToken(body: unknown, source: EventSource): Omit<EventsBody, "eventCount"> {
  if (source !== "capi" || !isRecord(body) || !("access_token" in body)) return { body };
  const { access_token: token, ...rest } = body;
  return typeof token === "string" && token !== ""
    ? { body: rest, accessToken: token }
    : { body: rest };
}

async function formData(req: HonoRequest): Promise<FormData> {
  try {
    return await req.formData();
  } catch (err) {
    throw new ValidationError(
      `The form body cannot be read: ${err instanceof Error ? err.message : String(err)}`,
      [{ field: "(body)", message: "is not a well-formed form" }],
    );
  }
}

function readForm(form: FormData): Omit<EventsBody, "eventCount"> {
  const body: Record<string, unknown> = {};
  const data = form.get("data");
  if (typeof data === "string") {
    assertJsonDepth(data, "data");
    try {
      body.data = JSON.parse(data);
    } catch (err) {
      throw new ValidationError("The form field `data` must be a JSON array of events.", [
        {
          field: "data",
          message: `is not valid JSON (${jsonSyntaxProblem(err)})`,
        },
      ]);
    }
  } else if (data !== null) {
    throw new ValidationError("The form field `data` must be text (a JSON array of events).", [
      { field: "data", message: "must be a JSON array of events, not a file" },
    ]);
  }
  for (const field of FORM_TEXT_FIELDS) {
    const value = form.get(field);
    if (typeof value === "string" && value !== "") body[field] = value;
  }
  const token = form.get("access_token");
  return typeof token === "string" && token !== "" ? { body, accessToken: token } : { body };
}

/**
 * How many events the body carries (a body that is not a list of them counts as one); over 1000
 * is "too large" (413) rather than a malformed body (400).
 */
function checkEventCount(body: unknown, source: EventSource): number {
  if (!isRecord(body)) return 1;
  const list = source === "capi" ? body.data : body.events;
  if (Array.isArray(list) && list.length > MAX_EVENTS_PER_REQUEST) {
    throw new DriftlineError(
      "PAYLOAD_TOO_LARGE",
      `A request carries at most ${MAX_EVENTS_PER_REQUEST} events; this one has ${list.length}. Split it into several requests.`,
      { context: { events: list.length, maxEvents: MAX_EVENTS_PER_REQUEST } },
    );
  }
  return Array.isArray(list) ? list.length : 1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
