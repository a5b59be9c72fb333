/**
 * Property-based tests of every route that takes a body, inside workerd with the real app and
 * adapters (Upstash REST + Redis, miniflare's R2, onnxruntime-web, Postgres through the relay):
 * arbitrary JSON (lone surrogates, U+0000, 4-byte characters), deep nesting, huge strings and
 * numbers. Whatever arrives, the answer is never a 5xx, an error always has the one error body,
 * an error never quotes the text that was sent, and nothing queued holds text Postgres refuses.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { eventsResponseSchema } from "#core/events";
import { isStorableText } from "#core/text";
import { type IngestTestApp, ingestTestApp, nowSeconds } from "./ingest-support";
import {
  createKey,
  type ErrorJson,
  FIXTURES,
  type TestApp,
  testApp,
  uniqueTenant,
  uploadForm,
} from "./support";

/** Budgets out of the way: these runs send hundreds of requests with one key. */
const UNLIMITED = {
  RATE_LIMIT_REQUESTS: 10_000_000,
  RATE_LIMIT_EVENTS: 1_000_000_000,
  RATE_LIMIT_BYTES: 1_000_000_000_000,
};
const RUNS = 60;

/** Text of every kind: any UTF-16 code unit (lone surrogates too), U+0000, astral characters. */
const hostileText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("\u0000", "\ud800", "\udfff", "a\ud83d", "😀\u0000😀", "\u202e", ""),
  fc.integer({ min: 10_000, max: 300_000 }).map((n) => "x".repeat(n)),
);
/** Any JSON value, its strings hostile. */
const hostileJson = fc.jsonValue({ stringUnit: "binary", maxDepth: 4 });
/** Raw JSON text the serialiser never writes: deep nesting, numbers past double range. */
const hostileRawValue = fc.oneof(
  fc.integer({ min: 1, max: 30_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
  fc.integer({ min: 1, max: 30_000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`),
  fc.constantFrom(`1${"0".repeat(400)}`, `-1e99999`, "1e-99999", "-0", `0.${"1".repeat(5000)}`),
);
/** A JSON document with one raw value spliced in where a placeholder string stood. */
const PLACEHOLDER = "__HOSTILE_RAW__";
const spliced = (template: unknown, raw: string) =>
  JSON.stringify(template).replace(`"${PLACEHOLDER}"`, raw);

interface Answer {
  status: number;
  text: string;
}

/** The invariants of any answer to any body. */
function expectSane(answer: Answer, context: string): void {
  expect(answer.status, `${context} → ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  if (answer.status >= 400) {
    const body = JSON.parse(answer.text) as ErrorJson;
    expect(body.error.code, context).toEqual(expect.any(String));
    expect(body.error.message, context).toEqual(expect.any(String));
  }
}

async function answer(res: Response): Promise<Answer> {
  return { status: res.status, text: await res.text() };
}

/** Every string inside the JSON text of what the Worker queued is text Postgres can store. */
function expectStorableQueue(messages: readonly unknown[]): void {
  const walk = (v: unknown): void => {
    if (typeof v === "string") expect(isStorableText(v), JSON.stringify(v)).toBe(true);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") Object.values(v).forEach(walk);
  };
  messages.forEach(walk);
}

describe("event routes take any body without a 5xx", () => {
  let app: IngestTestApp;
  let key = "";
  beforeAll(async () => {
    app = ingestTestApp(UNLIMITED);
    key = await createKey(uniqueTenant("hostile-ev"), ["ingest"]);
  });

  const post = async (path: string, body: string) =>
    answer(
      await app.fetch(path, {
        key,
        body,
        headers: { "content-type": "application/json" },
      }),
    );

  it("POST /v1/events and /v1/capi: arbitrary JSON documents", async () => {
    await fc.assert(
      fc.asyncProperty(hostileJson, fc.boolean(), async (doc, capi) => {
        const path = capi ? "/v1/capi/123/events" : "/v1/events";
        const a = await post(path, JSON.stringify(doc));
        expectSane(a, path);
        if (a.status === 202) eventsResponseSchema.parse(JSON.parse(a.text));
      }),
      { numRuns: RUNS },
    );
    expectStorableQueue(app.queue.messages);
  });

  it("hostile values in every field of an otherwise valid event", async () => {
    const fields = [
      "event_name",
      "event_id",
      "event_time",
      "event_source_url",
      "referrer_url",
      "campaign",
      "utm_source",
      "prediction_id",
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.oneof(hostileText, hostileJson),
        fc.constantFrom("top", "custom_data", "user_data"),
        async (field, value, where) => {
          const event: Record<string, unknown> = {
            event_name: "Purchase",
            event_id: crypto.randomUUID(),
            event_time: nowSeconds(),
            event_source_url: "https://shop.example/p?utm_campaign=spring",
            user_data: { client_user_agent: "agent", em: "jane@example.com" },
            custom_data: { currency: "EUR", value: 12 },
          };
          if (where === "top") event[field] = value;
          else (event[where] as Record<string, unknown>)[field] = value;
          const a = await post("/v1/events", JSON.stringify(event));
          expectSane(a, `${where}.${field}`);
        },
      ),
      { numRuns: RUNS },
    );
    expectStorableQueue(app.queue.messages);
  });

  it("deep nesting and numbers past double range anywhere in the body", async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileRawValue,
        fc.constantFrom("event_time", "custom_data", "value", "user_data", "data"),
        async (raw, where) => {
          const capi = where === "data";
          const event = {
            event_name: "Purchase",
            event_id: crypto.randomUUID(),
            event_time: where === "event_time" ? PLACEHOLDER : nowSeconds(),
            action_source: "website",
            event_source_url: "https://shop.example/",
            user_data: where === "user_data" ? { em: PLACEHOLDER } : { client_user_agent: "a" },
            custom_data:
              where === "custom_data"
                ? { nested: PLACEHOLDER, currency: "EUR", value: 1 }
                : { currency: "EUR", value: where === "value" ? PLACEHOLDER : 1 },
          };
          const body = capi ? spliced({ data: PLACEHOLDER }, raw) : spliced(event, raw);
          const a = await post(capi ? "/v1/capi/123/events" : "/v1/events", body);
          expectSane(a, `${where} ${raw.slice(0, 20)}…(${raw.length})`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("an error never quotes the text that was sent", async () => {
    // Values with a marker that cannot occur in any message: none may come back.
    const marker = fc.stringMatching(/^[a-z]{12}$/).map((s) => `zq${s}`);
    await fc.assert(
      fc.asyncProperty(
        marker,
        fc.constantFrom("event_time", "event_source_url", "action_source", "body", "em", "ph"),
        async (secret, where) => {
          const body =
            where === "body"
              ? `{"event_name": ${secret}@example.com}`
              : JSON.stringify({
                  data: [
                    {
                      event_name: "Lead",
                      event_time: where === "event_time" ? secret : nowSeconds(),
                      action_source: where === "action_source" ? secret : "website",
                      event_source_url: where === "event_source_url" ? `ht!tp:${secret}` : "x",
                      user_data: where === "em" || where === "ph" ? { [where]: secret } : {},
                    },
                  ],
                });
          const a = await post("/v1/capi/123/events", body);
          expectSane(a, where);
          // Not even a part of it (a parser's excerpt is a few characters around the error).
          expect(a.text).not.toContain(secret.slice(0, 8));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("scoring and model admin take any body without a 5xx", () => {
  let app: TestApp;
  let key = "";
  beforeAll(async () => {
    app = testApp(UNLIMITED);
    key = await createKey(uniqueTenant("hostile-sc"), ["admin", "score"]);
  });

  const send = async (path: string, body: string, method = "POST") =>
    answer(
      await app.fetch(path, {
        method,
        key,
        body,
        headers: { "content-type": "application/json" },
      }),
    );

  it("POST /v1/score: arbitrary documents, and hostile values in features, entityId, model and version", async () => {
    const features = fc.dictionary(fc.string({ unit: "binary", maxLength: 12 }), hostileJson, {
      maxKeys: 6,
    });
    const body = fc.oneof(
      hostileJson,
      fc.record({ features }),
      fc.record({ features: fc.constant({ device: "\ud800" }), entityId: hostileText }),
      fc.record({ model: hostileText, version: hostileText, features }),
      fc.record({
        rows: fc.array(fc.record({ features, entityId: hostileText }), { maxLength: 5 }),
      }),
      fc.record({ features, explain: hostileJson, explainTop: hostileJson }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (doc) => {
        const a = await send("/v1/score", JSON.stringify(doc));
        expectSane(a, JSON.stringify(doc).slice(0, 200));
        if (a.status === 200) {
          const json = JSON.parse(a.text) as { score?: number; predictions?: { score: number }[] };
          for (const s of [json.score, ...(json.predictions ?? []).map((p) => p.score)]) {
            if (s !== undefined) expect(Number.isFinite(s)).toBe(true);
          }
        }
      }),
      { numRuns: RUNS },
    );
    expectStorableQueue(app.queue.messages);
  });

  it("POST /v1/score: deep nesting and huge numbers as features", async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileRawValue,
        fc.constantFrom("feature", "rows", "top"),
        async (raw, where) => {
          const template =
            where === "feature"
              ? { features: { visits: PLACEHOLDER } }
              : where === "rows"
                ? { rows: PLACEHOLDER }
                : { features: {}, entityId: PLACEHOLDER };
          const a = await send("/v1/score", spliced(template, raw));
          expectSane(a, `${where} ${raw.slice(0, 20)}…(${raw.length})`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("POST /v1/models/{name}/promote and PUT …/versions/{version}: arbitrary bodies and manifests", async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileJson,
        fc.oneof(hostileJson, hostileRawValue),
        async (promote, manifest) => {
          expectSane(
            await send("/v1/models/conversion/promote", JSON.stringify(promote)),
            "promote",
          );
          const upload = await app.fetch("/v1/models/hostile/versions/1", {
            method: "PUT",
            key,
            body: uploadForm(
              FIXTURES.linear.model,
              typeof manifest === "string" && /^[[{\d-]/.test(manifest)
                ? manifest
                : JSON.stringify(manifest),
            ),
          });
          expectSane(await answer(upload), "upload");
        },
      ),
      { numRuns: 30 },
    );
  });

  it("POST /v1/webhooks and POST /dashboard/session: arbitrary documents", async () => {
    await fc.assert(
      fc.asyncProperty(hostileJson, async (doc) => {
        expectSane(await send("/v1/webhooks", JSON.stringify(doc)), "webhooks");
        const signIn = await app.fetch("/dashboard/session", {
          method: "POST",
          body: JSON.stringify(doc),
          headers: { "content-type": "application/json", origin: "http://driftline.test" },
        });
        expectSane(await answer(signIn), "sign-in");
      }),
      { numRuns: RUNS },
    );
  });
});
