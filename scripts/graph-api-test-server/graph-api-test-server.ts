/**
 * A local stand-in for Meta's Graph API Conversions API endpoint (`POST /{version}/{pixel_id}/events`),
 * as the Kafka REST gateway is for Confluent: it applies the validation Meta documents, answers
 * in Meta's shapes (`events_received`, `messages`, `fbtrace_id`; Graph API error objects) and
 * records what it received, so the delivery service can be run and tested without Meta.
 *
 * What it checks (developers.facebook.com/docs/marketing-api/conversions-api/parameters):
 * an access token; `data` a JSON array of 1 to 1000 server events; per event `event_name`,
 * `event_time` (Unix seconds, at most 7 days old and not in the future), `action_source` (one of
 * Meta's values), `user_data` with at least one customer information parameter, SHA-256 hex for
 * the hashed parameters, `client_user_agent` and `event_source_url` for website events, and
 * `currency` + `value` for Purchase. One bad event fails the whole request, as at Meta.
 * Meta deduplicates events with the same `event_name` and `event_id`; so does the record here.
 */
import { Hono } from "hono";

const ACTION_SOURCES = new Set([
  "email",
  "website",
  "app",
  "phone_call",
  "chat",
  "physical_store",
  "system_generated",
  "business_messaging",
  "other",
]);
const HASHED = ["em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country"] as const;
const IDENTIFIERS = [
  ...HASHED,
  "external_id",
  "client_ip_address",
  "client_user_agent",
  "fbc",
  "fbp",
  "subscription_id",
  "fb_login_id",
  "lead_id",
  "anon_id",
  "madid",
  "page_id",
  "page_scoped_user_id",
  "ctwa_clid",
  "ig_account_id",
  "ig_sid",
] as const;
const SHA256 = /^[0-9a-f]{64}$/;
const MAX_EVENTS = 1000;
const MAX_AGE_S = 7 * 24 * 3600;
const FUTURE_SKEW_S = 60;

export interface ReceivedEvent {
  pixelId: string;
  testEventCode: string | null;
  event: Record<string, unknown>;
  receivedAtMs: number;
}

/** A failure to answer instead of the normal one, for the next `times` requests (tests and demos). */
export interface Fault {
  status: number;
  /** A Graph API error object; omitted: a body that is not JSON (like a proxy's error page). */
  error?: Record<string, unknown>;
  times: number;
  pixelId?: string;
}

export interface GraphApiTestServerState {
  /** Every accepted event once per (pixel, test code, event_name, event_id), as Meta dedups. */
  events: ReceivedEvent[];
  /** Requests answered (accepted or not), in order. */
  requests: { pixelId: string; events: number; status: number; fbtraceId: string }[];
  /** Events received again with an already seen (event_name, event_id). */
  deduplicated: number;
  faults: Fault[];
}

export interface GraphApiTestServerOptions {
  now?: () => number;
  /** Tokens refused with code 190, as an expired or revoked token is at Meta. */
  invalidTokens?: ReadonlySet<string>;
}

type Problem = { message: string; subcode: number; title: string };

export function createGraphApiTestServer(options: GraphApiTestServerOptions = {}) {
  const now = options.now ?? Date.now;
  const state: GraphApiTestServerState = { events: [], requests: [], deduplicated: 0, faults: [] };
  const seen = new Set<string>();
  const app = new Hono();
  let trace = 0;
  const nextTrace = () => `Dl${(++trace).toString(36).padStart(8, "0")}`;

  const graphError = (
    status: number,
    fbtraceId: string,
    code: number,
    message: string,
    extra: Record<string, unknown> = {},
  ) =>
    new Response(
      JSON.stringify({
        error: {
          message,
          type: "OAuthException",
          code,
          is_transient: false,
          fbtrace_id: fbtraceId,
          ...extra,
        },
      }),
      { status, headers: { "content-type": "application/json" } },
    );

  app.post("/:version/:pixelId/events", async (c) => {
    const pixelId = c.req.param("pixelId");
    const fbtraceId = nextTrace();
    const fault = state.faults.find((f) => f.pixelId === undefined || f.pixelId === pixelId);
    if (fault) {
      fault.times -= 1;
      if (fault.times <= 0) state.faults.splice(state.faults.indexOf(fault), 1);
      state.requests.push({ pixelId, events: 0, status: fault.status, fbtraceId });
      return fault.error === undefined
        ? c.text("upstream unavailable", fault.status as 500)
        : c.json({ error: { fbtrace_id: fbtraceId, ...fault.error } }, fault.status as 500);
    }
    const body = await readBody(c.req.raw);
    const answer = (status: number, response: Response) => {
      state.requests.push({
        pixelId,
        events: Array.isArray(body?.data) ? body.data.length : 0,
        status,
        fbtraceId,
      });
      return response;
    };
    const token = c.req.query("access_token") ?? (body?.access_token as string | undefined);
    if (typeof token !== "string" || token === "") {
      return answer(
        400,
        graphError(400, fbtraceId, 104, "An access token is required to request this resource."),
      );
    }
    if (options.invalidTokens?.has(token)) {
      return answer(
        400,
        graphError(400, fbtraceId, 190, "Error validating access token: Session has expired.", {
          error_subcode: 463,
        }),
      );
    }
    if (!/^[0-9]{1,32}$/.test(pixelId)) {
      return answer(
        400,
        graphError(
          400,
          fbtraceId,
          100,
          `Unsupported post request. Object with ID '${pixelId}' does not exist.`,
          { error_subcode: 33 },
        ),
      );
    }
    const data = typeof body?.data === "string" ? tryJson(body.data) : body?.data;
    if (!Array.isArray(data) || data.length === 0) {
      return answer(400, graphError(400, fbtraceId, 100, "(#100) The parameter data is required"));
    }
    if (data.length > MAX_EVENTS) {
      return answer(
        400,
        graphError(
          400,
          fbtraceId,
          100,
          `(#100) The number of events in the data parameter exceeds the maximum limit of ${MAX_EVENTS}`,
        ),
      );
    }
    const nowS = Math.floor(now() / 1000);
    for (let i = 0; i < data.length; i++) {
      const problem = validateEvent(data[i], nowS);
      if (problem) {
        return answer(
          400,
          graphError(400, fbtraceId, 100, "Invalid parameter", {
            error_subcode: problem.subcode,
            error_user_title: problem.title,
            error_user_msg: `data[${i}]: ${problem.message}`,
          }),
        );
      }
    }
    const testEventCode = typeof body?.test_event_code === "string" ? body.test_event_code : null;
    for (const event of data as Record<string, unknown>[]) {
      const id = event.event_id === undefined ? null : String(event.event_id);
      const key =
        id === null ? null : `${pixelId}\u0000${testEventCode}\u0000${event.event_name}\u0000${id}`;
      if (key !== null && seen.has(key)) {
        state.deduplicated += 1;
        continue;
      }
      if (key !== null) seen.add(key);
      state.events.push({ pixelId, testEventCode, event, receivedAtMs: now() });
    }
    return answer(
      200,
      c.json({ events_received: data.length, messages: [], fbtrace_id: fbtraceId }),
    );
  });

  // Inspection and fault injection for tests and demos (not part of Meta's API).
  app.get("/_driftline/received", (c) => {
    const pixelId = c.req.query("pixel_id");
    const events = state.events.filter((e) => pixelId === undefined || e.pixelId === pixelId);
    return c.json({ events, requests: state.requests.length, deduplicated: state.deduplicated });
  });
  app.get("/_driftline/stats", (c) =>
    c.json({
      events: state.events.length,
      requests: state.requests.length,
      deduplicated: state.deduplicated,
    }),
  );
  app.post("/_driftline/faults", async (c) => {
    const fault = (await c.req.json()) as Fault;
    state.faults.push(fault);
    return c.json({ ok: true }, 201);
  });

  return { app, state };
}

async function readBody(req: Request): Promise<Record<string, unknown> | null> {
  const type = req.headers.get("content-type") ?? "";
  try {
    if (type.includes("application/json")) return (await req.json()) as Record<string, unknown>;
    const form = await req.formData();
    return Object.fromEntries([...form.entries()].map(([k, v]) => [k, String(v)]));
  } catch {
    return null;
  }
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function validateEvent(raw: unknown, nowS: number): Problem | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { message: "each event must be an object", subcode: 2804001, title: "Invalid Event" };
  }
  const e = raw as Record<string, unknown>;
  if (typeof e.event_name !== "string" || e.event_name === "") {
    return { message: "event_name is required", subcode: 2804001, title: "Missing Event Name" };
  }
  if (typeof e.event_time !== "number" || !Number.isInteger(e.event_time)) {
    return {
      message: "event_time must be a Unix timestamp in seconds",
      subcode: 2804002,
      title: "Invalid Event Time",
    };
  }
  if (e.event_time < nowS - MAX_AGE_S) {
    return {
      message: "The timestamp for this event is more than 7 days in the past.",
      subcode: 2804003,
      title: "Event Timestamp Too Old",
    };
  }
  if (e.event_time > nowS + FUTURE_SKEW_S) {
    return {
      message: "The timestamp for this event is in the future.",
      subcode: 2804004,
      title: "Event Timestamp In Future",
    };
  }
  if (typeof e.action_source !== "string" || !ACTION_SOURCES.has(e.action_source)) {
    return {
      message: "action_source is required and must be one of Meta's values",
      subcode: 2804050,
      title: "Invalid Action Source",
    };
  }
  const ud = e.user_data;
  if (typeof ud !== "object" || ud === null) {
    return { message: "user_data is required", subcode: 2804019, title: "Missing User Data" };
  }
  const u = ud as Record<string, unknown>;
  if (!IDENTIFIERS.some((k) => u[k] !== undefined && u[k] !== null && u[k] !== "")) {
    return {
      message: "user_data needs at least one customer information parameter",
      subcode: 2804019,
      title: "Insufficient Customer Information",
    };
  }
  for (const k of HASHED) {
    const values = u[k] === undefined ? [] : Array.isArray(u[k]) ? u[k] : [u[k]];
    for (const v of values as unknown[]) {
      if (typeof v !== "string" || !SHA256.test(v)) {
        return {
          message: `user_data.${k} must be hashed with SHA-256 (64 lower-case hex digits)`,
          subcode: 2804020,
          title: "Invalid Hashing",
        };
      }
    }
  }
  if (e.action_source === "website") {
    if (typeof u.client_user_agent !== "string" || u.client_user_agent === "") {
      return {
        message: "client_user_agent is required for website events",
        subcode: 2804024,
        title: "Missing User Agent",
      };
    }
    if (typeof e.event_source_url !== "string" || e.event_source_url === "") {
      return {
        message: "event_source_url is required for website events",
        subcode: 2804025,
        title: "Missing Event Source URL",
      };
    }
  }
  if (e.event_name === "Purchase") {
    const cd = e.custom_data as Record<string, unknown> | undefined;
    if (typeof cd?.currency !== "string" || cd.value === undefined) {
      return {
        message: "Purchase events need custom_data.currency and custom_data.value",
        subcode: 2804009,
        title: "Missing Purchase Value",
      };
    }
  }
  return undefined;
}
