import { createHash } from "node:crypto";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { MetricsQuery, MetricsReader, MetricsReadResult } from "../db/metrics-reader";
import { ManualClock } from "../testing/fakes";
import type { ApiKeyStore, StoredApiKey } from "./api-key-store";
import { createApi } from "./create-api";
import { metricsResponseSchema } from "./metrics-route";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

class FakeKeys implements ApiKeyStore {
  lookups = 0;
  constructor(private readonly keys: StoredApiKey[]) {}
  async findByHash(hash: string) {
    this.lookups += 1;
    return this.keys.find((k) => k.keyHash === hash);
  }
}

class FakeReader implements MetricsReader {
  queries: MetricsQuery[] = [];
  constructor(private readonly result: MetricsReadResult) {}
  async readWindows(q: MetricsQuery) {
    this.queries.push(q);
    return this.result;
  }
}

function setup(result: Partial<MetricsReadResult> = {}, opsToken?: string) {
  const keys = new FakeKeys([
    {
      tenantId: "acme",
      keyId: "k1",
      keyHash: sha("acme-admin-key"),
      roles: ["admin"],
      revoked: false,
    },
    {
      tenantId: "acme",
      keyId: "k2",
      keyHash: sha("acme-ingest-key"),
      roles: ["ingest"],
      revoked: false,
    },
    {
      tenantId: "acme",
      keyId: "k3",
      keyHash: sha("acme-old-key"),
      roles: ["admin"],
      revoked: true,
    },
  ]);
  const reader = new FakeReader({
    totals: [],
    values: [],
    predictions: [],
    maxEventTimeMs: undefined,
    ...result,
  });
  const app = createApi({
    reader,
    keys,
    clock: new ManualClock(NOW),
    log: pino({ level: "silent" }),
    readiness: async () => ({
      database: { ok: true },
      kafka: { ok: false, message: "not connected" },
    }),
    prometheus: async () => ({ contentType: "text/plain; version=0.0.4", body: "x 1\n" }),
    readRoles: ["admin"],
    keyCacheTtlMs: 30_000,
    maxRows: 2,
    allowedLatenessMs: 120_000,
    opsToken,
  });
  const get = (path: string, key?: string) =>
    app.request(path, key === undefined ? {} : { headers: { Authorization: `Bearer ${key}` } });
  return { app, keys, reader, get };
}

describe("stream processor API", () => {
  it("answers /health, and /ready with 503 naming the failing check", async () => {
    const { get } = setup();
    expect(await (await get("/health")).json()).toEqual({ status: "ok" });
    const ready = await get("/ready");
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: "not ready",
      checks: { database: { ok: true }, kafka: { ok: false, message: "not connected" } },
    });
  });

  it("with an ops token, answers /metrics and /ready only to it; /health stays open", async () => {
    const { get } = setup({}, "ops-token-0123456789");
    for (const path of ["/metrics", "/ready"]) {
      expect((await get(path)).status).toBe(401);
      expect((await get(path, "acme-admin-key")).status).toBe(401);
      expect((await get(path, "ops-token-0123456789")).status).not.toBe(401);
    }
    expect((await get("/health")).status).toBe(200);
  });

  it("serves the Prometheus exposition", async () => {
    const res = await setup().get("/metrics");
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4");
    expect(await res.text()).toBe("x 1\n");
  });

  it.each([
    ["no key", undefined, 401, "UNAUTHENTICATED"],
    ["unknown key", "who-knows", 401, "UNAUTHENTICATED"],
    ["revoked key", "acme-old-key", 401, "UNAUTHENTICATED"],
    ["key without a read role", "acme-ingest-key", 403, "FORBIDDEN"],
  ])("refuses %s", async (_name, key, status, code) => {
    const { get, reader } = setup();
    const res = await get("/v1/metrics", key);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.requestId).toBeTruthy();
    expect(reader.queries).toHaveLength(0);
  });

  it("reads only the key's tenant, with the query it was given", async () => {
    const { get, reader } = setup({
      totals: [
        {
          windowStartMs: NOW - 60_000,
          eventName: "Purchase",
          events: 3,
          late: 0,
          matchQualitySum: 21,
          matchQualityCount: 3,
          conversions: 1,
        },
      ],
      values: [
        {
          windowStartMs: NOW - 60_000,
          eventName: "Purchase",
          currency: "USD",
          valueSum: "30.000000",
          valueCount: 3,
        },
      ],
      predictions: [{ windowStartMs: NOW - 60_000, predictions: 4 }],
      maxEventTimeMs: NOW,
    });
    const res = await get(
      "/v1/metrics?from=2026-03-01T11:00:00Z&to=1772366400000&groupBy=event_name,event_name&source=web",
      "acme-admin-key",
    );
    expect(res.status).toBe(200);
    const body = metricsResponseSchema.parse(await res.json());
    expect(reader.queries).toEqual([
      {
        tenant: "acme",
        widthMs: 60_000,
        fromMs: Date.parse("2026-03-01T11:00:00Z"),
        toMs: 1772366400000,
        groupBy: ["event_name"],
        filters: { source: "web" },
        limit: 2,
      },
    ]);
    expect(body.tenant).toBe("acme");
    expect(body.watermark).toBe("2026-03-01T11:58:00.000Z");
    expect(body.windows).toEqual([
      expect.objectContaining({
        eventName: "Purchase",
        events: 3,
        values: { USD: 30 },
        matchQuality: 7,
        predictions: 4,
        conversionsPerPrediction: 0.25,
        closed: false,
      }),
    ]);
  });

  it("caches key lookups", async () => {
    const { get, keys } = setup();
    await get("/v1/metrics", "acme-admin-key");
    await get("/v1/metrics", "acme-admin-key");
    expect(keys.lookups).toBe(1);
  });

  it.each([
    ["unknown parameter", "?tenant=other", "tenant"],
    ["bad groupBy", "?groupBy=tenant", "groupBy.0"],
    ["from after to", "?from=2026-03-01T12:00:00Z&to=2026-03-01T11:00:00Z", "from"],
    ["time without zone", "?from=2026-03-01T11:00:00", "from"],
    ["bad granularity", "?granularity=day", "granularity"],
  ])("answers 400 naming the field for %s", async (_name, query, field) => {
    const res = await setup().get(`/v1/metrics${query}`, "acme-admin-key");
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      error: { code: string; details: { issues: { field: string }[] } };
    };
    expect(body.error.code).toBe("VALIDATION");
    expect(body.error.details.issues.map((i) => i.field)).toContain(field);
  });

  it("refuses an answer larger than the row limit with a hint", async () => {
    const row = {
      eventName: "x",
      events: 1,
      late: 0,
      matchQualitySum: 0,
      matchQualityCount: 0,
      conversions: 0,
    };
    const { get } = setup({
      totals: [0, 1, 2].map((i) => ({ ...row, windowStartMs: NOW - i * 60_000 })),
    });
    const res = await get("/v1/metrics", "acme-admin-key");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /more than 2 rows/,
    );
  });

  it("answers unknown routes with the error body", async () => {
    const res = await setup().get("/nope");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });
});
