/**
 * A noisy neighbour at the edge, inside workerd with the real app and adapters (Upstash REST +
 * Redis for keys, limits and dedup; miniflare's R2; onnxruntime-web). Tenant A's scripted traffic
 * (model upload and promotion, single and batch scores, website and CAPI events with a resend)
 * runs twice on one isolate: once alone, once while tenant B floods the same isolate with hostile
 * traffic — malformed text, bogus model versions, a model-cache flood of real versions, event
 * name and campaign floods, oversized and deeply nested bodies, forged keys and its own rate
 * limit exhausted. A's answers and everything queued for A must be identical between the runs.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { IngestMessage } from "../../src/queue/ingest-message";
import { nowSeconds } from "./ingest-support";
import { createKey, type TestApp, testApp, uniqueTenant, uploadFixture } from "./support";

/** A's requests stay far below these; B runs into them. */
const LIMITS = { RATE_LIMIT_REQUESTS: 150, MODEL_CACHE_SIZE: 4, AUTH_FAILURES_PER_MINUTE: 20 };
const A_IP = "203.0.113.10";
const B_IP = "198.51.100.66";
const EVENT_TIME = nowSeconds() - 60;

interface Exchange {
  request: string;
  status: number;
  body: unknown;
}

/** What one of A's runs produced: the answers, and the queued records, tenant-free. */
interface Run {
  answers: Exchange[];
  queued: unknown[];
}

function linearRow(i: number): Record<string, number> {
  return { mean_radius: 10 + (i % 7), mean_texture: 15 + (i % 5) * 1.5, mean_smoothness: 0.1 };
}

/** Tenant A's script: the same for both runs but for the tenant (and so its key). */
async function tenantA(app: TestApp, tenant: string): Promise<Run> {
  const key = await createKey(tenant, ["admin", "score", "ingest"]);
  const answers: Exchange[] = [];
  const call = async (name: string, path: string, init: RequestInit & { json?: unknown }) => {
    const res = await app.fetch(path, {
      key,
      ...init,
      headers: { "cf-connecting-ip": A_IP, ...(init.headers as Record<string, string>) },
    });
    answers.push({ request: name, status: res.status, body: normalise(await res.json(), tenant) });
  };
  const upload = await uploadFixture(app, key, "linear", "lin", "1");
  answers.push({ request: "upload", status: upload.status, body: undefined });
  await call("promote", "/v1/models/lin/promote", { json: { version: "1" } });
  for (let i = 0; i < 12; i++) {
    await call(`score ${i}`, "/v1/score", {
      json: { model: "lin", features: linearRow(i), entityId: `visitor-${i}` },
    });
    if (i % 4 === 0) {
      await call(`demo score ${i}`, "/v1/score", {
        json: {
          model: "conversion",
          features: { visits: i, device: i % 2 ? "mobile" : "desktop" },
        },
      });
    }
  }
  await call("batch score", "/v1/score", {
    json: {
      model: "lin",
      rows: Array.from({ length: 40 }, (_, i) => ({ features: linearRow(i) })),
    },
  });
  const events = Array.from({ length: 30 }, (_, i) => ({
    event_name: i % 3 === 0 ? "Purchase" : "PageView",
    event_id: `a-${i}`,
    event_time: EVENT_TIME,
    event_source_url: `https://a.example/p/${i}?utm_campaign=spring&session=${i}`,
    user_data: { client_user_agent: "agent-a", em: `buyer${i}@a.example` },
    ...(i % 3 === 0 ? { custom_data: { currency: "EUR", value: i } } : {}),
  }));
  await call("web events", "/v1/events", { json: { events } });
  await call("web events resent", "/v1/events", { json: { events: events.slice(0, 5) } });
  await call("capi events", "/v1/capi/42/events", {
    json: {
      data: events.slice(10, 20).map((e) => ({
        ...e,
        event_id: `capi-${e.event_id}`,
        action_source: "website",
      })),
    },
  });
  const queued = app.queue.messages
    .filter((m) => belongsTo(m, tenant))
    .map((m) => normalise(m, tenant));
  return { answers, queued };
}

function belongsTo(m: IngestMessage, tenant: string): boolean {
  return m.key.startsWith(`${tenant}:`);
}

/**
 * `value` with what differs between two tenants by design taken out: the tenant, random ids
 * (prediction ids, request ids and the CAPI answer's fbtrace_id, which is the request id),
 * receive and scoring times, and entity ids (keyed per tenant).
 */
function normalise(value: unknown, tenant: string): unknown {
  const drop = new Set([
    "predictionId",
    "requestId",
    "fbtrace_id",
    "receivedAtMs",
    "scoredAt",
    "promotedAt",
    "entityId",
  ]);
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return v.replaceAll(tenant, "<tenant>");
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !drop.has(k))
          .map(([k, x]) => [k, walk(x)]),
      );
    }
    return v;
  };
  const out = walk(value) as { key?: string };
  if (out && typeof out === "object" && typeof out.key === "string") {
    // Prediction keys are `<tenant>:<random id>`.
    out.key = out.key.replace(/^<tenant>:[0-9a-f-]{36}$/, "<tenant>:<prediction>");
  }
  return out;
}

/** Tenant B's hostile traffic; resolves with the statuses it got (none may be a 5xx). */
async function tenantB(app: TestApp, tenant: string): Promise<number[]> {
  const key = await createKey(tenant, ["admin", "score", "ingest"]);
  const statuses: number[] = [];
  const send = async (path: string, init: RequestInit & { json?: unknown; key?: string }) => {
    const res = await app.fetch(path, {
      key,
      ...init,
      headers: { "cf-connecting-ip": B_IP, ...(init.headers as Record<string, string>) },
    });
    statuses.push(res.status);
    await res.arrayBuffer();
  };
  const jobs: Promise<void>[] = [];
  // Malformed text where it would once have reached Postgres.
  for (const bad of ["\ud800", "a\u0000b", "\udfff\ud800"]) {
    jobs.push(send("/v1/score", { json: { features: { device: bad } } }));
    jobs.push(send("/v1/score", { json: { features: { visits: 1 }, entityId: bad } }));
    jobs.push(
      send("/v1/events", {
        json: { event_name: bad, event_id: bad, event_time: EVENT_TIME, user_data: {} },
      }),
    );
  }
  // Bogus versions of a real model and of models that do not exist.
  for (let i = 0; i < 40; i++) {
    jobs.push(send("/v1/score", { json: { model: "lin", version: `bogus-${i}`, features: {} } }));
    jobs.push(send("/v1/score", { json: { model: `nope-${i}`, features: {} } }));
  }
  // Real versions, enough to cycle the isolate's model cache several times over.
  const flood = (async () => {
    for (let v = 1; v <= 10; v++) {
      await uploadFixture(app, key, "linear", "flood", String(v));
      await send("/v1/score", {
        json: { model: "flood", version: String(v), features: linearRow(v) },
      });
    }
  })();
  jobs.push(flood);
  // Event name and campaign floods: every event a new name and a new campaign.
  for (let r = 0; r < 3; r++) {
    const events = Array.from({ length: 500 }, (_, i) => ({
      event_name: `flood-${r}-${i}-${"n".repeat(40)}`,
      event_id: `b-${r}-${i}`,
      event_time: EVENT_TIME,
      campaign: `camp-${r}-${i}`,
      user_data: { client_user_agent: "agent-b" },
    }));
    jobs.push(send("/v1/events", { json: { events } }));
  }
  // Oversized and deeply nested bodies.
  const big = JSON.stringify({ events: [{ event_name: "x".repeat(6 * 1024 * 1024) }] });
  jobs.push(
    send("/v1/events", {
      method: "POST",
      body: big,
      headers: { "content-type": "application/json" },
    }),
  );
  jobs.push(
    send("/v1/score", {
      method: "POST",
      body: big,
      headers: { "content-type": "application/json" },
    }),
  );
  const deep = `{"features":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
  jobs.push(
    send("/v1/score", {
      method: "POST",
      body: deep,
      headers: { "content-type": "application/json" },
    }),
  );
  jobs.push(
    send("/v1/events", {
      method: "POST",
      body: deep,
      headers: { "content-type": "application/json" },
    }),
  );
  // Forged keys from B's address, past its pre-auth limit.
  for (let i = 0; i < 40; i++) {
    jobs.push(send("/v1/score", { key: `dl_${"F".repeat(42)}${i % 10}`, json: { features: {} } }));
  }
  await Promise.all(jobs);
  // Its own request limit, exhausted.
  for (let i = 0; i < 60; i++) await send("/v1/models", { method: "GET" });
  return statuses;
}

describe("a noisy neighbour at the edge", () => {
  let app: TestApp;
  beforeAll(() => {
    app = testApp(LIMITS);
  });

  it("changes nothing of tenant A's answers or queued records", { timeout: 240_000 }, async () => {
    const alone = await tenantA(app, uniqueTenant("a-alone"));
    expect(alone.answers.every((a) => a.status < 300)).toBe(true);

    const [withB, bStatuses] = await Promise.all([
      tenantA(app, uniqueTenant("a-noisy")),
      tenantB(app, uniqueTenant("b-hostile")),
    ]);

    // B got clear refusals, never a server error, and really did run into its limits.
    expect(bStatuses.filter((s) => s >= 500)).toEqual([]);
    for (const status of [400, 401, 404, 413, 429]) expect(bStatuses).toContain(status);

    expect(withB.answers).toEqual(alone.answers);
    expect(withB.queued).toEqual(alone.queued);
    // The comparison is not vacuous: A's scores, events and predictions are all in it.
    const counts = (run: Run, topic: string) =>
      run.queued.filter((m) => (m as { topic: string }).topic === topic).length;
    expect(counts(alone, "predictions")).toBe(12 + 3 + 40);
    expect(counts(alone, "events")).toBe(30);
    expect(counts(alone, "capi")).toBe(10);
  });
});
