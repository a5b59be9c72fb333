/** POST /v1/score through the app with in-memory fakes of every port (no workerd, no services). */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PredictionRecordSchema } from "#core/scoring";
import {
  FAKE_ENTITY_ID_KEY,
  fakeManifest,
  fakeModelBytes,
  fakeServices,
  RecordingPredictionLog,
  recordingContext,
} from "../../test/support/fake-services";
import { createApp } from "../app";
import { ErrorBodySchema } from "./error-responses";
import { BatchScoreSchema, SingleScoreSchema } from "./score";

const WEIGHTS = [0.5, -0.25, 1];
const BIAS = 0.1;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
/** The fake model's score for a row, in float32 inputs like the Worker feeds it. */
const expected = (x: number[]) =>
  sigmoid(BIAS + x.reduce((s, v, i) => s + WEIGHTS[i]! * Math.fround(v), 0));

async function setup(options: Parameters<typeof fakeServices>[0] = {}) {
  const world = fakeServices(options);
  const tenant = "shop-1";
  const key = await world.keys.create(tenant, ["score", "admin"]);
  const stored = { modelBytes: fakeModelBytes(WEIGHTS, BIAS), manifest: fakeManifest(3) };
  for (const version of ["1", "2"]) {
    await world.store.putVersion(tenant, "conv", version, {
      ...stored,
      info: { version, uploadedAt: "2026-11-22T00:00:00Z", sizeBytes: 1, sha256: "", features: 3 },
    });
  }
  await world.pointers.set(tenant, "conv", { champion: "1" });
  const app = createApp(() => world.services);
  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const { ctx, pending } = recordingContext();
    const res = await app.request(
      "/v1/score",
      {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      },
      {},
      ctx,
    );
    return { res, pending };
  };
  return { world, tenant, key, app, post };
}

describe("POST /v1/score with fakes", () => {
  it.each([
    [
      undefined,
      /^No Content-Type header was sent to POST \/v1\/score; send `Content-Type: application\/json`/,
    ],
    [
      "text/plain",
      /^Content-Type text\/plain is not accepted to POST \/v1\/score; send `Content-Type: application\/json`/,
    ],
  ])("answers 415 naming application/json when the content type is %s", async (type, message) => {
    const { key, app } = await setup();
    const { ctx } = recordingContext();
    const res = await app.request(
      "/v1/score",
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          ...(type === undefined ? {} : { "content-type": type }),
        },
        // Bytes, not a string: a string body would make the request say text/plain itself.
        body: new TextEncoder().encode('{"model":"conv","features":{}}'),
      },
      {},
      ctx,
    );
    expect(res.status).toBe(415);
    const body = ErrorBodySchema.parse(await res.json());
    expect(body.error.message).toMatch(message);
  });

  it("scores one row with the active version and logs it through waitUntil", async () => {
    const { world, tenant, post } = await setup();
    const { res, pending } = await post({
      model: "conv",
      entityId: "u-1",
      features: { f0: 2, f2: 0.3, extra: "x" },
    });
    expect(res.status).toBe(200);
    const body = SingleScoreSchema.parse(await res.json());
    expect(body).toMatchObject({ model: "conv", version: "1" });
    expect(body.score).toBeCloseTo(expected([2, 0, 0.3]), 12);

    // The log write went to waitUntil, not into the response path.
    expect(pending.length).toBeGreaterThan(0);
    await Promise.all(pending);
    const [record] = world.log.records;
    expect(PredictionRecordSchema.parse(record)).toEqual({
      schemaVersion: 1,
      tenant,
      predictionId: body.predictionId,
      model: "conv",
      version: "1",
      // The entity id leaves the edge keyed: HMAC-SHA-256 over tenant and id (node:crypto here as
      // the independent reference), never the caller's raw id.
      entityId: createHmac("sha256", FAKE_ENTITY_ID_KEY).update(`${tenant}\u0000u-1`).digest("hex"),
      features: { f0: 2, f1: 0, f2: 0.3 },
      score: body.score,
      scoredAt: "2026-11-22T12:00:00.000Z",
    });
    expect(JSON.stringify(record)).not.toContain("u-1");
  });

  it("keeps batch order and names each row's version", async () => {
    const { post } = await setup();
    const rows = [
      { features: { f0: 1 } },
      { features: { f0: -3, f1: 2 } },
      { features: { f0: 0.5 } },
    ];
    const { res } = await post({ model: "conv", rows });
    const body = BatchScoreSchema.parse(await res.json());
    expect(body.predictions.map((p) => p.score)).toEqual([
      expected([1, 0, 0]),
      expected([-3, 2, 0]),
      expected([0.5, 0, 0]),
    ]);
    expect(new Set(body.predictions.map((p) => p.predictionId)).size).toBe(3);
    expect(body.predictions.every((p) => p.version === "1")).toBe(true);
  });

  it("routes the challenger's share and reports the champion for a mixed batch", async () => {
    let draws = 0;
    const { world, tenant, post } = await setup({
      random: () => (draws++ % 2 === 0 ? 0.05 : 0.95),
    });
    await world.pointers.set(tenant, "conv", {
      champion: "1",
      challenger: { version: "2", share: 0.1 },
    });
    const { res } = await post({
      model: "conv",
      rows: [{ features: { f0: 1 } }, { features: { f0: 1 } }],
    });
    const body = BatchScoreSchema.parse(await res.json());
    expect(body.version).toBe("1");
    expect(body.predictions.map((p) => p.version)).toEqual(["2", "1"]);
  });

  it("answers validation problems with 400 naming each field", async () => {
    const { post } = await setup();
    const { res } = await post({
      model: "conv",
      rows: [{ features: {} }, { features: { f0: "one" } }],
    });
    expect(res.status).toBe(400);
    const body = ErrorBodySchema.parse(await res.json());
    expect(body.error.details?.issues?.map((i) => i.field)).toEqual([
      "rows.0.features.f0",
      "rows.1.features.f0",
    ]);
  });

  it("refuses text that is not well formed, naming the field without echoing the value", async () => {
    const { world, post } = await setup();
    const cases: [unknown, string][] = [
      [{ model: "conv", features: { f0: 1, device: "\ud800" } }, "features.device"],
      [{ model: "conv", features: { f0: 1, device: "a\u0000b" } }, "features.device"],
      [{ model: "conv", features: { f0: 1, "dev\udc00ice": "mobile" } }, "features"],
      [
        { model: "conv", features: { f0: 1, nested: ["ok", { x: "\udfff" }] } },
        "features.nested.1.x",
      ],
      [{ model: "conv", entityId: "u-\ud83d", features: { f0: 1 } }, "entityId"],
      [{ model: "conv", rows: [{ entityId: "u\u0000", features: { f0: 1 } }] }, "rows.0.entityId"],
      [{ model: "conv", rows: [{ features: { f0: 1, d: "\ud800" } }] }, "rows.0.features.d"],
      [{ model: "conv\ud800", features: { f0: 1 } }, "model"],
    ];
    for (const [body, field] of cases) {
      const { res } = await post(body);
      expect(res.status, field).toBe(400);
      const text = await res.text();
      // The answer names the field and says how to fix it, and never carries the bad text back
      // (an echo would be a \uD8xx escape in the JSON; the message itself writes \\uD800).
      expect(text).not.toMatch(/(?<!\\)\\u(d[89a-f][0-9a-f]{2}|0000)/i);
      const { error } = ErrorBodySchema.parse(JSON.parse(text));
      expect(error.code).toBe("VALIDATION");
      expect(error.details?.issues?.map((i) => i.field)).toContain(field);
    }
    // A surrogate pair (one emoji) is well formed and scores.
    expect(
      (await post({ model: "conv", features: { f0: 1, mood: "\ud83d\ude00" } })).res.status,
    ).toBe(200);
    expect(world.log.records.every((r) => JSON.stringify(r).isWellFormed())).toBe(true);
  });

  it("answers 413 above 1000 rows before validating them", async () => {
    const { post } = await setup();
    const { res } = await post({
      model: "conv",
      rows: Array.from({ length: 1001 }, () => ({ nonsense: true })),
    });
    expect(res.status).toBe(413);
  });

  it("answers 413 for a body over 4 MiB, counted while it streams in when no Content-Length says so", async () => {
    const { app, key } = await setup();
    const chunk = new TextEncoder().encode(`${" ".repeat(1 << 20)}`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await app.request("/v1/score", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(ErrorBodySchema.parse(await res.json()).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers 400 for a body nested thousands of levels deep", async () => {
    const { app, key } = await setup();
    const deep = `${"[".repeat(4_000)}${"]".repeat(4_000)}`;
    const res = await app.request("/v1/score", {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: `{"model":"conv","features":{"f0":${deep}}}`,
    });
    expect(res.status).toBe(400);
    expect(ErrorBodySchema.parse(await res.json()).error.message).toMatch(/levels deep/);
  });

  it("never waits for the prediction log, and survives its failure", async () => {
    for (const behaviour of ["hang", "fail"] as const) {
      const { post } = await setup({ log: new RecordingPredictionLog(behaviour) });
      const { res, pending } = await post({ model: "conv", features: { f0: 1 } });
      expect(res.status).toBe(200);
      expect(pending.length).toBeGreaterThan(0);
      if (behaviour === "fail") await expect(Promise.all(pending)).resolves.toBeDefined();
    }
  });

  it("answers 429 with Retry-After and RateLimit headers past the key's limit", async () => {
    const { post } = await setup({ rateLimit: 2 });
    const first = (await post({ model: "conv", features: { f0: 1 } })).res;
    expect(first.headers.get("ratelimit-policy")).toBe('"requests";q=2;w=60');
    expect(first.headers.get("ratelimit")).toMatch(/^"requests";r=1;t=\d+$/);
    expect((await post({ model: "conv", features: { f0: 1 } })).res.status).toBe(200);
    const { res } = await post({ model: "conv", features: { f0: 1 } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.headers.get("ratelimit")).toMatch(/^"requests";r=0;t=\d+$/);
    expect(ErrorBodySchema.parse(await res.json()).error.code).toBe("RATE_LIMITED");
  });

  it("charges a batch's rows to the key's events budget, answering 429 naming it", async () => {
    const { post } = await setup({ eventBudget: 5 });
    const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ features: { f0: i } }));
    expect((await post({ model: "conv", rows: rows(4) })).res.status).toBe(200);
    const { res } = await post({ model: "conv", rows: rows(2) });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = ErrorBodySchema.parse(await res.json());
    expect(body.error.code).toBe("RATE_LIMITED");
    expect(body.error.details).toEqual({ budget: "events", limit: 5, windowSeconds: 60 });
  });

  it("loads a version once per isolate", async () => {
    const { world, post } = await setup();
    for (let i = 0; i < 5; i++) await post({ model: "conv", features: { f0: i } });
    expect(world.runtime.loads).toBe(1);
  });

  it("hides other tenants' models", async () => {
    const { world, app } = await setup();
    const other = await world.keys.create("other", ["score"]);
    const res = await app.request("/v1/score", {
      method: "POST",
      headers: { authorization: `Bearer ${other}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "conv", version: "1", features: { f0: 1 } }),
    });
    expect(res.status).toBe(404);
  });
});

describe("POST /v1/score with explain (fakes)", () => {
  // The fake model is not an ONNX graph, so it is explained by permutation sampling against the
  // one background row its manifest gives (all defaults: f0 = 0, f1 = 0, f2 = 0).
  it("explains one row: base + Σ contributions = the score, with reasons for explainTop", async () => {
    const { post } = await setup();
    const { res } = await post({
      model: "conv",
      features: { f0: 2, f1: 1, f2: -3 },
      explain: true,
      explainTop: 2,
    });
    expect(res.status).toBe(200);
    const body = SingleScoreSchema.parse(await res.json());
    const e = body.explanation!;
    expect(e.method).toBe("permutation");
    expect(e.space).toBe("probability");
    expect(Object.keys(e.contributions)).toEqual(["f0", "f1", "f2"]);
    const sum = Object.values(e.contributions).reduce((a, b) => a + b, e.base);
    expect(Math.abs(sum - body.score)).toBeLessThanOrEqual(1e-6);
    // Against one background row, a permutation's base is that row's score.
    expect(e.base).toBeCloseTo(expected([0, 0, 0]), 12);
    expect(body.reasons).toHaveLength(2);
    expect(body.reasons![0]!.feature).toBe("f2"); // weight 1 × −3 moves the score most
    expect(body.reasons![0]!.contribution).toBeLessThan(0);
  });

  it("explains every row of a batch and leaves plain requests unexplained", async () => {
    const { post } = await setup();
    const rows = [{ features: { f0: 1 } }, { features: { f0: -3, f1: 2 } }];
    const explainedRes = await post({ model: "conv", rows, explain: true });
    const explained = BatchScoreSchema.parse(await explainedRes.res.json());
    for (const p of explained.predictions) {
      const sum = Object.values(p.explanation!.contributions).reduce(
        (a, b) => a + b,
        p.explanation!.base,
      );
      expect(Math.abs(sum - p.score)).toBeLessThanOrEqual(1e-6);
      expect(p.reasons).toBeUndefined();
    }
    const plain = BatchScoreSchema.parse(await (await post({ model: "conv", rows })).res.json());
    expect(plain.predictions.every((p) => p.explanation === undefined)).toBe(true);
  });

  it("answers 422 saying why when a request is over the explanation budget", async () => {
    const { post } = await setup();
    const rows = Array.from({ length: 1000 }, (_, i) => ({ features: { f0: i / 100 } }));
    const { res } = await post({ model: "conv", rows, explain: true });
    expect(res.status).toBe(422);
    const body = ErrorBodySchema.parse(await res.json());
    expect(body.error.code).toBe("UNPROCESSABLE");
    expect(body.error.message).toMatch(/cannot explain this request: .* at most \d+ rows/);
  });

  it("refuses an explainTop outside 1–100 with a 400", async () => {
    const { post } = await setup();
    const { res } = await post({ model: "conv", features: { f0: 1 }, explainTop: 0 });
    expect(res.status).toBe(400);
    const body = ErrorBodySchema.parse(await res.json());
    expect(body.error.details?.issues?.[0]?.field).toBe("explainTop");
  });

  it("puts the top reasons on logged predictions when configured", async () => {
    const { world, post } = await setup({ predictionLogReasons: 1 });
    const { res, pending } = await post({
      model: "conv",
      features: { f0: 2, f2: -3 },
      explain: true,
    });
    const body = SingleScoreSchema.parse(await res.json());
    await Promise.all(pending);
    const record = PredictionRecordSchema.parse(world.log.records.at(-1));
    expect(record.reasons).toEqual(
      body.explanation && [{ feature: "f2", contribution: body.explanation.contributions.f2 }],
    );
  });
});
