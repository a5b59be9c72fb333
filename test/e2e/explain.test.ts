/**
 * Explanations end to end: HTTP → the Worker under `wrangler dev` (workerd, onnxruntime-web), the
 * bundled demo model, against brute-force Shapley values computed with native onnxruntime
 * (test/golden/explain-expected.ts). Also checks the published OpenAPI contract.
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import golden from "../fixtures/scoring/explain-expected.json";
import { newKey, WORKER_URL } from "../support/local-stack";

interface Explanation {
  base: number;
  contributions: Record<string, number>;
  space: string;
  method: string;
}
interface Explained {
  score: number;
  explanation: Explanation;
  reasons?: { feature: string; contribution: number }[];
}

let key = "";
beforeAll(async () => {
  key = await newKey(`e2e-explain-${randomUUID().slice(0, 8)}`, ["score"]);
});

async function score(body: unknown): Promise<Response> {
  return fetch(`${WORKER_URL}/v1/score`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

function logit(p: number): number {
  return Math.log(p / (1 - p));
}

describe("POST /v1/score with explain through wrangler dev", () => {
  const rows = golden.models.conversion.rows;

  it("explains the demo model exactly: brute-force values, adding up to the score", async () => {
    for (const row of rows) {
      const res = await score({
        model: "conversion",
        features: row.features,
        explain: true,
        explainTop: 2,
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Explained;
      expect(body.explanation).toMatchObject({ method: "linear", space: "logit" });
      const sum = Object.values(body.explanation.contributions).reduce(
        (a, b) => a + b,
        body.explanation.base,
      );
      expect(Math.abs(sum - logit(body.score))).toBeLessThanOrEqual(1e-6);
      for (const [feature, phi] of Object.entries(row.contributions)) {
        expect(
          Math.abs(body.explanation.contributions[feature]! - phi),
          feature,
        ).toBeLessThanOrEqual(golden.meta.tolerance);
      }
      expect(body.reasons).toHaveLength(2);
    }
  });

  it("explains each row of a batch, and answers a plain request without explanations", async () => {
    const res = await score({
      model: "conversion",
      rows: rows.map((r) => ({ features: r.features })),
      explain: true,
    });
    const body = (await res.json()) as { predictions: Explained[] };
    expect(body.predictions).toHaveLength(rows.length);
    body.predictions.forEach((p, i) => {
      expect(Math.abs(p.explanation.base - rows[i]!.base)).toBeLessThanOrEqual(
        golden.meta.tolerance,
      );
    });
    const plain = (await (
      await score({ model: "conversion", features: rows[0]!.features })
    ).json()) as Record<string, unknown>;
    expect(plain.explanation).toBeUndefined();
  });

  it("publishes explain, explainTop, the Explanation schema and the 422 in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${WORKER_URL}/openapi.json`)).json()) as {
      paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.components.schemas.ScoreRequest!.properties!)).toEqual(
      expect.arrayContaining(["explain", "explainTop"]),
    );
    expect(Object.keys(doc.components.schemas.Explanation!.properties!)).toEqual(
      expect.arrayContaining(["base", "contributions", "space", "method", "stdError"]),
    );
    expect(Object.keys(doc.paths["/v1/score"]!.post!.responses)).toContain("422");
  });
});
