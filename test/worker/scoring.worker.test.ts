/**
 * Scoring and model admin inside workerd, against real Upstash REST + Redis, miniflare's R2 and
 * onnxruntime-web. Golden scores come from native onnxruntime (scripts/golden/onnx-expected.ts).
 * ORT-dependent tests live in this one file: loading the 14 MB wasm costs seconds per file.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { beforeAll, describe, expect, it } from "vitest";
import { parseModelManifest } from "#core/model-manifest";
import { modelRegistryRecordSchema } from "#core/model-registry-message";
import { chooseVersion, PredictionRecordSchema } from "#core/scoring";
import { int64Tensor, node } from "#core/training";
import conversionExamples from "../../models/conversion/1/examples.json";
import { LOCAL_ENTITY_ID_KEY } from "../../src/env";
import { R2ModelStore } from "../../src/model-registry/r2-model-store";
import { consumeIngestBatch } from "../../src/queue/consume-ingest-batch";
import { expandModelNotice } from "../../src/queue/expand-model-notice";
import type { IngestMessage } from "../../src/queue/ingest-message";
import type { ProduceRecord, QueueMessageLike } from "../../src/queue/queue-ports";
import explainExpected from "../fixtures/scoring/explain-expected.json";
import expected from "../fixtures/scoring/onnx-expected.json";
import { constantOfShapeBomb, logisticAround } from "../support/onnx-test-graphs";
import {
  createKey,
  type ErrorJson,
  FIXTURES,
  type FixtureName,
  rawEnv,
  type TestApp,
  testApp,
  uniqueTenant,
  uploadFixture,
  uploadForm,
} from "./support";

const TOLERANCE = expected.meta.tolerance;

interface SingleJson {
  predictionId: string;
  model: string;
  version: string;
  score: number;
}
interface BatchJson {
  model: string;
  version: string;
  predictions: { predictionId: string; score: number; version: string }[];
}

describe("scoring the fixture models (linear, MLP, GBT) against native onnxruntime", () => {
  const app = testApp();
  const tenant = uniqueTenant("golden");
  let key = "";

  beforeAll(async () => {
    key = await createKey(tenant, ["admin", "score"]);
    for (const name of Object.keys(FIXTURES) as FixtureName[]) {
      const res = await uploadFixture(app, key, name, name, "1");
      expect(res.status, await res.clone().text()).toBe(201);
      const promoted = await app.fetch(`/v1/models/${name}/promote`, {
        key,
        json: { version: "1" },
      });
      expect(promoted.status).toBe(200);
    }
  });

  for (const name of ["linear", "mlp", "gbt"] as const) {
    const rows = expected.models[name].rows as {
      features: Record<string, unknown>;
      score: number;
    }[];

    it(`${name}: each row scored alone matches within ${TOLERANCE}`, async () => {
      for (const row of rows) {
        const res = await app.fetch("/v1/score", {
          key,
          json: { model: name, features: row.features },
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as SingleJson;
        expect(body.model).toBe(name);
        expect(body.version).toBe("1");
        expect(Math.abs(body.score - row.score)).toBeLessThanOrEqual(TOLERANCE);
      }
    });

    it(`${name}: the same rows as one batch keep their order and scores`, async () => {
      const before = app.queue.messages.length;
      const res = await app.fetch("/v1/score", {
        key,
        json: {
          model: name,
          rows: rows.map((r, i) => ({ entityId: `e-${i}`, features: r.features })),
        },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as BatchJson;
      expect(body.version).toBe("1");
      expect(body.predictions).toHaveLength(rows.length);
      body.predictions.forEach((p, i) => {
        expect(Math.abs(p.score - rows[i]!.score)).toBeLessThanOrEqual(TOLERANCE);
      });

      // Every row went to the predictions log with the features the model saw.
      const logged = app.queue.messages.slice(before);
      expect(logged).toHaveLength(rows.length);
      logged.forEach((m, i) => {
        const record = PredictionRecordSchema.parse(m.value);
        expect(m.topic).toBe("predictions");
        expect(m.key).toBe(`${tenant}:${body.predictions[i]!.predictionId}`);
        expect(record).toMatchObject({
          tenant,
          model: name,
          version: "1",
          // Keyed at the edge: HMAC-SHA-256 with the local key (@noble/hashes as the reference).
          entityId: bytesToHex(
            hmac(sha256, utf8ToBytes(LOCAL_ENTITY_ID_KEY), utf8ToBytes(`${tenant}\u0000e-${i}`)),
          ),
          score: body.predictions[i]!.score,
        });
        expect(Object.keys(record.features)).toEqual(
          FIXTURES[name].manifest.features.map((f: { name: string }) => f.name),
        );
      });
    });
  }

  it("scores concurrent requests on one shared session correctly", async () => {
    const rows = expected.models.mlp.rows as { features: Record<string, unknown>; score: number }[];
    const all = [...rows, ...rows, ...rows];
    const scores = await Promise.all(
      all.map(async (row) => {
        const res = await app.fetch("/v1/score", {
          key,
          json: { model: "mlp", features: row.features },
        });
        return ((await res.json()) as SingleJson).score;
      }),
    );
    scores.forEach((score, i) => {
      expect(Math.abs(score - all[i]!.score)).toBeLessThanOrEqual(TOLERANCE);
    });
  });

  it("logs defaults for absent features and drops features the model does not use", async () => {
    const before = app.queue.messages.length;
    const res = await app.fetch("/v1/score", {
      key,
      json: { model: "linear", features: { sessions_7d: 4, device: null, unknown_extra: 1 } },
    });
    expect(res.status).toBe(200);
    const [message] = app.queue.messages.slice(before);
    const record = PredictionRecordSchema.parse(message!.value);
    expect(record.features.sessions_7d).toBe(4);
    expect(record.features.device).toBe("desktop");
    expect(record.features.cart_value).toBe(0);
    expect(record.features).not.toHaveProperty("unknown_extra");
  });

  it("logs a 1000-row batch in a few bundled queue messages", async () => {
    const before = app.queue.batches.length;
    const logged = app.queue.messages.length;
    const rows = Array.from({ length: 1000 }, (_, i) => ({ features: { sessions_7d: i % 9 } }));
    const res = await app.fetch("/v1/score", { key, json: { model: "mlp", rows } });
    expect(res.status).toBe(200);
    const { predictions } = (await res.json()) as BatchJson;
    expect(predictions).toHaveLength(1000);
    const batches = app.queue.batches.slice(before);
    // Rows of a few hundred bytes: a handful of bundles under 128 KB, at most two to a call.
    expect(batches.flat().length).toBeLessThan(10);
    expect(batches.every((b) => b.length <= 2)).toBe(true);
    expect(app.queue.messages.slice(logged).map((m) => m.key)).toEqual(
      predictions.map((p) => `${tenant}:${p.predictionId}`),
    );
  });
});

describe("explanations in workerd against brute-force Shapley values (native onnxruntime)", () => {
  const app = testApp();
  const tenant = uniqueTenant("explain");
  let key = "";
  const BRUTE = explainExpected.meta.tolerance;

  interface Explained extends SingleJson {
    explanation: {
      base: number;
      contributions: Record<string, number>;
      space: string;
      method: string;
      stdError?: number;
    };
    reasons?: { feature: string; contribution: number }[];
  }

  beforeAll(async () => {
    key = await createKey(tenant, ["admin", "score"]);
    for (const name of ["gbt", "mlp"] as const) {
      expect((await uploadFixture(app, key, name, name, "1")).status).toBe(201);
      const promoted = await app.fetch(`/v1/models/${name}/promote`, {
        key,
        json: { version: "1" },
      });
      expect(promoted.status).toBe(200);
    }
  });

  const cases = [
    ["conversion", "linear", "logit"],
    ["gbt", "tree", "logit"],
    ["mlp", "permutation", "probability"],
  ] as const;
  for (const [name, method, space] of cases) {
    it(`${name}: ${method} contributions match brute force and add up to the score`, async () => {
      const golden = explainExpected.models[name];
      for (const row of golden.rows) {
        const res = await app.fetch("/v1/score", {
          key,
          json: { model: name, features: row.features, explain: true, explainTop: 3 },
        });
        expect(res.status, await res.clone().text()).toBe(200);
        const body = (await res.json()) as Explained;
        const e = body.explanation;
        expect(e.method).toBe(method);
        expect(e.space).toBe(space);
        const sum = Object.values(e.contributions).reduce((a, b) => a + b, e.base);
        const target = space === "logit" ? Math.log(body.score / (1 - body.score)) : body.score;
        // Exact methods add up to 1e-6; a permutation walk telescopes to f(x) exactly as well.
        expect(Math.abs(sum - target)).toBeLessThanOrEqual(1e-6);
        const allowed = method === "permutation" ? 4 * e.stdError! + 1e-6 : BRUTE;
        for (const [feature, phi] of Object.entries(row.contributions)) {
          expect(Math.abs(e.contributions[feature]! - phi), feature).toBeLessThanOrEqual(allowed);
        }
        const sorted = Object.entries(e.contributions).sort(
          (a, b) => Math.abs(b[1]) - Math.abs(a[1]),
        );
        expect(body.reasons).toEqual(
          sorted.slice(0, 3).map(([feature, contribution]) => ({ feature, contribution })),
        );
      }
    });
  }

  it("explains a batch, each row with its own explanation", async () => {
    const rows = explainExpected.models.gbt.rows;
    const res = await app.fetch("/v1/score", {
      key,
      json: { model: "gbt", rows: rows.map((r) => ({ features: r.features })), explain: true },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: Explained[] };
    body.predictions.forEach((p, i) => {
      expect(
        Math.abs(p.explanation.contributions.cart_value! - rows[i]!.contributions.cart_value),
      ).toBeLessThanOrEqual(BRUTE);
    });
  });

  it("answers 422 for a permutation-explained batch over the evaluation budget", async () => {
    const row = explainExpected.models.mlp.rows[0]!.features;
    const res = await app.fetch("/v1/score", {
      key,
      json: {
        model: "mlp",
        rows: Array.from({ length: 1000 }, () => ({ features: row })),
        explain: true,
      },
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/permutation sampling/);
  });
});

describe("the bundled default model", () => {
  it("scores `conversion` for a tenant that uploaded nothing, matching the model's examples", async () => {
    const app = testApp();
    const key = await createKey(uniqueTenant("bundled"), ["score"]);
    for (const example of conversionExamples.examples) {
      const res = await app.fetch("/v1/score", {
        key,
        json: { model: "conversion", features: example.features },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as SingleJson;
      expect(body.version).toBe("1");
      expect(Math.abs(body.score - example.score)).toBeLessThanOrEqual(
        conversionExamples.tolerance,
      );
    }
  });

  it("cannot be overwritten, and a tenant's own promoted version replaces it", async () => {
    const app = testApp();
    const key = await createKey(uniqueTenant("override"), ["admin", "score"]);
    expect((await uploadFixture(app, key, "linear", "conversion", "1")).status).toBe(409);
    expect((await uploadFixture(app, key, "mlp", "conversion", "2")).status).toBe(201);
    // Uploading alone does not change what serves.
    let res = await app.fetch("/v1/score", { key, json: { features: {} } });
    expect(((await res.json()) as SingleJson).version).toBe("1");
    await app.fetch("/v1/models/conversion/promote", { key, json: { version: "2" } });
    res = await app.fetch("/v1/score", { key, json: { features: {} } });
    expect(((await res.json()) as SingleJson).version).toBe("2");
  });
});

describe("feature validation", () => {
  const app = testApp();
  const tenant = uniqueTenant("validate");
  let key = "";

  beforeAll(async () => {
    key = await createKey(tenant, ["admin", "score"]);
    // The linear fixture with one feature that has no default.
    const manifest = structuredClone(FIXTURES.linear.manifest) as {
      features: { name: string; default?: unknown }[];
    };
    delete manifest.features[0]!.default;
    const res = await app.fetch("/v1/models/strict/versions/1", {
      method: "PUT",
      key,
      body: uploadForm(FIXTURES.linear.model, manifest),
    });
    expect(res.status).toBe(201);
    await app.fetch("/v1/models/strict/promote", { key, json: { version: "1" } });
  });

  async function expect400(json: unknown, field: string, text: RegExp) {
    const res = await app.fetch("/v1/score", { key, json });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorJson;
    expect(body.error.code).toBe("VALIDATION");
    const issue = body.error.details?.issues?.find((i) => i.field === field);
    expect(issue, JSON.stringify(body)).toBeDefined();
    expect(issue!.message).toMatch(text);
    return body;
  }

  it("names a missing feature that has no default", async () => {
    const body = await expect400(
      { model: "strict", features: {} },
      "features.sessions_7d",
      /missing/,
    );
    expect(body.error.message).toContain("features.sessions_7d");
  });

  it("names wrong types", async () => {
    await expect400(
      { model: "strict", features: { sessions_7d: "three" } },
      "features.sessions_7d",
      /finite number/,
    );
    await expect400(
      { model: "strict", features: { sessions_7d: 1, cart_value: true } },
      "features.cart_value",
      /finite number/,
    );
    await expect400(
      { model: "strict", features: { sessions_7d: 1, device: 3 } },
      "features.device",
      /must be a string/,
    );
  });

  it("refuses a lone UTF-16 surrogate or U+0000 in a feature, naming it without the text", async () => {
    // The bundled conversion model's categorical `device`, as a buggy client would send it.
    const body = await expect400(
      { model: "conversion", features: { device: "\ud800" } },
      "features.device",
      /lone UTF-16 surrogate.*send whole characters/,
    );
    expect(JSON.stringify(body)).not.toContain("\ud800");
    await expect400(
      { model: "conversion", features: { sessions_7d: 1, "dev\u0000ice": "mobile" } },
      "features",
      /has a key that holds U\+0000/,
    );
  });

  it("names the row in a batch", async () => {
    await expect400(
      { model: "strict", rows: [{ features: { sessions_7d: 1 } }, { features: {} }] },
      "rows.1.features.sessions_7d",
      /missing/,
    );
  });

  it("rejects a body with both or neither of features and rows", async () => {
    await expect400({ model: "strict", features: {}, rows: [] }, "rows", /either/);
    await expect400({ model: "strict" }, "features", /either/);
  });

  it("answers 413 for more than 1000 rows", async () => {
    const rows = Array.from({ length: 1001 }, () => ({ features: { sessions_7d: 1 } }));
    const res = await app.fetch("/v1/score", { key, json: { model: "strict", rows } });
    expect(res.status).toBe(413);
    const body = (await res.json()) as ErrorJson;
    expect(body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(body.error.message).toMatch(/at most 1000 rows; this one has 1001/);
  });

  it("answers malformed JSON and a wrong Content-Type clearly", async () => {
    let res = await app.fetch("/v1/score", {
      method: "POST",
      key,
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/not valid JSON/);
    res = await app.fetch("/v1/score", {
      method: "POST",
      key,
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as ErrorJson).error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("answers 404 for an unknown model or version", async () => {
    let res = await app.fetch("/v1/score", { key, json: { model: "nope", features: {} } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/no active version/);
    res = await app.fetch("/v1/score", {
      key,
      json: { model: "strict", version: "9", features: { sessions_7d: 1 } },
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/no version "9"/);
  });
});

describe("model admin", () => {
  const app = testApp();
  const tenant = uniqueTenant("admin");
  let key = "";

  beforeAll(async () => {
    key = await createKey(tenant, ["admin", "score"]);
  });

  async function expectUpload400(manifest: unknown, model: ArrayBuffer | Uint8Array, text: RegExp) {
    const res = await app.fetch(`/v1/models/bad/versions/${crypto.randomUUID().slice(0, 8)}`, {
      method: "PUT",
      key,
      body: uploadForm(model, manifest),
    });
    const body = (await res.json()) as ErrorJson;
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error.message).toMatch(text);
    return body;
  }

  it("uploads a version (201) and refuses the same version again (409)", async () => {
    const first = await uploadFixture(app, key, "gbt", "lead", "1");
    expect(first.status).toBe(201);
    const body = (await first.json()) as { model: string; version: Record<string, unknown> };
    expect(body.model).toBe("lead");
    expect(body.version).toMatchObject({ version: "1", source: "tenant", features: 10 });
    expect(body.version.sha256).toMatch(/^[0-9a-f]{64}$/);
    const again = await uploadFixture(app, key, "linear", "lead", "1");
    expect(again.status).toBe(409);
    expect(((await again.json()) as ErrorJson).error.message).toMatch(/already exists/);
  });

  it("rejects an invalid manifest, naming the field", async () => {
    const manifest = { ...FIXTURES.linear.manifest, output: { index: 0 } };
    const body = await expectUpload400(manifest, FIXTURES.linear.model, /manifest/);
    expect(body.error.details?.issues?.map((i) => i.field)).toContain("manifest.output.name");
    await expectUpload400("{ nope", FIXTURES.linear.model, /not valid JSON/);
  });

  it("rejects a manifest with a lone UTF-16 surrogate in a category", async () => {
    const manifest = structuredClone(FIXTURES.linear.manifest) as {
      features: { type: string; categories?: string[] }[];
    };
    const index = manifest.features.findIndex((f) => f.type === "categorical");
    manifest.features[index]!.categories![1] = "\udc00";
    const body = await expectUpload400(manifest, FIXTURES.linear.model, /manifest/);
    expect(body.error.details?.issues).toEqual([
      {
        field: `manifest.features.${index}.categories.1`,
        message: expect.stringMatching(/lone UTF-16 surrogate/),
      },
    ]);
  });

  it("rejects bytes that are not an ONNX model", async () => {
    await expectUpload400(
      FIXTURES.linear.manifest,
      new TextEncoder().encode("definitely not onnx"),
      /does not load/,
    );
  });

  /** For the three-feature test graphs of test/support/onnx-test-graphs.ts. */
  const threeFeatureManifest = {
    ...FIXTURES.linear.manifest,
    features: [0, 1, 2].map((i) => ({ name: `f${i}`, type: "number", default: 0 })),
    reference: undefined,
  };

  it("refuses a graph that could allocate without bound before onnxruntime runs it", async () => {
    // It would score one row in 800 KB, a batch in 800 MB.
    const body = await expectUpload400(
      threeFeatureManifest,
      constantOfShapeBomb(),
      /operator ConstantOfShape \(node "ConstantOfShape_huge"\) is not allowed/,
    );
    expect(body.error.details?.issues).toEqual([
      { field: "model", message: expect.stringMatching(/^operator ConstantOfShape/) },
    ]);
  });

  it("refuses a model that scores one row but not a full batch", async () => {
    // Reshape to a fixed [1, 1] works for one row only.
    const oneRowOnly = logisticAround(
      [node("Reshape", ["logit", "one_by_one"], ["bomb_out"])],
      [int64Tensor("one_by_one", [2], [1, 1])],
    );
    await expectUpload400(
      threeFeatureManifest,
      oneRowOnly,
      /scoring a batch of 1000 rows of defaults failed: .*Reshape/,
    );
  });

  it("rejects a model whose tensors do not match the manifest", async () => {
    const base = FIXTURES.linear.manifest as { features: unknown[] };
    await expectUpload400(
      // The reference is dropped too: it describes the tenth feature.
      { ...base, features: base.features.slice(0, 9), reference: undefined },
      FIXTURES.linear.model,
      /takes 10 columns but the manifest lists 9 features/,
    );
    await expectUpload400(
      { ...base, input: "x" },
      FIXTURES.linear.model,
      /input "x" is not a model input/,
    );
    await expectUpload400(
      { ...base, output: { name: "score", index: 0 } },
      FIXTURES.linear.model,
      /output.name "score" is not a model output/,
    );
    await expectUpload400(
      { ...FIXTURES.gbt.manifest, output: { name: "probability", index: 2 } },
      FIXTURES.gbt.model,
      /output.index 2 is outside/,
    );
    // The GBT's `label` output is int64: not a probability.
    await expectUpload400(
      { ...FIXTURES.gbt.manifest, output: { name: "label", index: 0 } },
      FIXTURES.gbt.model,
      /element type int64/,
    );
  });

  it("requires both multipart parts and multipart itself", async () => {
    const form = new FormData();
    form.set("manifest", JSON.stringify(FIXTURES.linear.manifest));
    let res = await app.fetch("/v1/models/bad/versions/9", { method: "PUT", key, body: form });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorJson).error.details?.issues?.[0]?.field).toBe("model");
    res = await app.fetch("/v1/models/bad/versions/9", { method: "PUT", key, json: {} });
    expect(res.status).toBe(415);
  });

  it("rejects path names that are not identifiers", async () => {
    const res = await app.fetch("/v1/models/bad%20name/versions/1", {
      method: "PUT",
      key,
      body: uploadForm(FIXTURES.linear.model, FIXTURES.linear.manifest),
    });
    expect(res.status).toBe(400);
  });

  it("lists models and describes versions with the active pointer", async () => {
    await uploadFixture(app, key, "linear", "listed", "1");
    await uploadFixture(app, key, "mlp", "listed", "10");
    await uploadFixture(app, key, "mlp", "listed", "2");
    await app.fetch("/v1/models/listed/promote", {
      key,
      json: { version: "2", challenger: { version: "10", share: 0.25 } },
    });
    const list = (await (await app.fetch("/v1/models", { key })).json()) as {
      models: {
        name: string;
        active: { pointer: { champion: string }; isDefault: boolean } | null;
      }[];
    };
    const names = list.models.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(["conversion", "listed"]));
    expect(list.models.find((m) => m.name === "conversion")?.active?.isDefault).toBe(true);

    const detail = (await (await app.fetch("/v1/models/listed", { key })).json()) as {
      versions: { version: string }[];
      active: { pointer: { champion: string; challenger: { version: string; share: number } } };
    };
    expect(detail.versions.map((v) => v.version)).toEqual(["1", "2", "10"]);
    expect(detail.active.pointer.champion).toBe("2");
    expect(detail.active.pointer.challenger).toEqual({ version: "10", share: 0.25 });
    expect((await app.fetch("/v1/models/never-uploaded", { key })).status).toBe(404);
  });

  it("announces uploads and promotions on the ingest queue, which the consumer expands from R2", async () => {
    const before = app.queue.batches.length;
    const linear = await uploadFixture(app, key, "linear", "registry", "1");
    expect(linear.status).toBe(201);
    const { sha256 } = ((await linear.json()) as { version: { sha256: string } }).version;
    expect((await uploadFixture(app, key, "mlp", "registry", "2")).status).toBe(201);
    const promoted = await app.fetch("/v1/models/registry/promote", {
      key,
      json: { version: "2", challenger: { version: "1", share: 0.1 } },
    });
    expect(promoted.status).toBe(200);
    const { promotedAt } = ((await promoted.json()) as { active: { promotedAt: string } }).active;

    // One message per upload; the promotion queues the versions it routes to and itself, in one
    // sendBatch. Bodies are notices of a few hundred bytes, whatever the manifest's size.
    const batches = app.queue.batches.slice(before);
    expect(batches.map((b) => b.length)).toEqual([1, 1, 3]);
    // Notices are not bundled: one object body each.
    const messages = batches.flat().map((m) => m.body as IngestMessage);
    expect(
      messages.map((m) => {
        const v = m.value as { action: string; version: string };
        return `${m.topic} ${m.key} ${v.action}:${v.version}`;
      }),
    ).toEqual([
      `models ${tenant}:registry uploaded:1`,
      `models ${tenant}:registry uploaded:2`,
      `models ${tenant}:registry uploaded:2`,
      `models ${tenant}:registry uploaded:1`,
      `models ${tenant}:registry promoted:2`,
    ]);
    expect(messages.at(-1)!.value).toEqual({
      schemaVersion: 1,
      kind: "model-version",
      action: "promoted",
      tenant,
      name: "registry",
      version: "2",
      active: { champion: "2", challenger: { version: "1", share: 0.1 }, promotedAt },
    });
    for (const m of messages) expect(JSON.stringify(m).length).toBeLessThan(512);

    // The Worker's queue consumer on these messages, reading miniflare's R2 through the binding.
    const produced: { topic: string; records: ProduceRecord[] }[] = [];
    const acked: string[] = [];
    const queued: QueueMessageLike[] = messages.map((body, i) => ({
      id: `m${i}`,
      body,
      attempts: 1,
      ack: () => acked.push(`m${i}`),
      retry: () => undefined,
    }));
    const result = await consumeIngestBatch(queued, {
      sink: {
        produce: async (topic, records) => {
          produced.push({ topic, records });
          return records.map(() => ({ ok: true }));
        },
      },
      topicPrefix: "",
      expanders: {
        models: expandModelNotice({ reader: new R2ModelStore(rawEnv.MODELS as R2Bucket) }),
      },
    });
    expect(result).toEqual({ produced: 5, retried: 0, requeued: 0, dropped: 0, parked: 0 });
    expect(acked).toHaveLength(5);
    expect(produced.map((p) => p.topic)).toEqual(["model-registry"]);
    const records = produced[0]!.records.map((r) => modelRegistryRecordSchema.parse(r.value));
    const first = records[0]!;
    if (first.action !== "uploaded") throw new Error("expected the upload first");
    expect(first).toMatchObject({
      tenant,
      name: "registry",
      version: "1",
      sha256,
      sizeBytes: (FIXTURES.linear.model as ArrayBuffer).byteLength,
    });
    expect(first.trimmed).toBeUndefined();
    // The manifest as stored, its drift reference included.
    expect(first.manifest).toEqual(
      parseModelManifest({ ...FIXTURES.linear.manifest, name: "registry", version: "1" }),
    );
    expect(first.manifest.reference?.features).toHaveProperty("cart_value");
    expect(records.map((r) => r.action)).toEqual([
      "uploaded",
      "uploaded",
      "uploaded",
      "uploaded",
      "promoted",
    ]);
  });

  it("refuses to promote unknown versions and bad shares", async () => {
    await uploadFixture(app, key, "linear", "promo", "1");
    let res = await app.fetch("/v1/models/promo/promote", { key, json: { version: "7" } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/"7"/);
    res = await app.fetch("/v1/models/promo/promote", {
      key,
      json: { version: "1", challenger: { version: "8", share: 0.1 } },
    });
    expect(res.status).toBe(404);
    res = await app.fetch("/v1/models/promo/promote", {
      key,
      json: { version: "1", challenger: { version: "1", share: 1.5 } },
    });
    expect(res.status).toBe(400);
    const issues = ((await res.json()) as ErrorJson).error.details?.issues?.map((i) => i.field);
    expect(issues).toContain("challenger.share");
    res = await app.fetch("/v1/models/promo/promote", {
      key,
      json: { version: "1", challenger: { version: "1", share: 0.5 } },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/differ from the champion/);
  });
});

describe("champion and challenger", () => {
  const tenant = uniqueTenant("ab");
  let app: TestApp;
  let key = "";

  beforeAll(async () => {
    app = testApp();
    key = await createKey(tenant, ["admin", "score"]);
    expect((await uploadFixture(app, key, "linear", "ab", "1")).status).toBe(201);
    expect((await uploadFixture(app, key, "mlp", "ab", "2")).status).toBe(201);
    const res = await app.fetch("/v1/models/ab/promote", {
      key,
      json: { version: "1", challenger: { version: "2", share: 0.3 } },
    });
    expect(res.status).toBe(200);
  });

  it("gives an entity the same version every time, as the routing hash says", async () => {
    const pointer = { champion: "1", challenger: { version: "2", share: 0.3 } };
    const entities = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const rows = entities.map((entityId) => ({ entityId, features: {} }));
    const first = (await (
      await app.fetch("/v1/score", { key, json: { model: "ab", rows } })
    ).json()) as BatchJson;
    const second = (await (
      await app.fetch("/v1/score", { key, json: { model: "ab", rows } })
    ).json()) as BatchJson;
    const versions = first.predictions.map((p) => p.version);
    expect(second.predictions.map((p) => p.version)).toEqual(versions);
    entities.forEach((entityId, i) => {
      expect(versions[i]).toBe(
        chooseVersion(pointer, { tenant, model: "ab", entityId }, Math.random).version,
      );
    });
    // Share 0.3 of 300 entities: 90 expected, σ ≈ 7.9; ±5σ keeps this stable across tenant ids.
    const challengers = versions.filter((v) => v === "2").length;
    expect(challengers).toBeGreaterThan(50);
    expect(challengers).toBeLessThan(130);
    expect(first.version).toBe("1");

    // Single-row requests route the same way and say which version scored.
    for (const entityId of entities.slice(0, 20)) {
      const res = await app.fetch("/v1/score", {
        key,
        json: { model: "ab", entityId, features: {} },
      });
      const i = entities.indexOf(entityId);
      expect(((await res.json()) as SingleJson).version).toBe(versions[i]);
    }
  });

  it("splits rows without an entity id at random, and a pinned version overrides the split", async () => {
    const rows = Array.from({ length: 200 }, () => ({ features: {} }));
    const body = (await (
      await app.fetch("/v1/score", { key, json: { model: "ab", rows } })
    ).json()) as BatchJson;
    const versions = new Set(body.predictions.map((p) => p.version));
    expect(versions).toEqual(new Set(["1", "2"]));
    const pinned = (await (
      await app.fetch("/v1/score", { key, json: { model: "ab", version: "2", rows } })
    ).json()) as BatchJson;
    expect(new Set(pinned.predictions.map((p) => p.version))).toEqual(new Set(["2"]));
  });

  it("reaches an isolate that cached the old pointer once its cache expires", async () => {
    // A second app is a second isolate: its own caches, the same Redis and R2. The TTL leaves
    // room for the requests in between, whose background work (rate-limit flushes, 250 ms) the
    // test harness waits for.
    const other = testApp({ ACTIVE_MODEL_CACHE_TTL_MS: 2_000 });
    const score = async (target: TestApp) =>
      (
        (await (
          await target.fetch("/v1/score", {
            key,
            json: { model: "ab", entityId: "stay", features: {} },
          })
        ).json()) as SingleJson
      ).version;
    await app.fetch("/v1/models/ab/promote", { key, json: { version: "1" } });
    expect(await score(other)).toBe("1");
    await app.fetch("/v1/models/ab/promote", { key, json: { version: "2" } });
    expect(await score(app)).toBe("2"); // the promoting isolate sees it at once
    expect(await score(other)).toBe("1"); // still cached
    await new Promise((r) => setTimeout(r, 2_050));
    expect(await score(other)).toBe("2");
  });
});

describe("tenant isolation", () => {
  it("hides one tenant's models from another (404 everywhere)", async () => {
    const app = testApp();
    const owner = await createKey(uniqueTenant("owner"), ["admin", "score"]);
    const stranger = await createKey(uniqueTenant("stranger"), ["admin", "score"]);
    expect((await uploadFixture(app, owner, "linear", "private", "1")).status).toBe(201);
    await app.fetch("/v1/models/private/promote", { key: owner, json: { version: "1" } });
    expect(
      (await app.fetch("/v1/score", { key: owner, json: { model: "private", features: {} } }))
        .status,
    ).toBe(200);

    expect(
      (await app.fetch("/v1/score", { key: stranger, json: { model: "private", features: {} } }))
        .status,
    ).toBe(404);
    expect(
      (
        await app.fetch("/v1/score", {
          key: stranger,
          json: { model: "private", version: "1", features: {} },
        })
      ).status,
    ).toBe(404);
    expect((await app.fetch("/v1/models/private", { key: stranger })).status).toBe(404);
    expect(
      (await app.fetch("/v1/models/private/promote", { key: stranger, json: { version: "1" } }))
        .status,
    ).toBe(404);
    const list = (await (await app.fetch("/v1/models", { key: stranger })).json()) as {
      models: { name: string }[];
    };
    expect(list.models.map((m) => m.name)).not.toContain("private");
    // The stranger may use the same name for its own model.
    expect((await uploadFixture(app, stranger, "mlp", "private", "1")).status).toBe(201);
  });
});
