import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventMessageSchema } from "#core/events";
import { PredictionRecordSchema } from "#core/scoring";
import { sampleEventMessage, samplePrediction, toValue } from "../testing/sample-messages";
import {
  createRecordDecoder,
  dedupEventId,
  OUTCOME_DEDUP_NAME,
  PREDICTION_DEDUP_NAME,
  PREDICTIONS_SOURCE,
} from "./decode-record";
import { dedupDigest } from "./dedup-digest";

const T0 = Date.parse("2026-03-01T10:15:30Z");
const decode = createRecordDecoder("envelope");
const decodeFull = createRecordDecoder("full");
const event = (over: Partial<Parameters<typeof sampleEventMessage>[0]> = {}) =>
  sampleEventMessage({
    eventId: "e-1",
    eventTimeMs: T0,
    value: 19.99,
    currency: "USD",
    campaign: "spring",
    ...over,
  });

describe("sample messages", () => {
  it("are valid against the wire schemas (else the tests below prove nothing)", () => {
    expect(eventMessageSchema.safeParse(event()).success).toBe(true);
    expect(eventMessageSchema.safeParse(event({ source: "capi", value: undefined })).success).toBe(
      true,
    );
    expect(
      PredictionRecordSchema.safeParse(samplePrediction({ predictionId: "p-1", scoredAtMs: T0 }))
        .success,
    ).toBe(true);
  });
});

describe("decodeRecord: events", () => {
  it("maps an event message to an observation and its dedup key", () => {
    const result = decode("event", toValue(event({ predictionId: "p-9", matchQuality: 6.25 })));
    expect(result).toEqual({
      ok: true,
      observation: {
        kind: "event",
        tenant: "acme",
        source: "web",
        eventName: "Purchase",
        campaign: "spring",
        eventTimeMs: T0,
        valueMicros: 19_990_000n,
        currency: "USD",
        matchQuality: 6.25,
        attributed: true,
      },
      dedup: {
        tenant: "acme",
        eventName: "Purchase",
        eventId: "e-1",
        digest: dedupDigest("acme", "Purchase", "e-1"),
      },
      message: {
        kind: "event",
        message: expect.objectContaining({
          tenant: "acme",
          eventName: "Purchase",
          eventId: "e-1",
          eventTimeMs: T0,
          predictionId: "p-9",
          clickIds: expect.any(Object),
        }),
      },
    });
  });

  it.each([
    ["no campaign → empty campaign", event({ campaign: undefined }), { campaign: "" }],
    [
      "no value → nothing to sum",
      event({ value: undefined, currency: undefined }),
      { valueMicros: undefined, currency: undefined },
    ],
    [
      "value without currency → not summed",
      event({ currency: undefined }),
      { valueMicros: undefined },
    ],
    ["capi source kept", event({ source: "capi" }), { source: "capi" }],
    ["no prediction id → not attributed", event(), { attributed: false }],
    [
      "long campaign truncated to 256 characters",
      event({ campaign: "c".repeat(400) }),
      { campaign: "c".repeat(256) },
    ],
  ])("%s", (_name, message, expected) => {
    const result = decode("event", toValue(message));
    expect(result.ok).toBe(true);
    if (result.ok === true) expect(result.observation).toMatchObject(expected);
  });

  it("skips a cross-source copy (the other sender's copy is counted), in both validation modes", () => {
    for (const decoder of [decode, decodeFull]) {
      const copy = { ...event({ source: "capi" }), keyKind: "server", crossSourceCopy: true };
      expect(decoder("event", toValue(copy))).toEqual({
        ok: "skipped",
        reason: "cross-source copy",
      });
      const original = { ...event({ source: "capi" }), keyKind: "server" };
      expect(decoder("event", toValue(original)).ok).toBe(true);
    }
  });

  it("remembers an event id longer than 256 characters by its SHA-256", () => {
    const long = "x".repeat(300);
    const result = decode("event", toValue(event({ eventId: long })));
    expect(result.ok === true && result.dedup.eventId).toBe(dedupEventId(long));
    expect(dedupEventId(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(dedupEventId("short")).toBe("short");
  });

  it.each([
    ["empty value", null, /no value/],
    ["bad JSON", Buffer.from("{not json"), /not valid JSON/],
    ["a JSON array", Buffer.from("[1,2]"), /event message schema v1: \(root\)/],
    ["wrong schema version", toValue({ ...event(), schemaVersion: 2 }), /schemaVersion/],
    ["missing eventId", toValue({ ...event(), eventId: undefined }), /eventId/],
    ["source outside web|capi", toValue({ ...event(), source: "predictions" }), /source/],
    ["bad currency", toValue({ ...event(), currency: "usd" }), /currency/],
    ["invalid tenant id", toValue({ ...event(), tenant: "a b" }), /tenant/],
    [
      "event name over 256 characters",
      toValue({ ...event(), eventName: "n".repeat(257) }),
      /eventName/,
    ],
    ["NUL in the event id", toValue({ ...event(), eventId: "a\u0000b" }), /U\+0000/],
    ["absurd value", toValue({ ...event(), value: 1e15 }), /value/],
    ["utm key outside utm_*", toValue({ ...event(), utm: { source: "x", bogus: "y" } }), /utm/],
    ["click id outside the known", toValue({ ...event(), clickIds: { foo: "1" } }), /clickIds/],
    ["click id not a string", toValue({ ...event(), clickIds: { gclid: 7 } }), /clickIds\.gclid/],
  ])("poison: %s", (_name, value, reason) => {
    for (const decoder of [decode, decodeFull]) {
      const result = decoder("event", value as Buffer | null);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(reason);
    }
  });

  it("accepts every utm and click id parameter (the fast path agrees with zod)", () => {
    const m = {
      ...event(),
      utm: { source: "s", medium: "m", campaign: "c", term: "t", content: "x", id: "i" },
      clickIds: { fbclid: "1", gclid: "2", gbraid: "3", wbraid: "4", msclkid: "5", ttclid: "6" },
    };
    expect(eventMessageSchema.safeParse(m).success).toBe(true);
    expect(decode("event", toValue(m)).ok).toBe(true);
    expect(decodeFull("event", toValue(m)).ok).toBe(true);
  });

  it("envelope mode leaves the Meta event unchecked; full mode checks it", () => {
    const broken = { ...event(), event: { ...event().event, user_data: { em: ["not-a-hash"] } } };
    expect(decode("event", toValue(broken)).ok).toBe(true);
    const full = decodeFull("event", toValue(broken));
    expect(full.ok).toBe(false);
    if (!full.ok) expect(full.reason).toMatch(/event\.user_data\.em\.0/);
    // Even in envelope mode, `event` must be an object.
    expect(decode("event", toValue({ ...event(), event: "x" })).ok).toBe(false);
  });
});

describe("decodeRecord: ingest outcome records", () => {
  const outcome = {
    type: "ingest-outcome",
    v: 1,
    tenant: "acme",
    source: "web",
    requestId: "r-1",
    receivedAtMs: T0,
    accepted: 3,
    duplicates: 1,
    rejected: 2,
    copies: 0,
  };

  it("reads the counts and keys the record by its request id, in both validation modes", () => {
    for (const d of [decode, decodeFull]) {
      const decoded = d("event", toValue(outcome));
      expect(decoded).toEqual({
        ok: "outcome",
        outcome,
        dedup: {
          tenant: "acme",
          eventName: OUTCOME_DEDUP_NAME,
          eventId: "r-1",
          digest: dedupDigest("acme", OUTCOME_DEDUP_NAME, "r-1"),
        },
      });
    }
  });

  it("dead-letters a malformed outcome record naming the field", () => {
    const decoded = decode("event", toValue({ ...outcome, rejected: -1 }));
    expect(decoded.ok).toBe(false);
    expect(decoded.ok === false && decoded.reason).toMatch(/ingest outcome record.*rejected/);
    const badTenant = decode("event", toValue({ ...outcome, tenant: "no spaces" }));
    expect(badTenant.ok === false && badTenant.reason).toMatch(/^tenant:/);
  });
});

describe("decodeRecord: text Postgres cannot store", () => {
  const prediction = (over: Record<string, unknown>) => ({
    ...samplePrediction({ predictionId: "p-1", scoredAtMs: T0 }),
    ...over,
  });

  it.each([
    [
      "a lone surrogate in a feature value",
      "prediction",
      prediction({ features: { device: "\ud800" } }),
      /features\.device: .*lone UTF-16 surrogate/,
    ],
    [
      "a lone surrogate in a feature name",
      "prediction",
      prediction({ features: { "de\udc00v": 1 } }),
      /features: has a key .*lone UTF-16 surrogate/,
    ],
    [
      "U+0000 in a feature value",
      "prediction",
      prediction({ features: { device: "a\u0000" } }),
      /features\.device: .*U\+0000/,
    ],
    [
      "a lone surrogate in the entity id",
      "prediction",
      prediction({ entityId: "u\udfff" }),
      /entityId/,
    ],
    ["a lone surrogate in the version", "prediction", prediction({ version: "\ud800" }), /version/],
    [
      "a lone surrogate in the event id",
      "event",
      event({ eventId: "e\ud800" }),
      /eventId: .*surrogate/,
    ],
    ["a lone surrogate in the campaign", "event", event({ campaign: "\udbff" }), /campaign/],
    [
      "a lone surrogate in a click id",
      "event",
      { ...event(), clickIds: { gclid: "\ud800" } },
      /clickIds\.gclid/,
    ],
    [
      "a lone surrogate in the prediction id",
      "event",
      event({ predictionId: "\ud800" }),
      /predictionId/,
    ],
  ] as const)("poison: %s", (_name, kind, message, reason) => {
    for (const decoder of [decode, decodeFull]) {
      const result = decoder(kind, toValue(message));
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.reason).toMatch(reason);
        // The reason names where, never the text itself (it goes to logs and headers).
        expect(result.reason.isWellFormed() && !result.reason.includes("\u0000")).toBe(true);
      }
    }
  });

  it("leaves the Meta event alone in envelope mode (nothing of it is stored)", () => {
    const m = event();
    const odd = { ...m, event: { ...m.event, custom_data: { content_name: "\ud800" } } };
    expect(decode("event", toValue(odd)).ok).toBe(true);
  });

  it("keeps a surrogate pair and a literal backslash-u text", () => {
    const pair = prediction({ features: { mood: "\ud83d\ude00", text: "\\ud800 \\u0000" } });
    expect(decode("prediction", toValue(pair)).ok).toBe(true);
  });

  // Any text, lone surrogates and U+0000 included, in any field a buggy producer fills: the
  // decoder never throws, and what it accepts holds only text Postgres can store.
  const text = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.string({ unit: "grapheme" }),
    fc.constantFrom("\ud800", "\udfff", "a\u0000b", "\ud83d\ude00", "\\u0000"),
  );
  const storable = (value: unknown): boolean =>
    typeof value === "string"
      ? value.isWellFormed() && !value.includes("\u0000")
      : typeof value !== "object" || value === null
        ? true
        : Object.entries(value).every(([k, v]) => storable(k) && storable(v));

  it("never throws and never accepts unstorable text (property)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(text, fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }))),
        fc.option(text, { nil: undefined }),
        text,
        (features, entityId, version) => {
          const m = prediction({
            features,
            version: version || "1",
            ...(entityId ? { entityId } : {}),
          });
          const result = decode("prediction", toValue(m));
          if (result.ok === true) expect(storable(result.message.message)).toBe(true);
          else if (result.ok === false) expect(storable(result.reason)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(text, text, text, (eventId, campaign, fbclid) => {
        const m = {
          ...event({ eventId: eventId || "e", campaign: campaign || "c" }),
          clickIds: { fbclid },
        };
        for (const decoder of [decode, decodeFull]) {
          const result = decoder("event", toValue(m));
          if (result.ok === true) {
            const { event: _meta, ...envelope } = result.message.message as Record<string, unknown>;
            expect(storable(envelope)).toBe(true);
          } else if (result.ok === false) expect(storable(result.reason)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("decodeRecord: predictions", () => {
  it("keeps the top reasons a prediction may carry", () => {
    const message = {
      ...samplePrediction({ predictionId: "p-2", scoredAtMs: T0 }),
      reasons: [
        { feature: "cart_value", contribution: 0.8 },
        { feature: "device", contribution: -0.25 },
      ],
    };
    const result = decode("prediction", toValue(message));
    expect(result.ok).toBe(true);
    if (result.ok === true) expect(result.message).toEqual({ kind: "prediction", message });
  });

  it("maps a prediction record to a predictions observation", () => {
    const message = samplePrediction({ predictionId: "p-1", scoredAtMs: T0 });
    const result = decode("prediction", toValue(message));
    expect(result).toEqual({
      ok: true,
      observation: {
        kind: "prediction",
        tenant: "acme",
        source: PREDICTIONS_SOURCE,
        eventName: "conversion",
        campaign: "",
        eventTimeMs: T0,
        attributed: false,
      },
      dedup: {
        tenant: "acme",
        eventName: PREDICTION_DEDUP_NAME,
        eventId: "p-1",
        digest: dedupDigest("acme", PREDICTION_DEDUP_NAME, "p-1"),
      },
      message: { kind: "prediction", message },
    });
  });

  it.each([
    ["missing scoredAt", { scoredAt: undefined }, /scoredAt/],
    ["scoredAt without zone", { scoredAt: "2026-03-01T10:15:30" }, /scoredAt/],
    ["model over 256 characters", { model: "m".repeat(300) }, /model/],
    ["an event sent to the predictions topic", { predictionId: undefined }, /predictionId/],
  ])("poison: %s", (_name, over, reason) => {
    const message = { ...samplePrediction({ predictionId: "p-1", scoredAtMs: T0 }), ...over };
    const result = decode("prediction", toValue(message));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});
