/** Realistic, schema-valid `events`/`capi`/`predictions` messages for tests and benchmarks. */
import type { EventMessage } from "#core/events";
import type { PredictionRecord } from "#core/scoring";

export interface SampleEventOptions {
  tenant?: string;
  source?: "web" | "capi";
  eventId: string;
  eventName?: string;
  eventTimeMs: number;
  campaign?: string;
  value?: number;
  currency?: string;
  matchQuality?: number;
  predictionId?: string;
  /** The Meta pixel of a `capi` message (default a fixed id); null: none. */
  pixelId?: string | null;
}

/** Deterministic 64-hex "hash" of a seed (stands in for SHA-256 of an email/phone). */
function fakeSha(seed: string): string {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619) >>> 0;
  return h.toString(16).padStart(8, "0").repeat(8);
}

/**
 * A message as the Worker produces it for a Meta-style server/website event (~1.2 KB of JSON):
 * hashed user_data, custom_data with value and currency, UTM, click ids.
 */
export function sampleEventMessage(o: SampleEventOptions): EventMessage {
  const tenant = o.tenant ?? "acme";
  const source = o.source ?? "web";
  const eventName = o.eventName ?? "Purchase";
  const campaign = o.campaign;
  const fbclid = `IwAR${o.eventId.slice(-8)}`;
  const custom =
    o.value === undefined
      ? { content_type: "product" }
      : {
          value: o.value,
          ...(o.currency === undefined ? {} : { currency: o.currency }),
          content_ids: ["sku-1042", "sku-2208"],
          content_type: "product",
          num_items: 2,
        };
  return {
    schemaVersion: 1,
    tenant,
    source,
    ...(source === "capi" && o.pixelId !== null
      ? { pixelId: o.pixelId ?? "1234567890123456" }
      : {}),
    eventId: o.eventId,
    eventIdAssigned: false,
    eventName,
    eventTimeMs: o.eventTimeMs,
    receivedAtMs: o.eventTimeMs + 120,
    actionSource: "website",
    matchQuality: {
      score: o.matchQuality ?? 7.5,
      signals: ["email", "phone", "browserId", "ip", "userAgent"],
    },
    ...(o.value === undefined ? {} : { value: o.value }),
    ...(o.currency === undefined ? {} : { currency: o.currency }),
    ...(campaign === undefined
      ? {}
      : { campaign, utm: { source: "facebook", medium: "cpc", campaign } }),
    clickIds: { fbclid },
    ...(o.predictionId === undefined ? {} : { predictionId: o.predictionId }),
    event: {
      event_name: eventName,
      event_time: Math.floor(o.eventTimeMs / 1000),
      event_id: o.eventId,
      action_source: "website",
      event_source_url: `https://shop.example/checkout?utm_campaign=${campaign ?? "none"}&fbclid=${fbclid}`,
      user_data: {
        em: [fakeSha(`em${o.eventId}`)],
        ph: [fakeSha(`ph${o.eventId}`)],
        client_ip_address: "203.0.113.7",
        client_user_agent:
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        fbp: "fb.1.1767225600000.1234567890",
        fbc: `fb.1.1767225600000.${fbclid}`,
      },
      custom_data: custom,
    },
  } as EventMessage;
}

export function samplePrediction(o: {
  tenant?: string;
  predictionId: string;
  model?: string;
  version?: string;
  scoredAtMs: number;
}): PredictionRecord {
  return {
    schemaVersion: 1,
    tenant: o.tenant ?? "acme",
    predictionId: o.predictionId,
    model: o.model ?? "conversion",
    version: o.version ?? "1",
    features: { sessions_7d: 4, cart_value: 52.5, device: "mobile", country: "DE" },
    score: 0.42,
    scoredAt: new Date(o.scoredAtMs).toISOString(),
  };
}

/** Kafka value bytes of a message. */
export function toValue(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message));
}
