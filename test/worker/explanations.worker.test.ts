/**
 * `GET /v1/models/{name}/explanations` inside workerd against real Postgres (the test schema,
 * through the local relay): predictions logged with their reasons, newest first, paged; the
 * per-feature summary against a computation over the seeded rows; tenants kept apart.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ExplanationsPageSchema } from "../../src/routes/read-model-explanations";
import { sql } from "./read-db";
import { createKey, type ErrorJson, testApp, uniqueTenant } from "./support";

const HOUR = 3_600_000;
const NOW = Date.now();
const FEATURES = ["sessions_7d", "cart_value", "device", "days_since_last_visit"];

type Reason = { feature: string; contribution: number };
interface Seeded {
  tenant: string;
  read: string;
  /** Explained predictions in the last 24 h, newest first. */
  explained: { id: string; version: string; score: number; reasons: Reason[] }[];
}

/** A tenant's predictions: `n` with reasons (two versions), one without, one a week old. */
async function seedTenant(label: string, model: string, n: number, scale: number) {
  const tenant = uniqueTenant(label);
  const read = await createKey(tenant, ["read"]);
  await sql("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
  await sql(
    `INSERT INTO model_versions (tenant_id, model_name, version, manifest) VALUES ($1, $2, '1', '{}')`,
    [tenant, model],
  );
  const insert = (id: string, version: string, score: number, atMs: number, reasons: unknown) =>
    sql(
      `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, features,
         reasons, predicted_at)
       VALUES ($1, $2, $3, $4, $5, '{}', $6::jsonb, $7)`,
      [
        tenant,
        id,
        model,
        version,
        score,
        reasons === null ? null : JSON.stringify(reasons),
        new Date(atMs).toISOString(),
      ],
    );
  const explained: Seeded["explained"] = [];
  for (let i = 0; i < n; i++) {
    // Three reasons out of four features, rotating, signs alternating, sizes by tenant.
    const reasons = [0, 1, 2]
      .map((k) => ({
        feature: FEATURES[(i + k) % FEATURES.length]!,
        contribution: scale * (k % 2 === 0 ? 1 : -1) * (0.9 - 0.2 * k + 0.01 * i),
      }))
      .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    const version = i % 3 === 0 ? "2" : "1";
    const score = Math.round((0.1 + 0.8 * (i / n)) * 1e4) / 1e4;
    // Two predictions share each scoring time: the id breaks the tie in the cursor.
    await insert(
      `${tenant}-p${String(i).padStart(2, "0")}`,
      version,
      score,
      NOW - (n - Math.floor(i / 2)) * 60_000,
      reasons,
    );
    explained.push({ id: `${tenant}-p${String(i).padStart(2, "0")}`, version, score, reasons });
  }
  await insert(`${tenant}-plain`, "1", 0.5, NOW - 5 * 60_000, null);
  await insert(`${tenant}-old`, "1", 0.5, NOW - 7 * 24 * HOUR, [
    { feature: "old", contribution: 9 },
  ]);
  // Newest first, ties by id descending (the route's order).
  explained.reverse();
  return { tenant, read, explained } satisfies Seeded;
}

/** The summary computed over the seeded rows, independently of the SQL. */
function expectedSummary(rows: Seeded["explained"]) {
  const by = new Map<string, number[]>();
  for (const r of rows)
    for (const x of r.reasons) by.set(x.feature, [...(by.get(x.feature) ?? []), x.contribution]);
  return [...by.entries()]
    .map(([feature, cs]) => ({
      feature,
      meanAbsContribution: cs.reduce((s, c) => s + Math.abs(c), 0) / cs.length,
      meanContribution: cs.reduce((s, c) => s + c, 0) / cs.length,
      count: cs.length,
    }))
    .sort((a, b) => b.meanAbsContribution - a.meanAbsContribution);
}

describe("GET /v1/models/{name}/explanations", () => {
  const app = testApp();
  let acme: Seeded;
  let globex: Seeded;
  let silent: { tenant: string; read: string };

  const get = async (path: string, key: string | undefined) => {
    const res = await app.fetch(path, key === undefined ? {} : { key });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & ErrorJson };
  };
  const pages = async (path: string, key: string) => {
    const ids: string[] = [];
    let cursor: string | undefined;
    let count = 0;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const { status, body } = await get(
        `${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ""}`,
        key,
      );
      expect(status).toBe(200);
      const page = ExplanationsPageSchema.parse(body);
      ids.push(...page.data.map((d) => d.predictionId));
      cursor = page.nextCursor;
      count++;
    } while (cursor !== undefined && count < 20);
    return { ids, count };
  };

  beforeAll(async () => {
    acme = await seedTenant("acme", "conversion", 9, 1);
    globex = await seedTenant("globex", "conversion", 4, 3);
    // Globex alone has a "lead" model.
    await sql(
      `INSERT INTO model_versions (tenant_id, model_name, version, manifest) VALUES ($1, 'lead', '1', '{}')`,
      [globex.tenant],
    );
    const tenant = uniqueTenant("silent");
    await sql("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
    await sql(
      `INSERT INTO model_versions (tenant_id, model_name, version, manifest) VALUES ($1, 'conversion', '1', '{}')`,
      [tenant],
    );
    await sql(
      `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, features, predicted_at)
       VALUES ($1, 'p1', 'conversion', '1', 0.4, '{}', now() - interval '1 minute')`,
      [tenant],
    );
    silent = { tenant, read: await createKey(tenant, ["read"]) };
  }, 60_000);

  it("lists explained predictions newest first with their reasons, and sums the reasons per feature", async () => {
    const { status, body } = await get("/v1/models/conversion/explanations", acme.read);
    expect(status).toBe(200);
    const page = ExplanationsPageSchema.parse(body);
    expect(page.data.map((d) => d.predictionId)).toEqual(acme.explained.map((e) => e.id));
    expect(page.data[0]).toMatchObject({
      version: acme.explained[0]!.version,
      score: acme.explained[0]!.score,
      reasons: acme.explained[0]!.reasons,
    });
    const want = expectedSummary(acme.explained);
    expect(page.summary.explained).toBe(acme.explained.length);
    expect(page.summary.summarized).toBe(acme.explained.length);
    expect(page.summary.features.map((f) => f.feature)).toEqual(want.map((f) => f.feature));
    for (const [i, f] of page.summary.features.entries()) {
      expect(f.count).toBe(want[i]!.count);
      expect(f.meanAbsContribution).toBeCloseTo(want[i]!.meanAbsContribution, 12);
      expect(f.meanContribution).toBeCloseTo(want[i]!.meanContribution, 12);
    }
  });

  it("pages with the cursor through ties in scoring time, each row once, the summary on every page", async () => {
    const { ids, count } = await pages("/v1/models/conversion/explanations?limit=2", acme.read);
    expect(ids).toEqual(acme.explained.map((e) => e.id));
    expect(count).toBe(Math.ceil(acme.explained.length / 2));
    const version = await get("/v1/models/conversion/explanations?version=2", acme.read);
    const only2 = acme.explained.filter((e) => e.version === "2");
    expect((version.body.data as { predictionId: string }[]).map((d) => d.predictionId)).toEqual(
      only2.map((e) => e.id),
    );
    expect((version.body.summary as { explained: number }).explained).toBe(only2.length);
  });

  it("keeps tenants apart: each key sees its own predictions only, for the same model name", async () => {
    const tenants = { acme, globex } as const;
    for (const [callerName, caller] of Object.entries(tenants)) {
      for (const [ownerName, owner] of Object.entries(tenants)) {
        const { ids } = await pages("/v1/models/conversion/explanations?limit=3", caller.read);
        const seen = new Set(ids);
        const ownerIds = owner.explained.map((e) => e.id);
        if (callerName === ownerName) expect(ownerIds.every((id) => seen.has(id))).toBe(true);
        else expect(ownerIds.some((id) => seen.has(id))).toBe(false);
      }
    }
    // The summary counts the caller's rows only (acme's and globex's differ in size and count).
    const g = await get("/v1/models/conversion/explanations", globex.read);
    expect((g.body.summary as { explained: number }).explained).toBe(globex.explained.length);
    // A model only the other tenant has is not found, with the same answer as any unknown name.
    expect((await get("/v1/models/lead/explanations", acme.read)).status).toBe(404);
    expect((await get("/v1/models/nothing-here/explanations", acme.read)).status).toBe(404);
    expect((await get("/v1/models/lead/explanations", globex.read)).status).toBe(200);
  });

  it("averages the features over the range's newest 2000 explained predictions, counting them all", async () => {
    const tenant = uniqueTenant("busy");
    await sql("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
    // 2005 explained predictions a second apart; only the 5 oldest name "oldest_only".
    await sql(
      `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, score, features,
         reasons, predicted_at)
       SELECT $1, 'b' || lpad(i::text, 5, '0'), 'conversion', '1', 0.5, '{}',
         CASE WHEN i <= 5 THEN '[{"feature": "oldest_only", "contribution": 5}]'::jsonb
              ELSE jsonb_build_array(jsonb_build_object('feature', 'f', 'contribution', i % 7 - 3)) END,
         now() - interval '1 hour' + i * interval '1 second'
       FROM generate_series(1, 2005) i`,
      [tenant],
    );
    const { body } = await get(
      "/v1/models/conversion/explanations?limit=1",
      await createKey(tenant, ["read"]),
    );
    const page = ExplanationsPageSchema.parse(body);
    expect(page.summary.explained).toBe(2005);
    expect(page.summary.summarized).toBe(2000);
    expect(page.summary.features.map((f) => [f.feature, f.count])).toEqual([["f", 2000]]);
    // i = 6 … 2005: contributions i % 7 − 3, their mean |c| computed here.
    let abs = 0;
    for (let i = 6; i <= 2005; i++) abs += Math.abs((i % 7) - 3);
    expect(page.summary.features[0]!.meanAbsContribution).toBeCloseTo(abs / 2000, 12);
  });

  it("answers an empty page and explained: 0 when no reasons are logged", async () => {
    const { status, body } = await get("/v1/models/conversion/explanations", silent.read);
    expect(status).toBe(200);
    expect(ExplanationsPageSchema.parse(body)).toEqual({
      data: [],
      summary: { explained: 0, summarized: 0, features: [] },
    });
  });

  it("refuses bad parameters and missing roles with the standard body", async () => {
    const score = await createKey(acme.tenant, ["score"]);
    expect((await get("/v1/models/conversion/explanations", undefined)).status).toBe(401);
    expect((await get("/v1/models/conversion/explanations", score)).status).toBe(403);
    for (const q of [
      "limit=0",
      "cursor=%%%",
      "from=yesterday",
      `from=${new Date(NOW - 40 * 24 * HOUR).toISOString()}`,
    ]) {
      const { status, body } = await get(`/v1/models/conversion/explanations?${q}`, acme.read);
      expect(status, q).toBe(400);
      expect(body.error.code).toBe("VALIDATION");
    }
  });
});
