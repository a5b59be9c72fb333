/** Meta Graph API answers to a Conversions API batch: delivered, worth retrying, or refused for good. */
import { z } from "zod";

/** Most events Meta takes in one `/{pixel_id}/events` request. */
export const META_MAX_EVENTS_PER_REQUEST = 1000;

export const metaSuccessSchema = z.looseObject({
  events_received: z.int().nonnegative(),
  messages: z.array(z.unknown()).optional(),
  fbtrace_id: z.string().optional(),
});

export const metaErrorSchema = z.looseObject({
  error: z.looseObject({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.int().optional(),
    error_subcode: z.int().optional(),
    is_transient: z.boolean().optional(),
    error_user_title: z.string().optional(),
    error_user_msg: z.string().optional(),
    fbtrace_id: z.string().optional(),
  }),
});

/**
 * Graph API error codes Meta documents as temporary: 1 unknown (retry), 2 service temporarily
 * unavailable, 4 / 17 / 32 / 613 / 80004 rate limits (application, user, page, calls per hour,
 * ad account), 341 application limit reached. Everything else (100 invalid parameter with its
 * CAPI subcodes 2804xxx, 190 expired or invalid token, 10 / 200-299 permissions) will fail the
 * same way again.
 */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([1, 2, 4, 17, 32, 341, 613, 80004]);
/** Codes that say the destination itself is misconfigured (token, permissions), not the events. */
const CONFIG_CODES: ReadonlySet<number> = new Set([10, 102, 104, 190]);

export type MetaOutcome =
  | {
      kind: "delivered";
      eventsReceived: number;
      fbtraceId: string | null;
      messages: string[];
    }
  /** Retry later with backoff (Meta or the network is down, or a rate limit). */
  | { kind: "transient"; reason: string; httpStatus: number | null; fbtraceId: string | null }
  /**
   * Meta refused the request for good. `scope`: `events` when the events are at fault (a batch
   * of several is split to find the ones), `destination` when the token or its permissions are.
   */
  | {
      kind: "permanent";
      scope: "events" | "destination";
      reason: string;
      httpStatus: number;
      code: number | null;
      subcode: number | null;
      fbtraceId: string | null;
    };

/** Classifies one HTTP answer (status and parsed JSON body, or null when not JSON). */
export function classifyMetaResponse(status: number, body: unknown): MetaOutcome {
  if (status >= 200 && status < 300) {
    const ok = metaSuccessSchema.safeParse(body);
    if (ok.success) {
      return {
        kind: "delivered",
        eventsReceived: ok.data.events_received,
        fbtraceId: ok.data.fbtrace_id ?? null,
        messages: (ok.data.messages ?? []).map((m) =>
          typeof m === "string" ? m : JSON.stringify(m),
        ),
      };
    }
    return {
      kind: "transient",
      reason: `HTTP ${status} without events_received`,
      httpStatus: status,
      fbtraceId: null,
    };
  }
  const parsed = metaErrorSchema.safeParse(body);
  const error = parsed.success ? parsed.data.error : undefined;
  const code = error?.code ?? null;
  const reason = describeMetaError(status, error);
  const fbtraceId = error?.fbtrace_id ?? null;
  const transient =
    error?.is_transient === true ||
    (code !== null && TRANSIENT_CODES.has(code)) ||
    (code === null && (status >= 500 || status === 429 || status === 408));
  if (transient) return { kind: "transient", reason, httpStatus: status, fbtraceId };
  return {
    kind: "permanent",
    scope:
      code !== null && (CONFIG_CODES.has(code) || (code >= 200 && code < 300))
        ? "destination"
        : "events",
    reason,
    httpStatus: status,
    code,
    subcode: error?.error_subcode ?? null,
    fbtraceId,
  };
}

function describeMetaError(
  status: number,
  error: z.infer<typeof metaErrorSchema>["error"] | undefined,
): string {
  if (error === undefined) return `HTTP ${status} without a Graph API error body`;
  const parts = [error.error_user_title, error.error_user_msg ?? error.message].filter(
    (p): p is string => p !== undefined && p !== "",
  );
  const codes = [
    error.code === undefined ? undefined : `code ${error.code}`,
    error.error_subcode === undefined ? undefined : `subcode ${error.error_subcode}`,
  ].filter((p) => p !== undefined);
  return `${parts.join(": ") || `HTTP ${status}`}${codes.length > 0 ? ` (${codes.join(", ")})` : ""}`.slice(
    0,
    1000,
  );
}
