/**
 * `POST /v1/privacy/erasures` inside workerd against real Postgres (the test schema, through the
 * relay), real Redis for keys and Miniflare's R2 for parked dead letters: a tenant erases only its
 * own person's rows and records, with exact counts, audited without the identifiers.
 */
import { describe, expect, it } from "vitest";
import { apiKeyRedisKey, generateApiKey } from "#core/api-keys";
import { sha256Hex } from "#core/events";
import { sql } from "./read-db";
import { rawEnv, redis, testApp, uniqueTenant } from "./support";

async function adminKey(tenant: string): Promise<string> {
  const { key, record } = await generateApiKey({ tenant, roles: ["admin"], origins: [] });
  await redis().set(apiKeyRedisKey(record.keyHash), record);
  return key;
}

interface Report {
  identifiers: string[];
  tables: Record<string, number>;
  parkedDeadLetters: { records: number; bundlesRewritten: number; bundlesDeleted: number } | null;
}

describe("erasing one person", () => {
  const app = testApp();
  const entityKey = (tenant: string, id: string) => app.services.entityIds.key(tenant, id);

  async function seed(tenant: string): Promise<void> {
    const jane = await entityKey(tenant, "cust-42");
    const other = await entityKey(tenant, "cust-7");
    await sql(
      `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, entity_id, click_id, score, predicted_at)
       VALUES ($1, 'p1', 'm', '1', $2, 'c1', 0.1, now()), ($1, 'p2', 'm', '1', $2, NULL, 0.2, now()),
              ($1, 'p3', 'm', '1', $3, NULL, 0.3, now())`,
      [tenant, jane, other],
    );
    await sql(
      `INSERT INTO conversion_keys (tenant_id, key_kind, key, event_name, event_id, event_time)
       VALUES ($1, 'prediction', 'p2', 'Purchase', 'o1', now()), ($1, 'click', 'c1', 'Purchase', 'o2', now()),
              ($1, 'prediction', 'p3', 'Purchase', 'o3', now())`,
      [tenant],
    );
    await sql(
      "INSERT INTO click_id_predictions (tenant_id, prediction_id, click_id) VALUES ($1, 'p1', 'c1')",
      [tenant],
    );
  }

  const predictionsOf = async (tenant: string) =>
    (
      await sql("SELECT prediction_id FROM predictions WHERE tenant_id = $1 ORDER BY 1", [tenant])
    ).map((r) => r.prediction_id);

  it("erases the caller's tenant only, counts exactly, scrubs parked records, audits no identifier", async () => {
    const a = uniqueTenant("erase-a");
    const b = uniqueTenant("erase-b");
    await seed(a);
    await seed(b);
    const em = sha256Hex("jane@example.com");
    const parkedKey = `parked/ingest/2026-11-22/${crypto.randomUUID()}-12.json`;
    const bucket = rawEnv.DEAD_LETTERS as R2Bucket;
    const event = (tenant: string, id: string) => ({
      topic: "capi",
      key: `${tenant}:${id}`,
      value: { tenant, event: { user_data: { em: [em] } } },
    });
    await bucket.put(
      parkedKey,
      JSON.stringify({ bundle: 1, attempts: 12, records: [event(a, "e1"), event(b, "e2")] }),
    );
    const body = { email: "Jane@Example.com", externalId: "cust-42" };

    // B erases its Jane: A's rows and A's parked record stay.
    const byB = await app.fetch("/v1/privacy/erasures", { key: await adminKey(b), json: body });
    expect(byB.status).toBe(200);
    expect(((await byB.json()) as Report).tables).toEqual({
      predictions: 2,
      click_id_predictions: 1,
      conversion_keys: 2,
    });
    expect(await predictionsOf(a)).toEqual(["p1", "p2", "p3"]);
    expect(await predictionsOf(b)).toEqual(["p3"]);
    const afterB = await bucket.get(parkedKey);
    expect(JSON.parse(await afterB!.text()).records.map((r: { key: string }) => r.key)).toEqual([
      `${a}:e1`,
    ]);

    const adminA = await adminKey(a);
    const res = await app.fetch("/v1/privacy/erasures", { key: adminA, json: body });
    expect(res.status).toBe(200);
    const report = (await res.json()) as Report;
    expect(report.identifiers).toEqual(["email", "externalId"]);
    expect(report.tables).toEqual({ predictions: 2, click_id_predictions: 1, conversion_keys: 2 });
    expect(await predictionsOf(a)).toEqual(["p3"]);
    expect(
      (await sql("SELECT key FROM conversion_keys WHERE tenant_id = $1", [a])).map((r) => r.key),
    ).toEqual(["p3"]);
    // A's record was the last one left: the emptied bundle is deleted.
    expect(report.parkedDeadLetters).toMatchObject({ records: 1, bundlesDeleted: 1 });
    expect(await bucket.get(parkedKey)).toBeNull();

    const entries = await sql(
      "SELECT action, target, after_state FROM audit_log WHERE tenant_id = $1",
      [a],
    );
    expect(entries).toEqual([
      {
        action: "person.erase",
        target: "person",
        after_state: { identifiers: ["email", "externalId"] },
      },
    ]);
    const text = JSON.stringify(entries).toLowerCase();
    for (const v of ["jane", "cust-42", em]) expect(text).not.toContain(v);

    const again = await app.fetch("/v1/privacy/erasures", { key: adminA, json: body });
    expect(((await again.json()) as Report).tables).toEqual({
      predictions: 0,
      click_id_predictions: 0,
      conversion_keys: 0,
    });
  });
});
